import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import net from "node:net";
import { migrate } from "../src/migrate";
import { APP_DIR, createDatabase, query, request, silentLogger, spawnServer, waitFor } from "./helpers";

/** Runs `node dist/migrate-job.js` as the migration Job does, and returns its exit code and output. */
function runMigrationJob(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve) => {
        const child = spawn(process.execPath, ["dist/migrate-job.js"], {
            cwd: APP_DIR,
            env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LOG_LEVEL: "info", ...env },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let output = "";
        child.stdout.on("data", (chunk) => (output += chunk));
        child.stderr.on("data", (chunk) => (output += chunk));
        child.once("exit", (code) => resolve({ code, output }));
    });
}

const tableExists = async (databaseUrl: string, table: string) =>
    (await query<{ t: string | null }>(databaseUrl, "SELECT to_regclass($1) AS t", [table]))[0].t !== null;

describe("MIGRATIONS=check: the cluster's API never migrates, it waits for the migration step", function () {
    it("on an empty database it stays unready and creates nothing, then becomes ready once the schema is migrated", async function () {
        this.timeout(60_000);
        const databaseUrl = await createDatabase();
        const server = await spawnServer({ DATABASE_URL: databaseUrl, MIGRATIONS: "check" }, { waitFor: "livez" });
        try {
            await waitFor(async () => server.output().includes("database schema is behind this release"), 10_000, "the wait message");
            const readyz = await request(server.base, "GET", "/readyz");
            assert.equal(readyz.status, 503);
            assert.match(readyz.body.message, /migrations have not completed/);
            assert.equal(await tableExists(databaseUrl, "schema_migrations"), false, "no DDL from the API");
            assert.equal(await tableExists(databaseUrl, "items"), false);
            await migrate(databaseUrl, silentLogger);
            await waitFor(async () => (await fetch(`${server.base}/readyz`)).status === 200, 20_000, "readyz after the migration");
            assert.equal((await request(server.base, "POST", "/api/v1/items", { name: "after the migration step" })).status, 201);
            assert.ok(!server.output().includes('"msg":"applying migration"'));
        } finally {
            await server.stop();
        }
    });

    it("without MIGRATIONS (compose, local runs) it still migrates itself under the advisory lock", async function () {
        const databaseUrl = await createDatabase();
        const server = await spawnServer({ DATABASE_URL: databaseUrl });
        try {
            assert.ok(server.output().includes('"msg":"applying migration"'));
            assert.equal(await tableExists(databaseUrl, "items"), true);
        } finally {
            await server.stop();
        }
    });
});

describe("the migration Job's entry point (dist/migrate-job.js)", function () {
    it("applies the pending migrations and exits 0; a second run applies nothing and exits 0", async function () {
        const databaseUrl = await createDatabase();
        const first = await runMigrationJob({ DATABASE_URL: databaseUrl });
        assert.equal(first.code, 0, first.output);
        assert.match(first.output, /"applied":\[1\].*"msg":"migrations done"/);
        assert.deepEqual(await query(databaseUrl, "SELECT version FROM schema_migrations"), [{ version: 1 }]);
        const second = await runMigrationJob({ DATABASE_URL: databaseUrl });
        assert.equal(second.code, 0, second.output);
        assert.match(second.output, /"applied":\[\]/);
    });

    it("a failing migration exits 1 at once (the Job fails, pulumi up stops) and never prints the password", async function () {
        const url = new URL(await createDatabase());
        url.pathname = "/no_such_database";
        const result = await runMigrationJob({ DATABASE_URL: url.toString() });
        assert.equal(result.code, 1, result.output);
        assert.match(result.output, /"msg":"migration failed"/);
        assert.match(result.output, /no_such_database/);
        assert.ok(!result.output.includes(url.password), "the password stays out of the log");
    });

    it("a connection that hangs until it times out is retried, as a database not reachable yet (a pod the network policy does not admit yet)", async function () {
        this.timeout(30_000);
        const databaseUrl = new URL(await createDatabase());
        // The first connection is accepted and never answered; later ones reach PostgreSQL.
        const held: net.Socket[] = [];
        const relay = net.createServer((client) => {
            if (held.length === 0) {
                held.push(client);
                return;
            }
            const server = net.connect(Number(databaseUrl.port), databaseUrl.hostname);
            client.pipe(server).pipe(client);
            client.on("error", () => server.destroy());
            server.on("error", () => client.destroy());
        });
        await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
        try {
            const throughRelay = new URL(databaseUrl.toString());
            throughRelay.port = String((relay.address() as net.AddressInfo).port);
            const result = await runMigrationJob({ DATABASE_URL: throughRelay.toString() });
            assert.equal(result.code, 0, result.output);
            assert.match(result.output, /"message":"timeout expired".*"msg":"database unavailable for migrations; retrying"/);
            assert.match(result.output, /"applied":\[1\].*"msg":"migrations done"/);
        } finally {
            held.forEach((socket) => socket.destroy());
            relay.close();
        }
    });

    it("a bad environment exits 2 with the configuration error", async function () {
        const result = await runMigrationJob({});
        assert.equal(result.code, 2);
        assert.match(result.output, /^configuration error: DATABASE_URL is not set/);
    });
});
