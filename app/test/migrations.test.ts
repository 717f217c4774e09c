import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { loadMigrations, migrate, MIGRATIONS_DIR } from "../src/migrate";
import { MIGRATION_LOCK_KEY } from "../src/schema-migrations";
import { createDatabase, query, request, silentLogger, spawnServer, waitFor } from "./helpers";

async function appliedVersions(databaseUrl: string): Promise<number[]> {
    return (await query<{ version: number }>(databaseUrl, "SELECT version FROM schema_migrations ORDER BY version")).map(
        (row) => row.version,
    );
}

describe("migrations", function () {
    const tempDirs: string[] = [];
    const tempDir = () => {
        const dir = mkdtempSync(path.join(os.tmpdir(), "api-migrations-"));
        tempDirs.push(dir);
        return dir;
    };
    after(function () {
        for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
    });

    it("apply once, then find nothing to do", async function () {
        const databaseUrl = await createDatabase();
        const first = await migrate(databaseUrl, silentLogger);
        assert.deepEqual(first, { applied: [1], version: 1 });
        const second = await migrate(databaseUrl, silentLogger);
        assert.deepEqual(second, { applied: [], version: 1 });
        assert.deepEqual(await appliedVersions(databaseUrl), [1]);
        const columns = await query<{ column_name: string }>(
            databaseUrl,
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'items' ORDER BY ordinal_position",
        );
        assert.deepEqual(
            columns.map((c) => c.column_name),
            ["id", "name", "description", "created_at", "updated_at"],
        );
    });

    it("apply exactly once when ten run at the same time", async function () {
        const databaseUrl = await createDatabase();
        const results = await Promise.all(Array.from({ length: 10 }, () => migrate(databaseUrl, silentLogger)));
        assert.equal(results.filter((r) => r.applied.length > 0).length, 1);
        assert.ok(results.every((r) => r.version === 1));
        assert.deepEqual(await appliedVersions(databaseUrl), [1]);
    });

    it("refuse a migration that was edited after it was applied", async function () {
        const databaseUrl = await createDatabase();
        await migrate(databaseUrl, silentLogger);
        const dir = tempDir();
        const original = readFileSync(path.join(MIGRATIONS_DIR, "0001_create_items.sql"), "utf8");
        writeFileSync(path.join(dir, "0001_create_items.sql"), `${original}\n-- edited\n`);
        await assert.rejects(migrate(databaseUrl, silentLogger, loadMigrations(dir)), /was changed after it was applied/);
    });

    it("roll back a failing migration whole, and apply the next release on top", async function () {
        const databaseUrl = await createDatabase();
        const dir = tempDir();
        writeFileSync(path.join(dir, "0001_create_items.sql"), readFileSync(path.join(MIGRATIONS_DIR, "0001_create_items.sql")));
        writeFileSync(path.join(dir, "0002_broken.sql"), "CREATE TABLE half_done (id int);\nSELECT no_such_function();\n");
        await assert.rejects(migrate(databaseUrl, silentLogger, loadMigrations(dir)), /no_such_function/);
        assert.deepEqual(await appliedVersions(databaseUrl), [1]);
        assert.deepEqual(await query(databaseUrl, "SELECT to_regclass('half_done') AS t"), [{ t: null }]);
        writeFileSync(path.join(dir, "0002_broken.sql"), "CREATE TABLE half_done (id int);\n");
        assert.deepEqual(await migrate(databaseUrl, silentLogger, loadMigrations(dir)), { applied: [2], version: 2 });
    });

    it("reject files with gaps in their versions", function () {
        const dir = tempDir();
        writeFileSync(path.join(dir, "0001_a.sql"), "SELECT 1;");
        writeFileSync(path.join(dir, "0003_c.sql"), "SELECT 1;");
        assert.throws(() => loadMigrations(dir), /without gaps/);
    });

    it("two server processes starting together: both wait for the lock, one migrates, both become ready", async function () {
        this.timeout(60_000);
        const databaseUrl = await createDatabase();
        // Hold the lock ourselves so both instances are certainly waiting at the same moment.
        const holder = new pg.Client({ connectionString: databaseUrl });
        await holder.connect();
        await holder.query("SELECT pg_advisory_lock($1::bigint)", [MIGRATION_LOCK_KEY]);
        const servers = await Promise.all([
            spawnServer({ DATABASE_URL: databaseUrl }, { waitFor: "livez" }),
            spawnServer({ DATABASE_URL: databaseUrl }, { waitFor: "livez" }),
        ]);
        try {
            await waitFor(
                async () => servers.every((s) => s.output().includes("waiting for the migration lock")),
                10_000,
                "both instances to wait for the lock",
            );
            await new Promise((resolve) => setTimeout(resolve, 500));
            for (const server of servers) {
                const readyz = await request(server.base, "GET", "/readyz");
                assert.equal(readyz.status, 503);
                assert.match(readyz.body.message, /migrations have not completed/);
                const api = await request(server.base, "GET", "/api/v1/items");
                assert.equal(api.status, 503);
                assert.equal(api.body.error, "Service Unavailable");
                assert.equal(server.child.exitCode, null, "waiting for the lock must not crash the process");
            }
            await holder.query("SELECT pg_advisory_unlock($1::bigint)", [MIGRATION_LOCK_KEY]);
            for (const server of servers) {
                await waitFor(async () => (await fetch(`${server.base}/readyz`)).status === 200, 15_000, `${server.base}/readyz`);
            }
            assert.deepEqual(await appliedVersions(databaseUrl), [1]);
            const appliers = servers.filter((s) => s.output().includes('"msg":"applying migration"'));
            assert.equal(appliers.length, 1, servers.map((s) => s.output()).join("\n---\n"));
            assert.equal((await request(servers[0].base, "POST", "/api/v1/items", { name: "after" })).status, 201);
            assert.equal((await request(servers[1].base, "GET", "/api/v1/items")).body.items.length, 1);
        } finally {
            await holder.end();
            await Promise.all(servers.map((s) => s.stop()));
        }
    });
});
