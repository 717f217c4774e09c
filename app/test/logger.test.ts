import assert from "node:assert/strict";
import { censorCredentials, createLogger } from "../src/logger";

/** A logger at info whose lines are collected, parsed, instead of going to stdout. */
function capturedLogger() {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger("info", { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    return { logger, lines };
}

describe("log lines never carry a credential", function () {
    it("censors databaseUrl, connectionString and password at the top level and one level down, and the request's Authorization and Cookie", function () {
        const { logger, lines } = capturedLogger();
        logger.info({ databaseUrl: "postgres://app:s3cret@db/app", count: 1 }, "top level");
        logger.warn({ config: { connectionString: "postgres://app:s3cret@db/app", port: 5432 }, user: { password: "s3cret" } }, "nested");
        logger.info({ req: { method: "GET", headers: { authorization: "Bearer t0ken", cookie: "sid=abc", accept: "*/*" } } }, "headers");
        logger.child({ password: "s3cret" }).info("binding");

        assert.equal(lines.length, 4);
        assert.deepEqual([lines[0].databaseUrl, lines[0].count], ["[redacted]", 1]);
        assert.deepEqual(lines[1].config, { connectionString: "[redacted]", port: 5432 });
        assert.deepEqual(lines[1].user, { password: "[redacted]" });
        assert.deepEqual(lines[2].req, { method: "GET", headers: { authorization: "[redacted]", cookie: "[redacted]", accept: "*/*" } });
        assert.equal(lines[3].password, "[redacted]");
        const text = JSON.stringify(lines);
        assert.ok(!text.includes("s3cret") && !text.includes("t0ken") && !text.includes("sid=abc"), text);
    });

    it("leaves the caller's objects as they were, and passes a line without credentials through unchanged", function () {
        const headers = { authorization: "Bearer t0ken" };
        const line = { req: { method: "GET", headers }, settings: { password: "s3cret" } };
        censorCredentials(line);
        assert.deepEqual(line, { req: { method: "GET", headers: { authorization: "Bearer t0ken" } }, settings: { password: "s3cret" } });
        const plain = { req: { method: "GET", url: "/api/v1/items" }, res: { statusCode: 200 }, responseTime: 1.5 };
        assert.equal(censorCredentials(plain), plain);
    });

    it("keeps an error's message and stack when it censors one of its fields", function () {
        const err = Object.assign(new Error("connect failed"), { connectionString: "postgres://app:s3cret@db/app" });
        const { logger, lines } = capturedLogger();
        logger.error({ err }, "with an error");
        const logged = lines[0].err as Record<string, unknown>;
        assert.equal(logged.message, "connect failed");
        assert.match(String(logged.stack), /^Error: connect failed\n/);
        assert.equal(logged.connectionString, "[redacted]");
        assert.equal(err.connectionString, "postgres://app:s3cret@db/app");
    });
});
