import { randomUUID } from "node:crypto";
import { STATUS_CODES } from "node:http";
import swagger from "@fastify/swagger";
import Ajv from "ajv";
import addFormats from "ajv-formats";
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from "fastify";
import type { Pool } from "pg";
import type { Logger } from "pino";
import { isDatabaseUnavailable } from "./db";
import { createMetrics } from "./metrics";
import { itemsRoutes } from "./routes/items";
import { healthRoutes } from "./routes/health";
import { errorSchema, itemSchema } from "./schemas";

/** What the probes report; server.ts moves it forward as start-up and shutdown progress. */
export interface AppState {
    /** Migrations have run (or were already applied) in this process. */
    schemaReady: boolean;
    /** SIGTERM arrived: /readyz answers 503 so the endpoint is taken out of rotation. */
    shuttingDown: boolean;
    /** The schema version this release needs; a newer database is fine (expand-then-contract migrations). */
    readonly requiredSchemaVersion: number;
}

export interface AppOptions {
    readonly pool: Pool;
    readonly logger: Logger;
    readonly state: AppState;
    /** Largest request body accepted, in bytes; bigger ones get 413. @default 16384 */
    readonly bodyLimit?: number;
    /** Register process-wide metrics (CPU, memory, event loop). Off in tests that build many apps. @default true */
    readonly processMetrics?: boolean;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * Two validators: request bodies are checked strictly (no type coercion, unknown fields rejected, nothing
 * silently removed), while params and querystrings, which are always strings on the wire, are coerced.
 */
function validators() {
    const strict = new Ajv({ allErrors: false, coerceTypes: false, removeAdditional: false, useDefaults: false });
    const coercing = new Ajv({ allErrors: false, coerceTypes: true, removeAdditional: false, useDefaults: true });
    addFormats(strict);
    addFormats(coercing);
    return { strict, coercing };
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
    const { pool, state } = options;
    const { strict, coercing } = validators();
    // Typed as Fastify's logger, so the instance is the plain FastifyInstance that plugins take.
    const logger: FastifyBaseLogger = options.logger;
    const app = Fastify({
        loggerInstance: logger,
        bodyLimit: options.bodyLimit ?? 16 * 1024,
        requestTimeout: 30_000,
        keepAliveTimeout: 65_000,
        return503OnClosing: true,
        // Keep the caller's id when it looks like one, so logs correlate across services.
        genReqId: (req) => {
            const header = req.headers["x-request-id"];
            return typeof header === "string" && REQUEST_ID.test(header) ? header : randomUUID();
        },
        // A compiler factory (not setValidatorCompiler) so plugins that add schemas keep using these validators.
        schemaController: {
            compilersFactory: {
                buildValidator:
                    () =>
                    ({ schema, httpPart }) =>
                        httpPart === "body" ? strict.compile(schema) : coercing.compile(schema),
            },
        },
    });

    app.addSchema(errorSchema);
    app.addSchema(itemSchema);

    app.addHook("onSend", async (request, reply) => {
        reply.header("x-request-id", request.id);
        // A keep-alive socket that turns idle after shutdown began would hold the server open until its timeout.
        if (state.shuttingDown) reply.header("connection", "close");
    });

    app.setErrorHandler((error: FastifyError, request, reply) => {
        if (error.validation) {
            return reply.code(400).send({ error: "Bad Request", message: error.message });
        }
        const status = error.statusCode;
        if (status !== undefined && status >= 400 && status < 500) {
            return reply.code(status).send({ error: STATUS_CODES[status] ?? "Client Error", message: error.message });
        }
        if (isDatabaseUnavailable(error)) {
            request.log.warn({ err: { message: error.message, code: error.code } }, "database unavailable");
            reply.header("retry-after", "5");
            return reply.code(503).send({ error: "Service Unavailable", message: "the database is unavailable; retry later" });
        }
        // SQLSTATE class 22 (data exception, e.g. a NUL character in text) and 23 (constraint): the input was wrong.
        if (typeof error.code === "string" && /^2[23][0-9A-Z]{3}$/.test(error.code)) {
            request.log.info({ err: { message: error.message, code: error.code } }, "input rejected by the database");
            return reply.code(400).send({ error: "Bad Request", message: "the database rejected a value of this request" });
        }
        request.log.error({ err: error }, "request failed");
        return reply.code(500).send({ error: "Internal Server Error", message: "an unexpected error occurred" });
    });

    app.setNotFoundHandler((request, reply) =>
        reply.code(404).send({ error: "Not Found", message: `no route for ${request.method} ${request.url.split("?")[0]}` }),
    );

    await app.register(swagger, {
        openapi: {
            openapi: "3.0.3",
            info: {
                title: "api-stack items API",
                version: "1.0.0",
                description: "Items stored in PostgreSQL. Errors are JSON objects { error, message }.",
            },
        },
    });

    createMetrics(app, pool, state, options.processMetrics ?? true);
    await app.register(healthRoutes, { pool, state });
    await app.register(itemsRoutes, { prefix: "/api/v1", pool, isSchemaReady: () => state.schemaReady });

    app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
    return app;
}
