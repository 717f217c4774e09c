import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { unavailable } from "../http-error";
import { ErrorBody } from "../schemas";
import type { AppState } from "../state";

export interface HealthRoutesOptions {
    readonly state: AppState;
    /** The schema version recorded in the database. */
    readonly schemaVersion: () => Promise<number>;
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

const Live = Type.Object({ status: Type.Literal("ok") });
const Ready = Type.Object({ status: Type.Literal("ready"), schemaVersion: Type.Integer() });

export const healthRoutes: FastifyPluginAsyncTypebox<HealthRoutesOptions> = async (app, { state, schemaVersion }) => {
    app.get(
        "/livez",
        {
            schema: {
                summary: "Liveness: 200 while the process runs; never touches the database",
                response: { 200: Live },
            },
        },
        async () => ({ status: "ok" as const }),
    );

    app.get(
        "/readyz",
        {
            schema: {
                summary: "Readiness: 200 when the database answers and its schema is current, else 503",
                response: { 200: Ready, 503: Type.Ref(ErrorBody) },
            },
        },
        async (request) => {
            if (state.shuttingDown) throw unavailable("shutting down");
            if (!state.schemaReady) throw unavailable("database migrations have not completed yet");
            let version: number;
            try {
                version = await withTimeout(schemaVersion(), READY_CHECK_TIMEOUT_MS);
            } catch (err) {
                request.log.warn({ err: { message: (err as Error).message } }, "readiness check failed");
                throw unavailable("the database is unreachable");
            }
            if (version < state.requiredSchemaVersion) {
                throw unavailable(`database schema is at version ${version}, this release needs ${state.requiredSchemaVersion}`);
            }
            return { status: "ready" as const, schemaVersion: version };
        },
    );
};
