/**
 * npm run bench: a private PostgreSQL, the compiled server started as in the image, and autocannon for a fixed
 * time on a read path and a write path. Prints requests/s, p50/p99 latency and the server's peak RSS.
 * A measurement, not a test: it fails only if the service does not start or answers with errors.
 */
import autocannon from "autocannon";
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import pg from "pg";

const APP_DIR = path.join(__dirname, "..");
const SCRIPT = path.join(APP_DIR, "..", "scripts", "pg-test.sh");
const PG_ENV = { ...process.env, PG_TEST_STATE: path.join(APP_DIR, "..", ".pg-test", "bench") };
const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const SEED_ITEMS = 1_000;

const pgTest = (command: string) =>
    execFileSync("bash", [SCRIPT, command], {
        env: PG_ENV,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
    }).trim();
const progress = (message: string) => process.stderr.write(`bench: ${message}\n`);

function freePort(): Promise<number> {
    return new Promise((resolve) => {
        const server = net.createServer().listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

/** Peak resident set size of a process so far, from the kernel's high-water mark. */
function peakRssMiB(pid: number): number {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match === null ? NaN : Number(match[1]) / 1024;
}

async function waitReady(base: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
        if (
            await fetch(`${base}/readyz`).then(
                (r) => r.ok,
                () => false,
            )
        )
            return;
        await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`${base}/readyz did not answer 200 within 30 s`);
}

interface Row {
    readonly path: string;
    readonly rps: number;
    readonly p50: number;
    readonly p99: number;
    readonly errors: number;
}

async function run(title: string, options: autocannon.Options): Promise<Row> {
    progress(`${title}: ${DURATION_S} s, ${CONNECTIONS} connections`);
    const result = await autocannon({ ...options, duration: DURATION_S, connections: CONNECTIONS });
    return {
        path: title,
        rps: result.requests.average,
        p50: result.latency.p50,
        p99: result.latency.p99,
        errors: result.errors + result.timeouts + result.non2xx,
    };
}

async function main(): Promise<void> {
    progress("starting a private PostgreSQL (scripts/pg-test.sh)");
    const adminUrl = pgTest("start");
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query("DROP DATABASE IF EXISTS bench");
    await admin.query("CREATE DATABASE bench");
    await admin.end();
    const url = new URL(adminUrl);
    url.pathname = "/bench";

    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    // As in the image: node dist/server.js, production log level; logs go where a container's would, not to a terminal.
    const server = spawn(process.execPath, ["dist/server.js"], {
        cwd: APP_DIR,
        env: {
            PATH: process.env.PATH,
            NODE_ENV: "production",
            DATABASE_URL: url.toString(),
            PORT: String(port),
            LOG_LEVEL: "info",
        },
        stdio: ["ignore", "ignore", "inherit"],
    });
    const pid = server.pid ?? -1;
    try {
        await waitReady(base);
        progress(`seeding ${SEED_ITEMS} items`);
        const ids: string[] = [];
        for (let i = 0; i < SEED_ITEMS; i++) {
            const response = await fetch(`${base}/api/v1/items`, {
                method: "POST",
                headers: { "content-type": "application/json" },
                body: JSON.stringify({ name: `seed-${i}`, description: "benchmark seed row" }),
            });
            ids.push(((await response.json()) as { id: string }).id);
        }
        let next = 0;
        const rows = [
            await run("GET /api/v1/items/:id", {
                url: base,
                requests: [{ method: "GET", setupRequest: (req) => ({ ...req, path: `/api/v1/items/${ids[next++ % ids.length]}` }) }],
            }),
            await run("GET /api/v1/items?limit=20", { url: `${base}/api/v1/items?limit=20` }),
            await run("POST /api/v1/items", {
                url: `${base}/api/v1/items`,
                method: "POST",
                headers: { "content-type": "application/json" },
                body: JSON.stringify({ name: "bench", description: "written by autocannon" }),
            }),
        ];
        const peak = peakRssMiB(pid);
        console.log(`\nservice: node dist/server.js, pool max 10; load: autocannon ${CONNECTIONS} connections, ${DURATION_S} s per path`);
        console.log("| path | req/s | p50 ms | p99 ms | errors |");
        console.log("| --- | ---: | ---: | ---: | ---: |");
        for (const row of rows) console.log(`| ${row.path} | ${row.rps.toFixed(0)} | ${row.p50} | ${row.p99} | ${row.errors} |`);
        console.log(`peak RSS of the service: ${peak.toFixed(1)} MiB`);
        if (rows.some((row) => row.errors > 0)) process.exitCode = 1;
    } finally {
        server.kill("SIGTERM");
        await new Promise((resolve) => server.once("exit", resolve));
        pgTest("stop");
    }
}

main().catch((err) => {
    console.error(`bench: ${(err as Error).message}`);
    process.exitCode = 1;
});
