import type { FastifyInstance } from "fastify";
import type { Pool } from "pg";
import type { AppState } from "../app";

export interface HealthRoutesOptions {
    readonly pool: Pool;
    readonly state: AppState;
}

/** A readiness check must answer before the kubelet's probe timeout, even if the database hangs. */
const READY_CHECK_TIMEOUT_MS = 2_000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer from the database within ${ms} ms`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export async function healthRoutes(app: FastifyInstance, options: HealthRoutesOptions): Promise<void> {
    const { pool, state } = options;
    const unavailable = (message: string) => ({ error: "Service Unavailable", message });

    app.get("/livez", { schema: { summary: "Liveness: 200 while the process runs; never touches the database" } }, async () => ({
        status: "ok",
    }));

    app.get(
        "/readyz",
        { schema: { summary: "Readiness: 200 when the database answers and its schema is current, else 503" } },
        async (request, reply) => {
            if (state.shuttingDown) return reply.code(503).send(unavailable("shutting down"));
            if (!state.schemaReady) return reply.code(503).send(unavailable("database migrations have not completed yet"));
            try {
                const { rows } = await withTimeout(
                    pool.query<{ version: number }>("SELECT coalesce(max(version), 0) AS version FROM schema_migrations"),
                    READY_CHECK_TIMEOUT_MS,
                );
                if (rows[0].version < state.requiredSchemaVersion) {
                    return reply
                        .code(503)
                        .send(
                            unavailable(
                                `database schema is at version ${rows[0].version}, this release needs ${state.requiredSchemaVersion}`,
                            ),
                        );
                }
                return { status: "ready", schemaVersion: rows[0].version };
            } catch (err) {
                request.log.warn({ err: { message: (err as Error).message } }, "readiness check failed");
                return reply.code(503).send(unavailable("the database is unreachable"));
            }
        },
    );
}
