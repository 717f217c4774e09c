import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import pg from "pg";
import pino from "pino";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../src/app";
import { createPool } from "../src/db";
import { loadMigrations, migrate, requiredSchemaVersion } from "../src/migrate";
import { createAppState, type AppState } from "../src/state";

export const APP_DIR = path.join(__dirname, "..");
export const silentLogger = pino({ level: "silent" });

export function adminUrl(): string {
    const url = process.env.API_TEST_ADMIN_URL;
    if (url === undefined)
        throw new Error("API_TEST_ADMIN_URL is not set: run the tests through mocha (test/fixtures.ts starts PostgreSQL)");
    return url;
}

/** A fresh, empty database on the test server; returns its URL. */
export async function createDatabase(): Promise<string> {
    const name = `t_${randomBytes(6).toString("hex")}`;
    const client = new pg.Client({ connectionString: adminUrl() });
    await client.connect();
    try {
        await client.query(`CREATE DATABASE ${name}`);
    } finally {
        await client.end();
    }
    const url = new URL(adminUrl());
    url.pathname = `/${name}`;
    return url.toString();
}

export async function query<T extends pg.QueryResultRow = pg.QueryResultRow>(
    databaseUrl: string,
    text: string,
    values: unknown[] = [],
): Promise<T[]> {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
        return (await client.query<T>(text, values)).rows;
    } finally {
        await client.end();
    }
}

export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        if (await check().catch(() => false)) return;
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
}

export interface InProcessApp {
    readonly base: string;
    readonly app: FastifyInstance;
    readonly pool: pg.Pool;
    readonly state: AppState;
    close(): Promise<void>;
}

/** The app inside the test process, on a migrated database and a random port. */
export async function startInProcess(databaseUrl: string): Promise<InProcessApp> {
    const migrations = loadMigrations();
    await migrate(databaseUrl, silentLogger, migrations);
    const state = createAppState(requiredSchemaVersion(migrations));
    state.schemaReady = true;
    const pool = createPool(databaseUrl, silentLogger, { max: 20 });
    const app = await buildApp({ pool, logger: silentLogger, state, processMetrics: false });
    await app.listen({ port: 0, host: "127.0.0.1" });
    const { port } = app.server.address() as net.AddressInfo;
    return {
        base: `http://127.0.0.1:${port}`,
        app,
        pool,
        state,
        async close() {
            await app.close();
            await pool.end();
        },
    };
}

export interface ServiceFixture {
    readonly databaseUrl: string;
    readonly service: InProcessApp;
    countItems(): Promise<number>;
}

/** Mocha hooks for the enclosing describe: the app in process on a fresh database, with no items before each test. */
export function serviceWithNoItems(): ServiceFixture {
    let started: { databaseUrl: string; service: InProcessApp } | undefined;
    const current = () => {
        if (started === undefined) throw new Error("the service is only there inside the tests of its describe");
        return started;
    };
    before(async function () {
        const databaseUrl = await createDatabase();
        started = { databaseUrl, service: await startInProcess(databaseUrl) };
    });
    after(async function () {
        await started?.service.close();
    });
    beforeEach(async function () {
        await query(current().databaseUrl, "DELETE FROM items");
    });
    return {
        get databaseUrl() {
            return current().databaseUrl;
        },
        get service() {
            return current().service;
        },
        async countItems() {
            return Number((await query<{ n: string }>(current().databaseUrl, "SELECT count(*) AS n FROM items"))[0].n);
        },
    };
}

export interface ServerProcess {
    readonly base: string;
    readonly child: ChildProcess;
    readonly output: () => string;
    readonly exited: Promise<number | null>;
    stop(): Promise<void>;
}

/** Starts `node dist/server.js` as the container's CMD does, with only the given environment (and CMD's node flags). */
export async function spawnServer(
    env: Record<string, string>,
    options: { cwd?: string; waitFor?: "livez" | "readyz" | "nothing"; uid?: number; gid?: number; nodeFlags?: readonly string[] } = {},
): Promise<ServerProcess> {
    const port = env.PORT ?? String(await freePort());
    const child = spawn(process.execPath, [...(options.nodeFlags ?? []), "dist/server.js"], {
        cwd: options.cwd ?? APP_DIR,
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", PORT: port, LOG_LEVEL: "info", ...env },
        stdio: ["ignore", "pipe", "pipe"],
        uid: options.uid,
        gid: options.gid,
    });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const base = `http://127.0.0.1:${port}`;
    const server: ServerProcess = {
        base,
        child,
        output: () => output,
        exited,
        async stop() {
            if (child.exitCode === null && child.signalCode === null) {
                child.kill("SIGTERM");
                const timer = setTimeout(() => child.kill("SIGKILL"), 25_000);
                await exited;
                clearTimeout(timer);
            }
        },
    };
    const probe = options.waitFor ?? "readyz";
    if (probe !== "nothing") {
        let gone = false;
        void exited.then(() => (gone = true));
        try {
            await waitFor(
                async () => {
                    if (gone) throw new Error("exited");
                    return (await fetch(`${base}/${probe}`)).status === 200;
                },
                20_000,
                `${base}/${probe}`,
            );
        } catch (err) {
            await server.stop();
            throw new Error(`server did not become ${probe}: ${(err as Error).message}\n${output}`);
        }
    }
    return server;
}

export interface JsonResponse {
    readonly status: number;
    readonly headers: Headers;
    readonly body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests inspect arbitrary JSON
}

export async function request(
    base: string,
    method: string,
    urlPath: string,
    body?: unknown,
    headers: Record<string, string> = {},
): Promise<JsonResponse> {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
        // Strings and bytes go as they are, so tests can send malformed JSON or invalid UTF-8.
        init.body = typeof body === "string" ? body : body instanceof Uint8Array ? new Uint8Array(body) : JSON.stringify(body);
        (init.headers as Record<string, string>)["content-type"] ??= "application/json";
    }
    const response = await fetch(`${base}${urlPath}`, init);
    const text = await response.text();
    let parsed: unknown = text;
    if ((response.headers.get("content-type") ?? "").includes("application/json") && text !== "") parsed = JSON.parse(text);
    return { status: response.status, headers: response.headers, body: parsed };
}

/** A text/plain request with node:http, which sends any method and body (fetch refuses TRACE) and reads a JSON answer. */
export function rawRequest(
    base: string,
    method: string,
    path: string,
    body: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: unknown }> {
    return new Promise((resolve, reject) => {
        const req = http.request(
            `${base}${path}`,
            { method, headers: { "content-type": "text/plain", "content-length": Buffer.byteLength(body) } },
            (res) => {
                let text = "";
                res.setEncoding("utf8");
                res.on("data", (chunk: string) => (text += chunk));
                res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) }));
            },
        );
        req.on("error", reject);
        req.end(body);
    });
}
