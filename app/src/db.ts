import pg from "pg";
import type { Logger } from "pino";

export interface PoolOptions {
    /** Most connections this process opens. @default 10 */
    readonly max?: number;
}

/**
 * The one pool of the process. Timeouts make a dead or unreachable database fail fast (503) instead of
 * hanging requests, and the pool hands out fresh connections once the database is back.
 */
export function createPool(databaseUrl: string, logger: Logger, options: PoolOptions = {}): pg.Pool {
    const pool = new pg.Pool({
        connectionString: databaseUrl,
        max: options.max ?? 10,
        connectionTimeoutMillis: 3_000,
        idleTimeoutMillis: 30_000,
        statement_timeout: 5_000,
        query_timeout: 6_000,
        keepAlive: true,
        application_name: "api-stack-app",
    });
    // An idle client whose server went away emits 'error' on the pool; unhandled, it would kill the process.
    pool.on("error", (err: Error & { code?: string }) => {
        logger.warn({ err: { message: err.message, code: err.code } }, "idle database connection failed; it was discarded");
    });
    return pool;
}

const UNAVAILABLE_MESSAGES = [
    // The pool's connect timeout, and a single client's (the migration step's): a server that takes no connection yet.
    "timeout exceeded when trying to connect",
    "timeout expired",
    "Connection terminated",
    "Client has encountered a connection error",
    "Query read timeout",
    "connection timeout",
];

/** True when an error means "the database cannot serve right now" rather than "this request is wrong". */
export function isDatabaseUnavailable(err: unknown): boolean {
    if (typeof err !== "object" || err === null) return false;
    const { code, message } = err as { code?: unknown; message?: unknown };
    if (typeof code === "string") {
        // Node socket errors, and SQLSTATE classes 08 (connection), 53 (resources), 57P0x (shutdown), 57014 (timeout).
        if (["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENOTFOUND", "EAI_AGAIN", "EPIPE"].includes(code)) {
            return true;
        }
        if (code.startsWith("08") || code.startsWith("53") || code.startsWith("57P") || code === "57014") return true;
    }
    return typeof message === "string" && UNAVAILABLE_MESSAGES.some((m) => message.includes(m));
}
