import { LogController, type FastifyReply, type FastifyRequest } from "fastify";
import pino, { type Logger } from "pino";
import type { LogLevel } from "./config";

/**
 * JSON lines on stdout. Anything that could carry a credential is redacted, wherever it turns up.
 *
 * Written asynchronously: lines logged while a write is in flight go out together in the next one, so under load
 * the process makes one write per batch instead of one per line (writing and formatting the lines took about a
 * sixth of a GET's busy CPU time). pino flushes what is left when the process exits, including through
 * process.exit; only a SIGKILL can lose the last lines.
 */
export function createLogger(level: LogLevel): Logger {
    return pino(
        {
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
        },
        pino.destination({ dest: 1, sync: false }),
    );
}

/**
 * One access-log line per request, when it completes, with what an operator looks for: method, URL, status and
 * time. Fastify's default writes two (one on arrival with every header, one on completion), which doubled the
 * logging cost of each request. Error lines stay as Fastify writes them.
 */
export class AccessLog extends LogController {
    override incomingRequest(): void {}

    override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
        if (error) {
            super.requestCompleted(error, request, reply);
            return;
        }
        request.log.info(
            { req: { method: request.method, url: request.url }, res: { statusCode: reply.statusCode }, responseTime: reply.elapsedTime },
            "request completed",
        );
    }
}
