import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ConfigError, loadConfig } from "../src/config";
import { spawnServer } from "./helpers";

const SECRET = "s3cr3t-Pa55";
const GOOD_URL = `postgres://api:${SECRET}@db.example:5432/api`;

const tempDirs: string[] = [];
after(function () {
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function secretFile(content: string): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), "api-config-"));
    tempDirs.push(dir);
    const file = path.join(dir, "url");
    writeFileSync(file, content);
    return file;
}

function configError(env: NodeJS.ProcessEnv): ConfigError {
    try {
        loadConfig(env);
    } catch (err) {
        assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
        return err;
    }
    assert.fail("loadConfig accepted a bad environment");
}

describe("configuration from the environment", function () {
    it("reads DATABASE_URL and applies the defaults", function () {
        assert.deepEqual(loadConfig({ DATABASE_URL: GOOD_URL }), {
            databaseUrl: GOOD_URL,
            port: 8000,
            logLevel: "info",
            migrations: "apply",
        });
    });

    it("reads MIGRATIONS=check, the cluster's mode where a Job migrates and the API only checks", function () {
        assert.equal(loadConfig({ DATABASE_URL: GOOD_URL, MIGRATIONS: "check" }).migrations, "check");
        assert.equal(loadConfig({ DATABASE_URL: GOOD_URL, MIGRATIONS: "apply" }).migrations, "apply");
    });

    it("rejects an unknown MIGRATIONS, naming the value and the modes", function () {
        const err = configError({ DATABASE_URL: GOOD_URL, MIGRATIONS: "skip" });
        assert.equal(err.message, 'MIGRATIONS is "skip": it must be one of apply, check (default apply)');
    });

    it("reads DATABASE_URL_FILE and drops the trailing newline of a mounted secret", function () {
        const config = loadConfig({ DATABASE_URL_FILE: secretFile(`${GOOD_URL}\n`), PORT: "9000", LOG_LEVEL: "DEBUG" });
        assert.deepEqual(config, { databaseUrl: GOOD_URL, port: 9000, logLevel: "debug", migrations: "apply" });
    });

    const bad: Array<{ what: string; env: NodeJS.ProcessEnv; variable: string }> = [
        { what: "no database URL at all", env: {}, variable: "DATABASE_URL" },
        { what: "an empty DATABASE_URL", env: { DATABASE_URL: "" }, variable: "DATABASE_URL" },
        { what: "a URL that does not parse", env: { DATABASE_URL: `api:${SECRET}@nowhere` }, variable: "DATABASE_URL" },
        { what: "another scheme", env: { DATABASE_URL: `mysql://api:${SECRET}@db/api` }, variable: "DATABASE_URL" },
        { what: "no host", env: { DATABASE_URL: `postgres://api:${SECRET}@/api` }, variable: "DATABASE_URL" },
        { what: "both variables", env: { DATABASE_URL: GOOD_URL, DATABASE_URL_FILE: "/x" }, variable: "DATABASE_URL_FILE" },
        { what: "a missing secret file", env: { DATABASE_URL_FILE: "/nonexistent/url" }, variable: "DATABASE_URL_FILE" },
        { what: "an empty secret file", env: { DATABASE_URL_FILE: secretFile("\n") }, variable: "DATABASE_URL_FILE" },
        {
            what: "a malformed secret file",
            env: { DATABASE_URL_FILE: secretFile(`${SECRET}\n`) },
            variable: "DATABASE_URL_FILE",
        },
        { what: "a PORT that is not a number", env: { DATABASE_URL: GOOD_URL, PORT: "80a" }, variable: "PORT" },
        { what: "a PORT out of range", env: { DATABASE_URL: GOOD_URL, PORT: "70000" }, variable: "PORT" },
        { what: "an unknown LOG_LEVEL", env: { DATABASE_URL: GOOD_URL, LOG_LEVEL: "loud" }, variable: "LOG_LEVEL" },
        { what: "an unknown MIGRATIONS mode", env: { DATABASE_URL: GOOD_URL, MIGRATIONS: "never" }, variable: "MIGRATIONS" },
    ];
    for (const { what, env, variable } of bad) {
        it(`rejects ${what}, naming ${variable} and never the secret`, function () {
            const err = configError(env);
            assert.equal(err.variable, variable);
            assert.ok(err.message.startsWith(`${variable} `), err.message);
            assert.ok(!err.message.includes(SECRET), err.message);
            assert.ok(!err.message.includes("\n"), err.message);
        });
    }

    it("stops the real server with one line on stderr and a non-zero exit code", async function () {
        const server = await spawnServer({ DATABASE_URL: `mysql://api:${SECRET}@db/api` }, { waitFor: "nothing" });
        const code = await server.exited;
        assert.equal(code, 2);
        const lines = server.output().trim().split("\n");
        assert.equal(lines.length, 1, server.output());
        assert.match(lines[0], /^configuration error: DATABASE_URL has scheme "mysql:"/);
        assert.ok(!server.output().includes(SECRET));
    });
});
