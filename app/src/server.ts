import type { FastifyInstance } from "fastify";
import net from "node:net";
import type { Logger } from "pino";
import type { Pool } from "pg";
import { buildApp } from "./app";
import { ConfigError, loadConfig, type Config } from "./config";
import { createPool, isDatabaseUnavailable } from "./db";
import { createLogger } from "./logger";
import { loadMigrations, migrate, recordedSchemaVersion, requiredSchemaVersion } from "./migrate";
import { createAppState, type AppState } from "./state";

/** Shutdown must finish well inside the pod's 30 s grace period, or the kubelet sends SIGKILL. */
const SHUTDOWN_DEADLINE_MS = 20_000;
/**
 * During shutdown every response carries `Connection: close`, so a client retires the kept-alive connection
 * it arrives on; connections still open after this long are closed (well inside the deadline).
 */
const DRAIN_IDLE_MS = 5_000;
const MIGRATION_RETRY_MAX_MS = 10_000;

function readConfigOrExit(): Config {
    try {
        return loadConfig();
    } catch (err) {
        if (err instanceof ConfigError) {
            process.stderr.write(`configuration error: ${err.message}\n`);
            process.exit(2);
        }
        throw err;
    }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Brings the schema up to date, waiting out an unreachable database; other failures stop the process. */
async function migrateUntilDone(config: Config, logger: Logger, state: AppState): Promise<void> {
    const migrations = loadMigrations();
    let delay = 500;
    while (!state.shuttingDown) {
        try {
            const result = await migrate(config.databaseUrl, logger, migrations);
            state.schemaReady = true;
            logger.info({ applied: result.applied, schemaVersion: result.version }, "database schema is current");
            return;
        } catch (err) {
            if (!isDatabaseUnavailable(err)) throw err;
            logger.warn({ err: { message: (err as Error).message }, retryInMs: delay }, "database unavailable for migrations; retrying");
            await sleep(delay);
            delay = Math.min(delay * 2, MIGRATION_RETRY_MAX_MS);
        }
    }
}

/**
 * MIGRATIONS=check: waits until another step (the cluster's migration Job) has brought the schema to this
 * release's version, and never runs DDL itself. An unreachable database is waited out like a missing version.
 */
async function waitForCurrentSchema(pool: Pool, logger: Logger, state: AppState): Promise<void> {
    let delay = 500;
    while (!state.shuttingDown) {
        try {
            const version = await recordedSchemaVersion(pool);
            if (version >= state.requiredSchemaVersion) {
                state.schemaReady = true;
                logger.info({ schemaVersion: version }, "database schema is current");
                return;
            }
            logger.warn(
                { schemaVersion: version, required: state.requiredSchemaVersion, retryInMs: delay },
                "database schema is behind this release; waiting for the migration step (MIGRATIONS=check never migrates)",
            );
        } catch (err) {
            if (!isDatabaseUnavailable(err)) throw err;
            logger.warn(
                { err: { message: (err as Error).message }, retryInMs: delay },
                "database unavailable for the schema check; retrying",
            );
        }
        await sleep(delay);
        delay = Math.min(delay * 2, MIGRATION_RETRY_MAX_MS);
    }
}

/** Resolves once `server` has no connections left, or after `timeoutMs`. */
async function drained(server: net.Server, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const open = () => new Promise<number>((resolve) => server.getConnections((err, count) => resolve(err ? 0 : count)));
    while (Date.now() < deadline && (await open()) > 0) {
        await sleep(50);
    }
}

function handleSignals(app: FastifyInstance, pool: Pool, logger: Logger, state: AppState): void {
    const shutdown = async (signal: NodeJS.Signals) => {
        if (state.shuttingDown) return;
        state.shuttingDown = true;
        logger.info({ signal }, "shutting down: no new connections, finishing requests in flight");
        setTimeout(() => {
            logger.error({ deadlineMs: SHUTDOWN_DEADLINE_MS }, "shutdown did not finish in time; exiting");
            process.exit(1);
        }, SHUTDOWN_DEADLINE_MS).unref();
        try {
            // Stop accepting connections but keep the kept-alive ones: http.Server's close() would also cut
            // the idle ones at once, racing a request a client is already sending on one (ECONNRESET).
            // net.Server's close() only stops the listener. Every response now says Connection: close (app.ts),
            // so clients retire their connections; app.close() then cuts whatever is still open.
            net.Server.prototype.close.call(app.server);
            await drained(app.server, DRAIN_IDLE_MS);
            await app.close();
            await pool.end();
            logger.info("shutdown complete");
            process.exit(0);
        } catch (err) {
            logger.error({ err }, "shutdown failed");
            process.exit(1);
        }
    };
    process.once("SIGTERM", (signal) => void shutdown(signal));
    process.once("SIGINT", (signal) => void shutdown(signal));
}

async function main(): Promise<void> {
    const config = readConfigOrExit();
    const logger = createLogger(config.logLevel);
    // Node prints process warnings as plain text on stderr (pg warns that way about sslmode=require): replace that
    // printer with a JSON log line, so stdout and stderr stay JSON lines.
    process.removeAllListeners("warning");
    process.on("warning", (warning) => logger.warn({ warning: { name: warning.name, message: warning.message } }, "process warning"));
    process.on("unhandledRejection", (err) => {
        logger.fatal({ err }, "unhandled promise rejection");
        process.exit(1);
    });

    const state = createAppState(requiredSchemaVersion(loadMigrations()));
    const pool = createPool(config.databaseUrl, logger);
    const app = await buildApp({ pool, logger, state });
    handleSignals(app, pool, logger, state);

    // Listen first: /livez answers while migrations wait for the database or the lock; /readyz stays 503.
    await app.listen({ port: config.port, host: "0.0.0.0" });
    try {
        if (config.migrations === "check") {
            await waitForCurrentSchema(pool, logger, state);
        } else {
            await migrateUntilDone(config, logger, state);
        }
    } catch (err) {
        logger.fatal({ err: { message: (err as Error).message, code: (err as { code?: string }).code } }, "migration failed");
        process.exit(1);
    }
}

void main();
