import { STATUS_CODES } from "node:http";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions, RouteOptions } from "fastify";
import { isDatabaseUnavailable } from "../db";
import { errorBody, HttpError, notFound } from "../http-error";

/**
 * Every error response, whoever raises it (a route, a hook, the validator, the body parser, Fastify's router
 * or Node's HTTP parser), is built here as `{ error, message }`.
 */

// SQLSTATE class 22 (data exception) and 23 (constraint): the input was wrong, not the server.
const REJECTED_BY_DATABASE = /^2[23][0-9A-Z]{3}$/;
const METHOD_TOKEN = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}$/;
const QUOTE_MAX = 100;

function send(reply: FastifyReply, statusCode: number, message: string, headers: Readonly<Record<string, string>> = {}) {
    return reply.code(statusCode).headers(headers).send(errorBody(statusCode, message));
}

const shorten = (text: string) => (text.length > QUOTE_MAX ? `${text.slice(0, QUOTE_MAX)}...` : text);
const pathOf = (request: FastifyRequest) => request.url.split("?", 1)[0];

/** Fastify's own 4xx messages, reworded where they do not say what is allowed. */
function clientErrorMessage(error: FastifyError, request: FastifyRequest): string {
    switch (error.code) {
        case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
            return `the body must be application/json, not ${JSON.stringify(shorten(request.headers["content-type"] ?? ""))}`;
        case "FST_ERR_CTP_BODY_TOO_LARGE":
            return `the body is larger than ${request.routeOptions.bodyLimit} bytes`;
        default:
            return error.message;
    }
}

function handleError(error: FastifyError | HttpError, request: FastifyRequest, reply: FastifyReply) {
    if (error instanceof HttpError) return send(reply, error.statusCode, error.message, error.headers);
    const status = error.statusCode;
    if (status !== undefined && status >= 400 && status < 500) return send(reply, status, clientErrorMessage(error, request));
    if (isDatabaseUnavailable(error)) {
        request.log.warn({ err: { message: error.message, code: error.code } }, "database unavailable");
        return send(reply, 503, "the database is unavailable; retry later", { "retry-after": "5" });
    }
    if (typeof error.code === "string" && REJECTED_BY_DATABASE.test(error.code)) {
        request.log.info({ err: { message: error.message, code: error.code } }, "input rejected by the database");
        return send(reply, 400, "the database rejected a value of this request");
    }
    request.log.error({ err: error }, "request failed");
    return send(reply, 500, "an unexpected error occurred");
}

/** The paths of the routes and their methods, to tell "no such path" (404) from "not this method" (405). */
class RouteTable {
    private readonly methodsByPath = new Map<string, { readonly pattern: RegExp; readonly methods: Set<string> }>();

    add(route: RouteOptions): void {
        let entry = this.methodsByPath.get(route.url);
        if (entry === undefined) {
            const pattern = new RegExp(`^${route.url.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/:[^/]+/g, "[^/]+")}$`);
            entry = { pattern, methods: new Set() };
            this.methodsByPath.set(route.url, entry);
        }
        for (const method of [route.method].flat()) entry.methods.add(method);
    }

    /** The methods allowed on a request path, or undefined when no route has that path. */
    allowed(path: string): string[] | undefined {
        for (const { pattern, methods } of this.methodsByPath.values()) {
            if (pattern.test(path)) return [...methods].sort();
        }
        return undefined;
    }
}

/**
 * Sets the error handler and the not-found handler on the root instance. Call it before any route is added.
 * A request that matches no route gets 405 with `Allow` when its path exists with other methods, else 404.
 */
export function useErrorHandling(app: FastifyInstance): void {
    const routes = new RouteTable();
    app.addHook("onRoute", (route) => routes.add(route));
    app.setErrorHandler(handleError);
    // In its own scope, so this hook runs for unmatched requests only, before their body is parsed.
    void app.register(async (scope) => {
        scope.addHook("onRequest", async (request) => {
            const path = pathOf(request);
            const allowed = routes.allowed(path);
            if (allowed !== undefined) {
                const allow = allowed.join(", ");
                throw new HttpError(405, `${request.method} is not allowed on ${shorten(path)}: use ${allow}`, { allow });
            }
        });
        scope.setNotFoundHandler(async (request) => {
            throw notFound(`no route for ${request.method} ${shorten(pathOf(request))}`);
        });
    });
}

/** Errors Fastify's router raises before a route runs: a bad percent-encoding in the path, a path parameter too long. */
export const frameworkErrors: FastifyServerOptions["frameworkErrors"] = (error, request, reply) => {
    const status = error.statusCode ?? 400;
    void send(reply, status, shorten(error.message), { "x-request-id": request.id });
};

/** The method token of the request line the parser failed on (a connection may carry several requests). */
function failedMethod(error: { rawPacket?: unknown; bytesParsed?: unknown }): string {
    if (!Buffer.isBuffer(error.rawPacket)) return "";
    const text = error.rawPacket.toString("latin1");
    const at = typeof error.bytesParsed === "number" ? error.bytesParsed : 0;
    const token = text.slice(text.lastIndexOf("\n", at) + 1).split(/[ \r\n]/, 1)[0];
    return METHOD_TOKEN.test(token) ? token : "";
}

/**
 * Requests Node's HTTP parser cannot read never reach Fastify: answer them here, on the raw socket. A method the
 * parser does not know gets 501, as RFC 9110 section 9.1 asks for a method the server does not recognise.
 */
export const clientErrorHandler: FastifyServerOptions["clientErrorHandler"] = (error, socket) => {
    if (error.code === "ECONNRESET" || socket.destroyed) return;
    let status = 400;
    let message = `the request could not be parsed (${error.code ?? "unknown error"})`;
    if (error.code === "ERR_HTTP_REQUEST_TIMEOUT") {
        [status, message] = [408, "the request was not received in time"];
    } else if (error.code === "HPE_HEADER_OVERFLOW") {
        [status, message] = [431, "the request headers are too large"];
    } else if (error.code === "HPE_INVALID_METHOD") {
        const method = failedMethod(error);
        [status, message] = [501, `the request method${method === "" ? "" : ` ${method}`} is not one this server implements`];
    }
    if (socket.writable) {
        const body = JSON.stringify(errorBody(status, message));
        socket.write(
            `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
                `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
    }
    socket.destroy(error);
};
