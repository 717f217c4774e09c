import assert from "node:assert/strict";
import { createDatabase, query, rawRequest, request, startInProcess, type InProcessApp } from "./helpers";

interface Operation {
    readonly requestBody?: unknown;
    readonly responses: Record<string, unknown>;
    readonly parameters?: Array<{ name: string; schema: { pattern?: string } }>;
}
type Paths = Record<string, Record<string, Operation>>;

/** What /openapi.json allows is accepted and what it refuses is refused (issue 14, item 6b). */
describe("the OpenAPI document and the behaviour agree", function () {
    let databaseUrl: string;
    let service: InProcessApp;
    let paths: Paths;

    before(async function () {
        databaseUrl = await createDatabase();
        service = await startInProcess(databaseUrl);
        paths = (await request(service.base, "GET", "/openapi.json")).body.paths as Paths;
    });
    after(async function () {
        await service.close();
    });

    it("lists 413 and 415 on every operation that takes a body, and gives both", async function () {
        const withBody = Object.entries(paths).flatMap(([path, operations]) =>
            Object.entries(operations)
                .filter(([method]) => ["post", "patch", "delete"].includes(method))
                .map(([method, operation]) => ({ path, method, operation })),
        );
        assert.equal(withBody.length, 3);
        for (const { path, method, operation } of withBody) {
            assert.ok("413" in operation.responses && "415" in operation.responses, `${method} ${path}`);
        }
        const item = (await request(service.base, "POST", "/api/v1/items", { name: "x" })).body;
        const tooLarge = await request(service.base, "PATCH", `/api/v1/items/${item.id}`, { name: "x", description: "d".repeat(40_000) });
        assert.equal(tooLarge.status, 413);
        assert.deepEqual(tooLarge.body, { error: "Payload Too Large", message: "the body is larger than 32768 bytes" });
        const notJson = await request(service.base, "PATCH", `/api/v1/items/${item.id}`, "name=y", {
            "content-type": "application/x-www-form-urlencoded",
        });
        assert.equal(notJson.status, 415);
    });

    it("accepts the largest valid body even with every character written as a JSON escape", async function () {
        // JSON.stringify keeps 🙂 literal: write its surrogate pair as escapes, 12 bytes per character.
        const emoji = "\\ud83d\\ude42";
        const body = `{"name":"${emoji.repeat(200)}","description":"${emoji.repeat(2000)}"}`;
        assert.ok(Buffer.byteLength(body) > 26_000, `${Buffer.byteLength(body)} bytes`);
        const res = await request(service.base, "POST", "/api/v1/items", body);
        assert.equal(res.status, 201, JSON.stringify(res.body).slice(0, 200));
        assert.equal(res.body.description, "🙂".repeat(2000));
    });

    it("describes the cursor's form, and any cursor of that form lists the items after that position", async function () {
        const cursorPattern = paths["/api/v1/items"].get.parameters?.find((p) => p.name === "cursor")?.schema.pattern;
        assert.ok(cursorPattern);
        await query(databaseUrl, "DELETE FROM items");
        for (const name of ["first", "second", "third"]) await request(service.base, "POST", "/api/v1/items", { name });
        const page = await request(service.base, "GET", "/api/v1/items?limit=1");
        assert.match(page.body.next_cursor, new RegExp(cursorPattern, "u"));
        const rest = await request(service.base, "GET", `/api/v1/items?cursor=${page.body.next_cursor}`);
        assert.deepEqual(
            rest.body.items.map((item: { name: string }) => item.name),
            ["second", "third"],
        );
        // Made up, not issued: the start of time lists everything, a far future nothing.
        const zero = "0_00000000-0000-0000-0000-000000000000";
        const future = "9999999999999999_ffffffff-ffff-ffff-ffff-ffffffffffff";
        for (const [cursor, expected] of [
            [zero, 3],
            [future, 0],
        ] as const) {
            assert.match(cursor, new RegExp(cursorPattern, "u"));
            const res = await request(service.base, "GET", `/api/v1/items?cursor=${cursor}`);
            assert.equal(res.status, 200, JSON.stringify(res.body));
            assert.equal(res.body.items.length, expected);
        }
        for (const cursor of ["0", "bm90LWEtY3Vyc29y", `01_${zero.slice(2)}`, `10000000000000000_${zero.slice(2)}`]) {
            assert.doesNotMatch(cursor, new RegExp(cursorPattern, "u"));
            const res = await request(service.base, "GET", `/api/v1/items?cursor=${cursor}`);
            assert.equal(res.status, 400, cursor);
            assert.match(res.body.message, /^querystring\/cursor must be the next_cursor of a previous page, of the form/);
        }
    });

    it("states in the schema that NUL is refused in text fields", async function () {
        const body = paths["/api/v1/items"].post.requestBody as {
            content: { "application/json": { schema: { properties: Record<string, { pattern: string; description: string }> } } };
        };
        for (const field of ["name", "description"]) {
            const schema = body.content["application/json"].schema.properties[field];
            assert.match(schema.description, /none of them NUL/);
            assert.doesNotMatch("a\u0000b", new RegExp(schema.pattern, "u"), field);
            const res = await request(service.base, "POST", "/api/v1/items", { name: "x", [field]: "a\u0000b" });
            assert.equal(res.status, 400);
            assert.match(res.body.message, new RegExp(`^body/${field} must be .*none of them NUL`));
        }
    });

    it("answers 405 with Allow to a method a path does not declare, before reading its body", async function () {
        const id = "6f1c2a9e-0000-4000-8000-000000000000";
        for (const [method, path, allow] of [
            ["TRACE", "/livez", "GET, HEAD"],
            ["PUT", "/api/v1/items", "GET, HEAD, POST"],
            ["QUERY", `/api/v1/items/${id}`, "DELETE, GET, HEAD, PATCH"],
            ["OPTIONS", "/readyz", "GET, HEAD"],
            ["POST", "/metrics", "GET, HEAD"],
        ] as const) {
            // A text/plain body would get 415 if it were read: 405 comes first.
            const res = await rawRequest(service.base, method, path, "not json");
            assert.equal(res.status, 405, `${method} ${path}`);
            assert.equal(res.headers.allow, allow);
            assert.deepEqual(res.body, { error: "Method Not Allowed", message: `${method} is not allowed on ${path}: use ${allow}` });
            assert.ok(res.headers["x-request-id"]);
        }
        const metrics = await request(service.base, "GET", "/metrics");
        assert.match(metrics.body, /http_request_duration_seconds_count\{method="TRACE",route="unmatched",status_code="405"\} 1/);
        assert.equal((await request(service.base, "GET", "/api/v1/nothing")).status, 404);
    });
});
