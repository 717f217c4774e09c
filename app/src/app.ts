import { randomUUID } from "node:crypto";
import swagger from "@fastify/swagger";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Pool } from "pg";
import type { Logger } from "pino";
import { createItemsRepository } from "./items-repository";
import { AccessLog } from "./logger";
import { createMetrics } from "./metrics";
import { currentSchemaVersion } from "./migrate";
import { clientErrorHandler, frameworkErrors, useErrorHandling } from "./plugins/errors";
import { useJsonBodies } from "./plugins/json-body";
import { healthRoutes } from "./routes/health";
import { itemsRoutes } from "./routes/items";
import { ErrorBody, Item } from "./schemas";
import type { AppState } from "./state";
import { formatSchemaErrors, schemaController } from "./validation";

export interface AppOptions {
    readonly pool: Pool;
    readonly logger: Logger;
    readonly state: AppState;
    /** Largest request body accepted, in bytes; bigger ones get 413. @default 32768 */
    readonly bodyLimit?: number;
    /** Register process-wide metrics (CPU, memory, event loop). Off in tests that build many apps. @default true */
    readonly processMetrics?: boolean;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;
/**
 * Every valid body fits, even with each character written as a JSON escape: 2,200 characters beyond U+FFFF
 * (name and description at their maximum) take 12 bytes each as `\uD83D\uDE42`, 26,400 bytes in all.
 */
const BODY_LIMIT = 32 * 1024;

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
    const { pool, state } = options;
    // Typed as Fastify's logger, so the instance is the plain FastifyInstance that plugins take.
    const logger: FastifyBaseLogger = options.logger;
    const app = Fastify({
        loggerInstance: logger,
        logController: new AccessLog(),
        bodyLimit: options.bodyLimit ?? BODY_LIMIT,
        requestTimeout: 30_000,
        keepAliveTimeout: 65_000,
        // A request that arrives on a kept-alive connection while shutdown drains is served (with Connection:
        // close) rather than given Fastify's own 503 body, which is not the { error, message } shape.
        return503OnClosing: false,
        // Keep the caller's id when it looks like one, so logs correlate across services.
        genReqId: (req) => {
            const header = req.headers["x-request-id"];
            return typeof header === "string" && REQUEST_ID.test(header) ? header : randomUUID();
        },
        schemaController,
        schemaErrorFormatter: formatSchemaErrors,
        frameworkErrors,
        clientErrorHandler,
    });

    // Before any route, and before the first await: the not-found scope it registers loads there and takes the
    // root hooks added until then (request id, metrics), so 404 and 405 answers carry them too.
    useErrorHandling(app);
    useJsonBodies(app);
    app.addSchema(ErrorBody);
    app.addSchema(Item);

    // A callback hook: an async one costs a promise and a microtask per request.
    app.addHook("onSend", (request, reply, payload, done) => {
        reply.header("x-request-id", request.id);
        // A keep-alive socket that turns idle after shutdown began would hold the server open until its timeout.
        if (state.shuttingDown) reply.header("connection", "close");
        done(null, payload);
    });
    createMetrics(app, pool, state, options.processMetrics ?? true);

    await app.register(swagger, {
        openapi: {
            openapi: "3.0.3",
            info: {
                title: "api-stack items API",
                version: "1.0.0",
                description:
                    "Items stored in PostgreSQL. Errors are JSON objects { error, message }. Request bodies are " +
                    "application/json, UTF-8, I-JSON (RFC 7493: no unpaired surrogates), at most 32 KiB. A method " +
                    "a path does not list answers 405 with an Allow header.",
            },
        },
        // Name the shared schemas after their $id (Item, Error) in components, rather than def-0, def-1.
        refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === "string" ? json.$id : `def-${i}`) },
    });

    await app.register(healthRoutes, { state, schemaVersion: () => currentSchemaVersion(pool) });
    await app.register(itemsRoutes, { prefix: "/api/v1", items: createItemsRepository(pool), isSchemaReady: () => state.schemaReady });

    app.get("/openapi.json", { schema: { hide: true } }, () => app.swagger());
    return app;
}
