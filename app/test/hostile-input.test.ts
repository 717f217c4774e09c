import assert from "node:assert/strict";
import { createDatabase, query, request, serviceWithNoItems, spawnServer, waitFor } from "./helpers";

const UNKNOWN_ID = "6f1c2a9e-0000-4000-8000-000000000000";

/** The input gaps a hostile test run found (issue 14, item 6): each is refused with a 4xx `{ error, message }`. */
describe("hostile input", function () {
    const fixture = serviceWithNoItems();
    const count = () => fixture.countItems();
    const post = (body: unknown, headers: Record<string, string> = {}) =>
        request(fixture.service.base, "POST", "/api/v1/items", body, headers);

    function assertRefused(res: { status: number; body: unknown }, status: number, message: RegExp): void {
        assert.equal(res.status, status, JSON.stringify(res.body));
        const body = res.body as { error: string; message: string };
        assert.deepEqual(Object.keys(body).sort(), ["error", "message"]);
        assert.match(body.message, message);
    }

    it("answers 415 to a JSON body sent as text/plain or without a content type", async function () {
        assertRefused(await post('{"name":"x"}', { "content-type": "text/plain" }), 415, /must be application\/json, not "text\/plain"/);
        const untyped = await fetch(`${fixture.service.base}/api/v1/items`, {
            method: "POST",
            body: new TextEncoder().encode('{"name":"x"}'),
        });
        assert.equal(untyped.status, 415);
        assert.equal(((await untyped.json()) as { error: string }).error, "Unsupported Media Type");
        assert.equal(await count(), 0);
    });

    it("answers 415 to a charset other than UTF-8, and takes UTF-8 however it is spelled", async function () {
        for (const charset of ["latin1", "iso-8859-1", "utf-16", "us-ascii"]) {
            const res = await post({ name: "x" }, { "content-type": `application/json; charset=${charset}` });
            assertRefused(res, 415, new RegExp(`charset=${charset}: send application/json in UTF-8`));
        }
        assert.equal(await count(), 0);
        for (const contentType of [
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            'application/json; charset="utf8"',
        ]) {
            assert.equal((await post({ name: "accepted" }, { "content-type": contentType })).status, 201, contentType);
        }
        assert.equal(await count(), 3);
    });

    it("takes only decimal integers as limit", async function () {
        for (const limit of ["Infinity", "-Infinity", "1e400", "0x10", "0b11", "0o7", "1e1", "+5", "%205", "5%20", "1.0", ""]) {
            const res = await request(fixture.service.base, "GET", `/api/v1/items?limit=${limit}`);
            assertRefused(res, 400, /^querystring\/limit must be a decimal integer \(got ".*"\)$/);
        }
        assertRefused(
            await request(fixture.service.base, "GET", "/api/v1/items?limit=-1"),
            400,
            /querystring\/limit must be >= 1 \(got -1\)/,
        );
        for (let i = 0; i < 3; i++) await post({ name: `item-${i}` });
        for (const [limit, expected] of [
            ["2", 2],
            ["02", 2],
            ["100", 3],
        ] as const) {
            const res = await request(fixture.service.base, "GET", `/api/v1/items?limit=${limit}`);
            assert.equal(res.status, 200, limit);
            assert.equal(res.body.items.length, expected, limit);
        }
    });

    it("refuses unpaired surrogates and invalid UTF-8 with 400, and stores a pair written as escapes", async function () {
        assertRefused(await post('{"name":"a\\ud800b"}'), 400, /^body\/name has an unpaired surrogate/);
        assertRefused(await post('{"name":"x","description":"\\udc00"}'), 400, /^body\/description has an unpaired surrogate/);
        const invalidUtf8 = Buffer.concat([Buffer.from('{"name":"a'), Buffer.from([0xff, 0xfe]), Buffer.from('b"}')]);
        assertRefused(await post(invalidUtf8), 400, /not valid UTF-8/);
        // A UTF-8 encoded surrogate (CESU-8) is invalid UTF-8 too.
        assertRefused(
            await post(Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')])),
            400,
            /UTF-8/,
        );
        assert.equal(await count(), 0);
        const pair = await post('{"name":"\\ud83d\\ude42 and \\\\ud800 as text"}');
        assert.equal(pair.status, 201, JSON.stringify(pair.body));
        assert.deepEqual(await query(fixture.databaseUrl, "SELECT name FROM items"), [{ name: "🙂 and \\ud800 as text" }]);
    });

    it("refuses names made only of white space, control or zero-width characters", async function () {
        for (const name of ["\u200b", "\u200b\u200c\u200d\u2060\ufeff", "\u00a0", "\u3000 \u3000", "\u0001", " \t\n", "\u00ad", "\u180e"]) {
            assertRefused(await post({ name }), 400, /^body\/name must be 1 to 200 characters, at least one of them visible/);
        }
        assert.equal(await count(), 0);
        const res = await post({ name: "a\u200bb" });
        assert.equal(res.status, 201);
        assert.equal(res.body.name, "a\u200bb");
    });

    it("says which keys it refuses in a body with __proto__ or constructor.prototype", async function () {
        for (const body of ['{"name":"x","__proto__":{"admin":true}}', '{"name":"x","constructor":{"prototype":{"admin":true}}}']) {
            assertRefused(await post(body), 400, /a "__proto__" key, or a "constructor" key holding "prototype": such keys are refused/);
        }
        assert.equal(await count(), 0);
    });

    it("answers Fastify's own errors as { error, message }: a bad percent-encoding, a path parameter too long", async function () {
        const badEncoding = await request(fixture.service.base, "GET", "/api/v1/items/%ZZ");
        assert.deepEqual(badEncoding.body, { error: "Bad Request", message: "'/api/v1/items/%ZZ' is not a valid url component" });
        assert.ok(badEncoding.headers.get("x-request-id"));
        const longParam = await request(fixture.service.base, "GET", `/api/v1/items/${"a".repeat(200)}`);
        assert.equal(longParam.status, 414);
        assert.deepEqual(Object.keys(longParam.body).sort(), ["error", "message"]);
    });

    it("answers a method Node's HTTP parser does not know with 501 { error, message }", async function () {
        const res = await request(fixture.service.base, "FOO", "/livez");
        assert.equal(res.status, 501);
        assert.deepEqual(res.body, { error: "Not Implemented", message: "the request method FOO is not one this server implements" });
    });

    it("refuses ids in urn:uuid or braced form before they reach PostgreSQL, and takes upper case", async function () {
        for (const id of [`urn:uuid:${UNKNOWN_ID}`, `{${UNKNOWN_ID}}`, UNKNOWN_ID.replace(/-/g, "")]) {
            for (const method of ["GET", "PATCH", "DELETE"]) {
                const res = await request(
                    fixture.service.base,
                    method,
                    `/api/v1/items/${encodeURIComponent(id)}`,
                    method === "PATCH" ? { name: "x" } : undefined,
                );
                assertRefused(res, 400, /^params\/id must match format "uuid"/);
            }
        }
        const upper = await request(fixture.service.base, "GET", `/api/v1/items/${UNKNOWN_ID.toUpperCase()}`);
        assert.equal(upper.status, 404);
    });
});

describe("sslmode=require in DATABASE_URL", function () {
    it("keeps every output line JSON: pg's warning becomes a log line", async function () {
        const url = new URL(await createDatabase());
        url.searchParams.set("sslmode", "require");
        // The test server has no TLS, so the process cannot migrate and stops; what matters is what it printed.
        const server = await spawnServer({ DATABASE_URL: url.toString() }, { waitFor: "nothing" });
        try {
            await waitFor(async () => server.output().includes('"msg":"process warning"'), 15_000, "the warning in the log");
        } finally {
            await server.stop();
        }
        const lines = server.output().trim().split("\n");
        for (const line of lines) assert.doesNotThrow(() => JSON.parse(line) as unknown, `not JSON: ${line}`);
        const warning = lines
            .map((line) => JSON.parse(line) as { level: number; msg: string; warning?: { message: string } })
            .find((entry) => entry.warning);
        assert.ok(warning, server.output());
        assert.equal(warning.level, 40);
        assert.equal(warning.msg, "process warning");
        assert.match(warning.warning?.message ?? "", /SSL modes 'prefer', 'require', and 'verify-ca'/);
        assert.ok(!server.output().includes(url.password), "the password never appears");
    });
});
