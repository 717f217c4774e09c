import assert from "node:assert/strict";
import { query, request, serviceWithNoItems } from "./helpers";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

describe("items API", function () {
    const fixture = serviceWithNoItems();
    const count = () => fixture.countItems();
    const create = async (body: unknown) => request(fixture.service.base, "POST", "/api/v1/items", body);

    describe("success paths", function () {
        it("creates an item and returns it with its id, Location and timestamps", async function () {
            const before = Date.now();
            const res = await create({ name: "first", description: "a thing" });
            assert.equal(res.status, 201);
            assert.match(res.body.id, UUID);
            assert.equal(res.body.name, "first");
            assert.equal(res.body.description, "a thing");
            assert.match(res.body.created_at, TIMESTAMP);
            assert.equal(res.body.created_at, res.body.updated_at);
            assert.ok(Math.abs(Date.parse(res.body.created_at) - before) < 60_000);
            assert.equal(res.headers.get("location"), `/api/v1/items/${res.body.id}`);
            const rows = await query(fixture.databaseUrl, "SELECT name, description FROM items WHERE id = $1", [res.body.id]);
            assert.deepEqual(rows, [{ name: "first", description: "a thing" }]);
        });

        it("defaults the description to null", async function () {
            const res = await create({ name: "plain" });
            assert.equal(res.status, 201);
            assert.equal(res.body.description, null);
        });

        it("gets an item by id", async function () {
            const created = (await create({ name: "get me", description: null })).body;
            const res = await request(fixture.service.base, "GET", `/api/v1/items/${created.id}`);
            assert.equal(res.status, 200);
            assert.deepEqual(res.body, created);
        });

        it("updates the name only, the description only, and sets updated_at", async function () {
            const created = (await create({ name: "old", description: "keep" })).body;
            const renamed = await request(fixture.service.base, "PATCH", `/api/v1/items/${created.id}`, { name: "new" });
            assert.equal(renamed.status, 200);
            assert.equal(renamed.body.name, "new");
            assert.equal(renamed.body.description, "keep");
            assert.equal(renamed.body.created_at, created.created_at);
            assert.ok(renamed.body.updated_at > created.updated_at);
            const cleared = await request(fixture.service.base, "PATCH", `/api/v1/items/${created.id}`, { description: null });
            assert.equal(cleared.status, 200);
            assert.equal(cleared.body.name, "new");
            assert.equal(cleared.body.description, null);
            const stored = await query(fixture.databaseUrl, "SELECT name, description FROM items WHERE id = $1", [created.id]);
            assert.deepEqual(stored, [{ name: "new", description: null }]);
        });

        it("deletes an item, then reports it gone", async function () {
            const created = (await create({ name: "short-lived" })).body;
            const res = await request(fixture.service.base, "DELETE", `/api/v1/items/${created.id}`);
            assert.equal(res.status, 204);
            assert.equal(res.body, "");
            assert.equal(await count(), 0);
            assert.equal((await request(fixture.service.base, "GET", `/api/v1/items/${created.id}`)).status, 404);
            assert.equal((await request(fixture.service.base, "DELETE", `/api/v1/items/${created.id}`)).status, 404);
        });

        it("lists every item exactly once across cursor pages, oldest first", async function () {
            const names: string[] = [];
            for (let i = 0; i < 7; i++) {
                names.push(`item-${i}`);
                assert.equal((await create({ name: `item-${i}` })).status, 201);
            }
            const seen: string[] = [];
            let cursor: string | null = null;
            let pages = 0;
            do {
                const suffix: string = cursor === null ? "" : `&cursor=${cursor}`;
                const res = await request(fixture.service.base, "GET", `/api/v1/items?limit=3${suffix}`);
                assert.equal(res.status, 200);
                assert.ok(res.body.items.length <= 3);
                seen.push(...res.body.items.map((item: { name: string }) => item.name));
                cursor = res.body.next_cursor;
                pages++;
            } while (cursor !== null);
            assert.equal(pages, 3);
            assert.deepEqual(seen, names);
        });

        it("lists with the default page size and an empty table", async function () {
            const res = await request(fixture.service.base, "GET", "/api/v1/items");
            assert.equal(res.status, 200);
            assert.deepEqual(res.body, { items: [], next_cursor: null });
        });

        it("serves liveness, readiness, metrics and the OpenAPI document", async function () {
            const livez = await request(fixture.service.base, "GET", "/livez");
            assert.deepEqual([livez.status, livez.body], [200, { status: "ok" }]);
            const readyz = await request(fixture.service.base, "GET", "/readyz");
            assert.deepEqual([readyz.status, readyz.body], [200, { status: "ready", schemaVersion: 1 }]);
            const metrics = await request(fixture.service.base, "GET", "/metrics");
            assert.equal(metrics.status, 200);
            assert.match(metrics.body, /http_request_duration_seconds_bucket\{[^}]*route="\/readyz"/);
            assert.match(metrics.body, /db_pool_connections\{state="total"\} \d+/);
            assert.match(metrics.body, /app_schema_ready 1/);
            const openapi = await request(fixture.service.base, "GET", "/openapi.json");
            assert.equal(openapi.status, 200);
            assert.equal(openapi.body.openapi, "3.0.3");
            assert.deepEqual(Object.keys(openapi.body.paths).sort(), ["/api/v1/items", "/api/v1/items/{id}", "/livez", "/readyz"]);
            assert.deepEqual(Object.keys(openapi.body.paths["/api/v1/items/{id}"]).sort(), ["delete", "get", "patch"]);
        });

        it("answers readyz 503 from the moment shutdown begins", async function () {
            fixture.service.state.shuttingDown = true;
            try {
                const readyz = await request(fixture.service.base, "GET", "/readyz");
                assert.deepEqual([readyz.status, readyz.body], [503, { error: "Service Unavailable", message: "shutting down" }]);
                assert.equal(readyz.headers.get("connection"), "close");
                assert.equal((await request(fixture.service.base, "GET", "/livez")).status, 200);
            } finally {
                fixture.service.state.shuttingDown = false;
            }
        });

        it("echoes a caller request id, or makes one", async function () {
            const given = await request(fixture.service.base, "GET", "/livez", undefined, { "x-request-id": "abc-123" });
            assert.equal(given.headers.get("x-request-id"), "abc-123");
            const made = await request(fixture.service.base, "GET", "/livez", undefined, { "x-request-id": "bad id with spaces" });
            assert.match(made.headers.get("x-request-id") ?? "", UUID);
        });
    });

    describe("bad input is a 4xx JSON error and writes nothing", function () {
        const cases: Array<{ what: string; body: unknown; status: number; contentType?: string; message?: RegExp }> = [
            { what: "malformed JSON", body: '{"name": "x"', status: 400, message: /JSON/ },
            { what: "an empty body", body: "", status: 400 },
            { what: "a JSON array", body: [], status: 400 },
            { what: "a number for the name", body: { name: 42 }, status: 400, message: /name must be string/ },
            { what: "a boolean for the description", body: { name: "x", description: true }, status: 400 },
            { what: "a missing name", body: { description: "no name" }, status: 400, message: /required property 'name'/ },
            { what: "an unknown field", body: { name: "x", color: "red" }, status: 400, message: /additional properties/ },
            { what: "an id in the body", body: { name: "x", id: "00000000-0000-0000-0000-000000000000" }, status: 400 },
            { what: "an empty name", body: { name: "" }, status: 400 },
            { what: "a blank name", body: { name: "   " }, status: 400 },
            { what: "a name of 201 characters", body: { name: "n".repeat(201) }, status: 400, message: /200 characters/ },
            { what: "a description of 2001 characters", body: { name: "x", description: "d".repeat(2001) }, status: 400 },
            { what: "a NUL character", body: { name: "nul\u0000here" }, status: 400 },
            { what: "a body over 32 KiB", body: { name: "x", description: "d".repeat(33 * 1024) }, status: 413 },
            { what: "a prototype-poisoning key", body: '{"name":"x","__proto__":{"admin":true}}', status: 400 },
            {
                what: "a non-JSON content type",
                body: "name=x",
                status: 415,
                contentType: "application/x-www-form-urlencoded",
            },
        ];
        for (const { what, body, status, contentType, message } of cases) {
            it(`rejects ${what} with ${status}`, async function () {
                const headers: Record<string, string> = contentType === undefined ? {} : { "content-type": contentType };
                const res = await request(fixture.service.base, "POST", "/api/v1/items", body, headers);
                assert.equal(res.status, status, JSON.stringify(res.body));
                assert.equal(typeof res.body.error, "string");
                assert.equal(typeof res.body.message, "string");
                if (message !== undefined) assert.match(res.body.message, message);
                assert.equal(await count(), 0);
            });
        }

        it("rejects bad updates without changing the row", async function () {
            const created = (await create({ name: "stable", description: "same" })).body;
            for (const body of [{}, { name: null }, { name: 7 }, { extra: 1 }, { name: "x".repeat(201) }, "{bad json"]) {
                const res = await request(fixture.service.base, "PATCH", `/api/v1/items/${created.id}`, body);
                assert.equal(res.status, 400, `${JSON.stringify(body)} -> ${JSON.stringify(res.body)}`);
                assert.deepEqual(Object.keys(res.body).sort(), ["error", "message"]);
            }
            const rows = await query(fixture.databaseUrl, "SELECT name, description, updated_at FROM items");
            assert.equal(rows.length, 1);
            assert.equal(rows[0].name, "stable");
            assert.equal(rows[0].description, "same");
        });

        it("answers 400 for ids that are not UUIDs and 404 for unknown ones", async function () {
            for (const id of ["123", "not-a-uuid", "1'%20OR%20'1'='1", "00000000-0000-0000-0000-00000000000g"]) {
                for (const method of ["GET", "PATCH", "DELETE"]) {
                    const res = await request(
                        fixture.service.base,
                        method,
                        `/api/v1/items/${id}`,
                        method === "PATCH" ? { name: "x" } : undefined,
                    );
                    assert.equal(res.status, 400, `${method} ${id}`);
                    assert.match(res.body.message, /params\/id must match format "uuid"/);
                }
            }
            const unknown = "6f1c2a9e-0000-4000-8000-000000000000";
            for (const method of ["GET", "PATCH", "DELETE"]) {
                const res = await request(
                    fixture.service.base,
                    method,
                    `/api/v1/items/${unknown}`,
                    method === "PATCH" ? { name: "x" } : undefined,
                );
                assert.equal(res.status, 404, method);
                assert.deepEqual(res.body, { error: "Not Found", message: `item ${unknown} does not exist` });
            }
        });

        it("answers 400 for bad list parameters", async function () {
            for (const qs of ["limit=0", "limit=101", "limit=abc", "limit=1.5", "cursor=%25%25", "cursor=bm90LWEtY3Vyc29y", "sort=name"]) {
                const res = await request(fixture.service.base, "GET", `/api/v1/items?${qs}`);
                assert.equal(res.status, 400, qs);
                assert.equal(res.body.error, "Bad Request");
            }
        });

        it("answers unknown routes with a 404 JSON error", async function () {
            const res = await request(fixture.service.base, "GET", "/api/v1/nothing?x=1");
            assert.deepEqual([res.status, res.body], [404, { error: "Not Found", message: "no route for GET /api/v1/nothing" }]);
        });
    });

    describe("hostile but valid values are stored verbatim", function () {
        const values = [
            "Robert'); DROP TABLE items;--",
            '" OR 1=1 --',
            "%_\\ $1 ::text /* */",
            "名前 with émojis 🙂🚀 and \t tabs",
            "x".repeat(200),
            "🙂".repeat(200),
        ];
        for (const name of values) {
            it(`round-trips ${JSON.stringify(name.slice(0, 30))}${name.length > 30 ? "..." : ""}`, async function () {
                const res = await create({ name, description: name });
                assert.equal(res.status, 201, JSON.stringify(res.body));
                assert.equal(res.body.name, name);
                const fetched = await request(fixture.service.base, "GET", `/api/v1/items/${res.body.id}`);
                assert.equal(fetched.body.name, name);
                const rows = await query(fixture.databaseUrl, "SELECT name, description FROM items");
                assert.deepEqual(rows, [{ name, description: name }]);
            });
        }
    });

    describe("concurrency", function () {
        it("keeps all 50 concurrent creates, each once", async function () {
            const names = Array.from({ length: 50 }, (_, i) => `concurrent-${i}`);
            const responses = await Promise.all(names.map((name) => create({ name })));
            assert.deepEqual(
                responses.map((res) => res.status),
                names.map(() => 201),
            );
            const ids = new Set(responses.map((res) => res.body.id));
            assert.equal(ids.size, 50);
            const rows = await query<{ id: string; name: string }>(fixture.databaseUrl, "SELECT id, name FROM items ORDER BY name");
            assert.equal(rows.length, 50);
            assert.deepEqual(rows.map((row) => row.name).sort(), [...names].sort());
            assert.deepEqual(new Set(rows.map((row) => row.id)), ids);

            // Rows created in the same instant still page without gaps or repeats.
            const listed: string[] = [];
            let cursor: string | null = null;
            do {
                const suffix: string = cursor === null ? "" : `&cursor=${cursor}`;
                const page = await request(fixture.service.base, "GET", `/api/v1/items?limit=7${suffix}`);
                listed.push(...page.body.items.map((item: { id: string }) => item.id));
                cursor = page.body.next_cursor;
            } while (cursor !== null);
            assert.equal(listed.length, 50);
            assert.deepEqual(new Set(listed), ids);
        });
    });
});
