import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { SCHEMA_MIGRATIONS_SQL } from "../../app/src/schema-migrations";
import { apiRoles, rolesSql } from "../../components/database-roles";

/**
 * The roles Job's SQL (components/database-roles.ts) against a real PostgreSQL: a private server from
 * scripts/pg-test.sh on a free loopback port, driven with psql as the Job drives it. The owner here is
 * the server's superuser, as the image's POSTGRES_USER is in the cluster.
 */

const projectRoot = path.resolve(__dirname, "..", "..");
const pgTestEnv = { ...process.env, PG_TEST_STATE: path.join(projectRoot, ".pg-test", "roles-sql") };
const pgTest = (command: string) =>
    execFileSync("bash", [path.join(projectRoot, "scripts", "pg-test.sh"), command], { env: pgTestEnv, encoding: "utf8" }).trim();

/** Runs a psql script; `verbose` errors carry their SQLSTATE. */
function psql(url: string, sql: string, env: Record<string, string> = {}) {
    const result = spawnSync("psql", ["--no-psqlrc", "--quiet", "--tuples-only", "--no-align", "--dbname", url, "--file=-"], {
        input: `\\set ON_ERROR_STOP on\n\\set VERBOSITY verbose\n${sql}`,
        env: { PATH: process.env.PATH, ...env },
        encoding: "utf8",
        timeout: 30_000,
    });
    return { status: result.status, stdout: result.stdout.trim(), stderr: result.stderr };
}

/** What the migration Job runs, as the owner: the bookkeeping table, the first migration and its record. */
const migrationSql = [
    SCHEMA_MIGRATIONS_SQL,
    fs.readFileSync(path.join(projectRoot, "app", "migrations", "0001_create_items.sql"), "utf8"),
    "INSERT INTO schema_migrations VALUES (1, 'create_items', 'x');",
].join("\n");

describe("the roles SQL on a real PostgreSQL", function () {
    this.timeout(120_000);
    const group = `api_${crypto.randomBytes(3).toString("hex")}`;
    const roles = apiRoles(group);
    const database = `roles_${crypto.randomBytes(4).toString("hex")}`;
    const passwords = ["Rotation0Password", "Rotation1Password", "Rotation2Password"];
    let owner: URL;
    const login = (role: string, password: string, db = database) => {
        const url = new URL(owner.toString());
        url.username = role;
        url.password = password;
        url.pathname = `/${db}`;
        return url.toString();
    };
    const rotate = (rotation: number, graceMinutes: number, password?: string) =>
        psql(
            owner.toString(),
            rolesSql({ roles, databaseName: database, owner: owner.username, rotation, graceMinutes }),
            password === undefined ? {} : { LOGIN_PASSWORD: password },
        );

    before(function () {
        if (spawnSync("psql", ["--version"]).status !== 0) {
            this.skip();
        }
        const admin = new URL(pgTest("start"));
        assert.strictEqual(psql(admin.toString(), `CREATE DATABASE ${database};`).status, 0);
        owner = new URL(admin.toString());
        owner.pathname = `/${database}`;
        // The schema as the migration Job leaves it.
        const schema = [migrationSql].join("\n");
        assert.strictEqual(psql(owner.toString(), schema).status, 0);
        const first = rotate(0, 10, passwords[0]);
        assert.strictEqual(first.status, 0, first.stderr);
    });
    after(() => pgTest("stop"));

    it("the login role reads and writes the API's tables", () => {
        const result = psql(
            login(roles.logins[0], passwords[0]),
            [
                "INSERT INTO items (name) VALUES ('one') RETURNING name;",
                "UPDATE items SET description = 'd' WHERE name = 'one';",
                "SELECT count(*) FROM items;",
                "DELETE FROM items WHERE name = 'one';",
                "SELECT max(version) FROM schema_migrations;",
            ].join("\n"),
        );
        assert.strictEqual(result.status, 0, result.stderr);
        assert.deepStrictEqual(result.stdout.split("\n"), ["one", "1", "1"]);
    });

    for (const [what, sql, denial] of [
        ["CREATE TABLE", "CREATE TABLE intruder (id int);", /ERROR: {2}42501: permission denied for schema public/],
        ["DROP TABLE", "DROP TABLE items;", /ERROR: {2}42501: must be owner of table items/],
        ["ALTER TABLE", "ALTER TABLE items ADD COLUMN x int;", /ERROR: {2}42501: must be owner of table items/],
        ["TRUNCATE", "TRUNCATE items;", /ERROR: {2}42501: permission denied for table items/],
        [
            "a write to schema_migrations",
            "INSERT INTO schema_migrations VALUES (99, 'x', 'x');",
            /42501: permission denied for table schema_migrations/,
        ],
        ["CREATE ROLE", "CREATE ROLE intruder;", /42501: permission denied to create role/],
        ["CREATE DATABASE", "CREATE DATABASE intruder;", /42501: permission denied to create database/],
    ] as const) {
        it(`the login role is refused ${what} (permission denied, SQLSTATE 42501)`, () => {
            const result = psql(login(roles.logins[0], passwords[0]), sql);
            assert.notStrictEqual(result.status, 0);
            assert.match(result.stderr, denial);
        });
    }

    it("the login role may connect to its own database only", () => {
        const result = psql(login(roles.logins[0], passwords[0], "postgres"), "SELECT 1;");
        assert.notStrictEqual(result.status, 0);
        assert.match(result.stderr, /permission denied for database "?postgres"?/);
    });

    it("no role of the API is superuser or may create roles or databases", () => {
        const result = psql(
            owner.toString(),
            `SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolcanlogin FROM pg_roles WHERE rolname LIKE '${group}%' ORDER BY rolname;`,
        );
        assert.deepStrictEqual(result.stdout.split("\n"), [`${group}|f|f|f|f`, `${group}_a|f|f|f|t`, `${group}_b|f|f|f|t`]);
    });

    it("a table that a later migration creates as the owner is usable by the API at once (default privileges)", () => {
        assert.strictEqual(psql(owner.toString(), "CREATE TABLE later (id int);").status, 0);
        const result = psql(login(roles.logins[0], passwords[0]), "INSERT INTO later VALUES (1); SELECT count(*) FROM later;");
        assert.strictEqual(result.status, 0, result.stderr);
        assert.strictEqual(result.stdout, "1");
    });

    it("a rotation without its password fails and changes nothing", () => {
        const result = rotate(1, 0);
        assert.notStrictEqual(result.status, 0);
        assert.strictEqual(psql(login(roles.logins[0], passwords[0]), "SELECT 1;").status, 0, "the current login still works");
    });

    it("rotation 1 moves to the other login; with no grace the old password is refused at once; a rerun is harmless", () => {
        for (let run = 0; run < 2; run++) {
            const result = rotate(1, 0, passwords[1]);
            assert.strictEqual(result.status, 0, result.stderr);
        }
        assert.strictEqual(psql(login(roles.logins[1], passwords[1]), "SELECT count(*) FROM items;").status, 0);
        const old = psql(login(roles.logins[0], passwords[0]), "SELECT 1;");
        assert.notStrictEqual(old.status, 0);
        assert.match(old.stderr, /password authentication failed/);
    });

    it("rotation 2 with a grace period: the new login works and the previous one keeps working until the grace ends", () => {
        const result = rotate(2, 10, passwords[2]);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.strictEqual(psql(login(roles.logins[0], passwords[2]), "SELECT 1;").status, 0, "new password on the first login");
        assert.strictEqual(psql(login(roles.logins[1], passwords[1]), "SELECT 1;").status, 0, "previous password within its grace");
        const until = psql(
            owner.toString(),
            `SELECT rolvaliduntil > now() + interval '9 minutes' FROM pg_authid WHERE rolname = '${roles.logins[1]}';`,
        );
        assert.strictEqual(until.stdout, "t");
    });

    it("run before the first migration (the two Jobs run side by side), it grants the same: items writable, schema_migrations read-only", () => {
        const fresh = `${database}_first`;
        assert.strictEqual(psql(owner.toString(), `CREATE DATABASE ${fresh};`).status, 0);
        const freshOwner = new URL(owner.toString());
        freshOwner.pathname = `/${fresh}`;
        const roles = psql(
            freshOwner.toString(),
            rolesSql({ roles: apiRoles(group), databaseName: fresh, owner: owner.username, rotation: 3, graceMinutes: 10 }),
            { LOGIN_PASSWORD: passwords[2] },
        );
        assert.strictEqual(roles.status, 0, roles.stderr);
        const migration = psql(freshOwner.toString(), migrationSql);
        assert.strictEqual(migration.status, 0, migration.stderr);
        const api = login(apiRoles(group).logins[1], passwords[2], fresh);
        const written = psql(api, "INSERT INTO items (name) VALUES ('first') RETURNING name; SELECT max(version) FROM schema_migrations;");
        assert.strictEqual(written.status, 0, written.stderr);
        assert.deepStrictEqual(written.stdout.split("\n"), ["first", "1"]);
        const bookkeeping = psql(api, "INSERT INTO schema_migrations VALUES (99, 'x', 'x');");
        assert.notStrictEqual(bookkeeping.status, 0);
        assert.match(bookkeeping.stderr, /42501: permission denied for table schema_migrations/);
    });
});
