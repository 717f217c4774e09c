import assert from "node:assert/strict";
import http from "node:http";
import pg from "pg";
import { pgTest } from "./fixtures";
import { createDatabase, query, request, spawnServer, waitFor, type ServerProcess } from "./helpers";

async function status(base: string, path: string): Promise<number> {
    return (await fetch(`${base}${path}`)).status;
}

describe("faults", function () {
    this.timeout(90_000);

    describe("the database goes away and comes back", function () {
        let databaseUrl: string;
        let server: ServerProcess | undefined;
        before(async function () {
            databaseUrl = await createDatabase();
        });
        afterEach(async function () {
            pgTest("resume");
            await server?.stop();
            server = undefined;
        });

        it("answers 503 while it is down, never crashes, and recovers by itself", async function () {
            server = await spawnServer({ DATABASE_URL: databaseUrl });
            const running = server;
            const created = await request(running.base, "POST", "/api/v1/items", { name: "before the outage" });
            assert.equal(created.status, 201);

            pgTest("pause");
            await waitFor(async () => (await status(running.base, "/readyz")) === 503, 10_000, "readyz 503");
            const readyz = await request(running.base, "GET", "/readyz");
            assert.deepEqual(readyz.body, { error: "Service Unavailable", message: "the database is unreachable" });
            for (const [method, path, body] of [
                ["GET", "/api/v1/items", undefined],
                ["GET", `/api/v1/items/${created.body.id}`, undefined],
                ["POST", "/api/v1/items", { name: "during the outage" }],
            ] as const) {
                const res = await request(running.base, method, path, body);
                assert.equal(res.status, 503, `${method} ${path}: ${JSON.stringify(res.body)}`);
                assert.deepEqual(res.body, {
                    error: "Service Unavailable",
                    message: "the database is unavailable; retry later",
                });
                assert.equal(res.headers.get("retry-after"), "5");
            }
            assert.equal(await status(running.base, "/livez"), 200);
            assert.equal(running.child.exitCode, null);

            pgTest("resume");
            await waitFor(async () => (await status(running.base, "/readyz")) === 200, 20_000, "readyz 200 after restart");
            await waitFor(async () => (await status(running.base, "/api/v1/items")) === 200, 10_000, "API 200 after restart");
            assert.equal((await request(running.base, "POST", "/api/v1/items", { name: "after the outage" })).status, 201);
            const names = (await query<{ name: string }>(databaseUrl, "SELECT name FROM items ORDER BY created_at")).map((r) => r.name);
            assert.deepEqual(names, ["before the outage", "after the outage"]);
            assert.equal(running.child.exitCode, null);
            const password = new URL(databaseUrl).password;
            assert.ok(!running.output().includes(password), "the logs must never contain the database password");
        });

        it("starts while the database is down: live, not ready, then ready once it is up", async function () {
            const freshUrl = await createDatabase();
            pgTest("pause");
            server = await spawnServer({ DATABASE_URL: freshUrl }, { waitFor: "livez" });
            const running = server;
            await new Promise((resolve) => setTimeout(resolve, 1_000));
            assert.equal(await status(running.base, "/readyz"), 503);
            assert.equal(await status(running.base, "/api/v1/items"), 503);
            assert.match(running.output(), /database unavailable for migrations; retrying/);
            pgTest("resume");
            await waitFor(async () => (await status(running.base, "/readyz")) === 200, 20_000, "readyz 200 once the database is up");
            assert.equal(running.child.exitCode, null);
        });
    });

    describe("SIGTERM", function () {
        it("stops taking connections, completes the requests in flight, closes the pool and exits 0", async function () {
            const databaseUrl = await createDatabase();
            const server = await spawnServer({ DATABASE_URL: databaseUrl });
            const existing = (await request(server.base, "POST", "/api/v1/items", { name: "existing" })).body;
            // An exclusive lock taken from another connection makes every query on items wait: requests stay in flight.
            const blocker = new pg.Client({ connectionString: databaseUrl });
            await blocker.connect();
            try {
                await blocker.query("BEGIN");
                await blocker.query("LOCK TABLE items IN ACCESS EXCLUSIVE MODE");
                const writes = Array.from({ length: 8 }, (_, i) =>
                    request(server.base, "POST", "/api/v1/items", { name: `in-flight-${i}` }),
                );
                const reads = Array.from({ length: 4 }, () => request(server.base, "GET", `/api/v1/items/${existing.id}`));
                await waitFor(
                    async () => {
                        // Another connection: inside the blocker's transaction pg_stat_activity would be a frozen snapshot.
                        const rows = await query<{ n: number }>(
                            databaseUrl,
                            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
                        );
                        return rows[0].n >= 10;
                    },
                    5_000,
                    "requests blocked on the table lock",
                );
                server.child.kill("SIGTERM");
                await waitFor(async () => server.output().includes("shutting down"), 2_000, "the shutdown log line");
                await assert.rejects(fetch(`${server.base}/livez`), "a new connection must be refused once shutdown begins");
                assert.equal(server.child.exitCode, null, "the process must wait for its requests");
                await blocker.query("COMMIT");

                const results = await Promise.all([...writes, ...reads]);
                assert.deepEqual(
                    results.map((r) => r.status),
                    [...writes.map(() => 201), ...reads.map(() => 200)],
                );
                const started = Date.now();
                assert.equal(await server.exited, 0, server.output());
                assert.ok(Date.now() - started < 20_000);
                assert.match(server.output(), /shutdown complete/);
            } finally {
                await blocker.end();
                await server.stop();
            }
            const rows = await query<{ n: number }>(databaseUrl, "SELECT count(*)::int AS n FROM items WHERE name LIKE 'in-flight-%'");
            assert.equal(rows[0].n, 8);
        });

        it("a request on a kept-alive connection right after SIGTERM is served with Connection: close, not reset", async function () {
            const server = await spawnServer({ DATABASE_URL: await createDatabase() });
            // One socket, kept alive: the second request goes on the connection the first one left idle.
            const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
            const get = () =>
                new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
                    http.get(`${server.base}/livez`, { agent }, (res) => {
                        res.resume();
                        res.on("end", () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
                    }).on("error", reject);
                });
            try {
                assert.deepEqual(await get(), { status: 200, connection: "keep-alive" });
                server.child.kill("SIGTERM");
                await waitFor(async () => server.output().includes("shutting down"), 2_000, "the shutdown log line");
                await new Promise((resolve) => setTimeout(resolve, 200));
                assert.deepEqual(await get(), { status: 200, connection: "close" });
                assert.equal(await server.exited, 0, server.output());
            } finally {
                agent.destroy();
                await server.stop();
            }
        });
    });
});
