import pino, { type Logger } from "pino";
import type { LogLevel } from "./config";

/** JSON lines on stdout. Anything that could carry a credential is redacted, wherever it turns up. */
export function createLogger(level: LogLevel): Logger {
    return pino({
        level,
        base: { service: "api-stack-app" },
        timestamp: pino.stdTimeFunctions.isoTime,
        redact: {
            paths: [
                "databaseUrl",
                "*.databaseUrl",
                "connectionString",
                "*.connectionString",
                "password",
                "*.password",
                "req.headers.authorization",
                "req.headers.cookie",
            ],
            censor: "[redacted]",
        },
    });
}
