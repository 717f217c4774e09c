import type { FastifyInstance } from "fastify";
import type { Pool } from "pg";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { AppState } from "./state";

/** Prometheus metrics on GET /metrics: request latency by route, pool usage, readiness, and process metrics. */
export function createMetrics(app: FastifyInstance, pool: Pool, state: AppState, processMetrics: boolean): Registry {
    const registry = new Registry();
    if (processMetrics) collectDefaultMetrics({ register: registry });

    const duration = new Histogram({
        name: "http_request_duration_seconds",
        help: "Time from request received to response sent, by route template.",
        labelNames: ["method", "route", "status_code"] as const,
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        registers: [registry],
    });
    const errors = new Counter({
        name: "http_server_errors_total",
        help: "Responses with a 5xx status, by route template.",
        labelNames: ["route", "status_code"] as const,
        registers: [registry],
    });
    new Gauge({
        name: "db_pool_connections",
        help: "Connections of the PostgreSQL pool, by state.",
        labelNames: ["state"] as const,
        registers: [registry],
        collect() {
            this.set({ state: "total" }, pool.totalCount);
            this.set({ state: "idle" }, pool.idleCount);
            this.set({ state: "waiting" }, pool.waitingCount);
        },
    });
    new Gauge({
        name: "app_schema_ready",
        help: "1 when migrations have completed in this process, else 0.",
        registers: [registry],
        collect() {
            this.set(state.schemaReady ? 1 : 0);
        },
    });

    // A callback hook: an async one costs a promise and a microtask per request.
    app.addHook("onResponse", (request, reply, done) => {
        // The route template, not the raw URL, keeps the label set small.
        const route = request.routeOptions.url ?? "unmatched";
        const labels = { method: request.method, route, status_code: String(reply.statusCode) };
        duration.observe(labels, reply.elapsedTime / 1000);
        if (reply.statusCode >= 500) errors.inc({ route, status_code: labels.status_code });
        done();
    });

    app.get("/metrics", { schema: { hide: true } }, async (_request, reply) => {
        reply.header("content-type", registry.contentType);
        return registry.metrics();
    });
    return registry;
}
