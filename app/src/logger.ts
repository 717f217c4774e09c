import { LogController, type FastifyReply, type FastifyRequest } from "fastify";
import pino, { type Logger } from "pino";
import type { LogLevel } from "./config";

/** Fields that may hold a credential: censored at the top level of a log line and one level down. */
const SECRET_FIELDS = new Set(["databaseUrl", "connectionString", "password"]);
/** Request headers that carry credentials, censored under `req.headers`. */
const SECRET_HEADERS = new Set(["authorization", "cookie"]);
const CENSOR = "[redacted]";

type LogObject = Record<string, unknown>;
const isObject = (value: unknown): value is LogObject => typeof value === "object" && value !== null && !Array.isArray(value);

/** Sets a field of a copy, whatever the original property was (a getter, read-only). */
const put = (object: LogObject, key: string, value: unknown) =>
    Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });

/**
 * A copy with the same prototype and every own property, enumerable or not, so an Error keeps its message; its
 * stack is read now, as V8 formats it lazily for the original object only.
 */
function copyOf(object: LogObject): LogObject {
    const copy = Object.create(Object.getPrototypeOf(object) as object | null, Object.getOwnPropertyDescriptors(object)) as LogObject;
    if (object instanceof Error) put(copy, "stack", object.stack);
    return copy;
}

/** `object` with the own fields named in `secrets` censored: the same object when it has none, else a copy. */
function censorFields(object: LogObject, secrets: ReadonlySet<string>): LogObject {
    let result = object;
    for (const key in object) {
        if (secrets.has(key) && Object.hasOwn(object, key)) {
            if (result === object) result = copyOf(object);
            put(result, key, CENSOR);
        }
    }
    return result;
}

/**
 * A log line's object with every credential censored: databaseUrl, connectionString and password at the top level
 * and in any object one level down, and req.headers.authorization and req.headers.cookie. The caller's objects are
 * never changed; a line without any of them goes through as it is, with nothing allocated. pino's own `redact`
 * option did the same, but re-parsed each of its paths on every line: about 8 KiB of garbage per line, a quarter of
 * all that a GET allocated, which kept the young generation busy and pushed garbage into the old one.
 */
export function censorCredentials(object: LogObject): LogObject {
    let result = censorFields(object, SECRET_FIELDS);
    for (const key in result) {
        const value = result[key];
        if (!isObject(value) || !Object.hasOwn(result, key)) continue;
        let censored = censorFields(value, SECRET_FIELDS);
        if (key === "req" && isObject(censored.headers)) {
            const headers = censorFields(censored.headers, SECRET_HEADERS);
            if (headers !== censored.headers) {
                if (censored === value) censored = copyOf(value);
                put(censored, "headers", headers);
            }
        }
        if (censored !== value) {
            if (result === object) result = copyOf(object);
            put(result, key, censored);
        }
    }
    return result;
}

/**
 * JSON lines on stdout (or `destination`). Anything that could carry a credential is censored: censorCredentials on
 * every line, and the same top-level fields in a child logger's bindings.
 *
 * Written asynchronously: lines logged while a write is in flight go out together in the next one, so under load
 * the process makes one write per batch instead of one per line (writing and formatting the lines took about a
 * sixth of a GET's busy CPU time). pino flushes what is left when the process exits, including through
 * process.exit; only a SIGKILL can lose the last lines.
 */
export function createLogger(level: LogLevel, destination: pino.DestinationStream = pino.destination({ dest: 1, sync: false })): Logger {
    return pino(
        {
            level,
            base: { service: "api-stack-app" },
            timestamp: pino.stdTimeFunctions.isoTime,
            formatters: { log: censorCredentials },
            // pino applies serializers to the top-level fields of lines and of a child logger's bindings alike, and
            // formatters.log to lines only: these cover the bindings.
            serializers: Object.fromEntries([...SECRET_FIELDS].map((field) => [field, () => CENSOR])),
        },
        destination,
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
