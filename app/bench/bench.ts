/**
 * npm run bench: a private PostgreSQL, the compiled server started as in the image and, when --peer or BENCH_PEER
 * names one, a server to compare with, each on its own fresh database of that PostgreSQL. Each is seeded, then
 * loaded path by path with autocannon; req/s, p50/p99 and the server's peak RSS are printed for every run.
 * A measurement, not a test: it fails only if a server does not start or answers with errors.
 */
import autocannon from "autocannon";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import pg from "pg";
import { imageRuntime } from "./image";
import { parseOptions, USAGE, UsageError, type BenchOptions, type Pinning } from "./options";
import { cpusAllowed, figures, parentPid, peakRssKiB, processTree, table, type PathResult, type RunFigures } from "./stats";

const APP_DIR = path.join(__dirname, "..");
const SCRIPT = path.join(APP_DIR, "..", "scripts", "pg-test.sh");
const PG_ENV = { ...process.env, PG_TEST_STATE: path.join(APP_DIR, "..", ".pg-test", "bench") };
const STOP_TIMEOUT_MS = 25_000;

const pgTest = (command: string) =>
    execFileSync("bash", [SCRIPT, command], { env: PG_ENV, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
const progress = (message: string) => process.stderr.write(`bench: ${message}\n`);

function freePort(): Promise<number> {
    return new Promise((resolve) => {
        const server = net.createServer().listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

/** The server's processes: the one started and its descendants (a peer may be a shell that starts it). */
function serverPids(root: number): number[] {
    const parents = new Map<number, number>();
    for (const entry of readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            parents.set(Number(entry), parentPid(readFileSync(`/proc/${entry}/stat`, "utf8")));
        } catch {
            // The process ended while the table was read.
        }
    }
    return processTree(root, parents);
}

/**
 * Resets the kernel's peak-RSS mark of each process (clear_refs 5, Linux 4.0+), so the next reading covers one run.
 * False when the kernel refuses: the readings then cover everything since start.
 */
function resetPeaks(pids: readonly number[]): boolean {
    try {
        for (const pid of pids) writeFileSync(`/proc/${pid}/clear_refs`, "5");
        return true;
    } catch {
        return false;
    }
}

/** Sum of the peaks: exact for one process, an upper bound for a tree. */
const peakMiB = (pids: readonly number[]) =>
    pids.reduce((sum, pid) => sum + peakRssKiB(readFileSync(`/proc/${pid}/status`, "utf8")), 0) / 1024;

async function waitReady(base: string, server: ChildProcess): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
        if (server.exitCode !== null || server.signalCode !== null)
            throw new Error(`the server exited (${server.exitCode ?? server.signalCode}) before it was ready`);
        if (
            await fetch(`${base}/readyz`).then(
                (r) => r.ok,
                () => false,
            )
        )
            return;
        await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`${base}/readyz did not answer 200 within 60 s`);
}

async function seed(base: string, count: number): Promise<string[]> {
    const ids: string[] = [];
    const worker = async () => {
        while (ids.length < count) {
            const response = await fetch(`${base}/api/v1/items`, {
                method: "POST",
                headers: { "content-type": "application/json" },
                body: JSON.stringify({ name: `seed-${ids.length}`, description: "benchmark seed row" }),
            });
            if (response.status !== 201)
                throw new Error(`seeding: POST /api/v1/items answered ${response.status}: ${await response.text()}`);
            ids.push(((await response.json()) as { id: string }).id);
        }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    return ids;
}

/** The load of each path; GET by id walks the seeded ids. */
function loads(base: string, ids: readonly string[]): [string, autocannon.Options][] {
    let next = 0;
    return [
        [
            "GET /api/v1/items/:id",
            {
                url: base,
                requests: [{ method: "GET", setupRequest: (req) => ({ ...req, path: `/api/v1/items/${ids[next++ % ids.length]}` }) }],
            },
        ],
        ["GET /api/v1/items?limit=20", { url: `${base}/api/v1/items?limit=20` }],
        [
            "POST /api/v1/items",
            {
                url: `${base}/api/v1/items`,
                method: "POST",
                headers: { "content-type": "application/json" },
                body: JSON.stringify({ name: "bench", description: "written by autocannon" }),
            },
        ],
    ];
}

interface Target {
    readonly name: string;
    /** How it is started, for the report. */
    readonly describe: string;
    start(env: { PORT: string; DATABASE_URL: string }): ChildProcess;
}

/** The command line that starts `command` on the servers' CPUs (taskset execs it: the pid stays the server's). */
const onServerCpus = (pin: Pinning | undefined, command: readonly string[]): [string, string[]] =>
    pin === undefined ? [command[0], command.slice(1)] : ["taskset", ["-c", pin.server, ...command]];

/**
 * The service as the image runs it: the Dockerfile's CMD (its node flags, dist/server.js) and ENV, log level info,
 * logs discarded as a container runtime's log files would take them.
 */
function oursTarget(pin: Pinning | undefined): Target {
    const { env: imageEnv, command } = imageRuntime(readFileSync(path.join(APP_DIR, "Dockerfile"), "utf8"));
    if (command[0] !== "node") throw new Error(`the Dockerfile's CMD starts ${JSON.stringify(command[0])}, not node: update the bench`);
    const describe = [...Object.entries(imageEnv).map(([key, value]) => `${key}=${value}`), ...command].join(" ");
    return {
        name: "ours",
        describe,
        start: (env) =>
            spawn(...onServerCpus(pin, [process.execPath, ...command.slice(1)]), {
                cwd: APP_DIR,
                env: { PATH: process.env.PATH, ...imageEnv, LOG_LEVEL: "info", ...env },
                stdio: ["ignore", "ignore", "inherit"],
                detached: true,
            }),
    };
}

const peerTarget = (command: string, pin: Pinning | undefined): Target => ({
    name: "peer",
    describe: command,
    start: (env) =>
        spawn(...onServerCpus(pin, ["bash", "-c", command]), {
            env: { ...process.env, ...env },
            stdio: ["ignore", "ignore", "inherit"],
            detached: true,
        }),
});

/** Stops the server's whole process group, and waits for it. */
async function stop(server: ChildProcess): Promise<void> {
    if (server.exitCode !== null || server.signalCode !== null || server.pid === undefined) return;
    const exited = new Promise((resolve) => server.once("exit", resolve));
    process.kill(-server.pid, "SIGTERM");
    const timer = setTimeout(() => server.pid !== undefined && process.kill(-server.pid, "SIGKILL"), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
}

async function measure(
    target: Target,
    databaseUrl: string,
    options: BenchOptions,
): Promise<{ runs: Map<string, RunFigures>; perRun: boolean; cpus: string }> {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    progress(`${target.name}: starting on port ${port}`);
    const server = target.start({ PORT: String(port), DATABASE_URL: databaseUrl });
    const runs = new Map<string, RunFigures>();
    let perRun = true;
    let cpus = "";
    try {
        await waitReady(base, server);
        cpus = cpusAllowed(readFileSync(`/proc/${server.pid}/status`, "utf8"));
        progress(`${target.name}: seeding ${options.seedItems} items`);
        const ids = await seed(base, options.seedItems);
        for (const [title, load] of loads(base, ids)) {
            if (options.warmupS > 0) {
                progress(`${target.name}: ${title}: warm-up, ${options.warmupS} s`);
                await autocannon({ ...load, duration: options.warmupS, connections: options.connections });
            }
            const pids = serverPids(server.pid ?? -1);
            perRun = resetPeaks(pids) && perRun;
            progress(`${target.name}: ${title}: ${options.durationS} s, ${options.connections} connections`);
            const result = await autocannon({ ...load, duration: options.durationS, connections: options.connections });
            runs.set(title, figures(result, peakMiB(pids)));
        }
    } finally {
        await stop(server);
    }
    return { runs, perRun, cpus };
}

async function freshDatabase(admin: pg.Client, adminUrl: string, name: string): Promise<string> {
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    return url.toString();
}

async function main(): Promise<void> {
    let options: BenchOptions | "help";
    try {
        options = parseOptions(process.argv.slice(2), process.env);
    } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        process.stderr.write(`bench: ${err.message}\n`);
        process.exit(2);
    }
    if (options === "help") {
        console.log(USAGE);
        return;
    }

    // PostgreSQL inherits the CPUs this process has when it starts it; then this process moves to the load's.
    const pinSelf = (cpus: string) => execFileSync("taskset", ["-a", "-p", "-c", cpus, String(process.pid)], { stdio: "ignore" });
    if (options.pin !== undefined) pinSelf(options.pin.database);
    const databaseCpus = cpusAllowed(readFileSync("/proc/self/status", "utf8"));
    progress("starting a private PostgreSQL (scripts/pg-test.sh)");
    const adminUrl = pgTest("start");
    if (options.pin !== undefined) pinSelf(options.pin.load);
    try {
        const admin = new pg.Client({ connectionString: adminUrl });
        await admin.connect();
        const oursUrl = await freshDatabase(admin, adminUrl, "bench_ours");
        const peerUrl = options.peer === undefined ? undefined : await freshDatabase(admin, adminUrl, "bench_peer");
        await admin.end();

        const ours = oursTarget(options.pin);
        const mine = await measure(ours, oursUrl, options);
        const peer = options.peer === undefined ? undefined : peerTarget(options.peer, options.pin);
        const theirs = peer === undefined || peerUrl === undefined ? undefined : await measure(peer, peerUrl, options);
        const results: PathResult[] = [...mine.runs].map(([title, figures]) => ({
            path: title,
            ours: figures,
            peer: theirs?.runs.get(title),
        }));

        console.log(
            `\nours: ${ours.describe} (node ${process.version}), LOG_LEVEL=info; ` +
                (peer === undefined ? "" : `peer: ${peer.describe}; `) +
                `load: autocannon, ${options.connections} connections, ${options.warmupS} s warm-up + ${options.durationS} s per path, ${options.seedItems} seeded items`,
        );
        // Read back from /proc, so the line shows what the kernel applied, not only what was asked for.
        const loadCpus = cpusAllowed(readFileSync("/proc/self/status", "utf8"));
        const placement =
            `ours on ${mine.cpus}${theirs === undefined ? "" : `, peer on ${theirs.cpus}`}, ` +
            `load generator on ${loadCpus}, PostgreSQL on ${databaseCpus}`;
        console.log(
            options.pin === undefined
                ? `CPUs: not pinned (${placement})`
                : `CPUs: pinned with --pin ${options.pin.server}:${options.pin.load}:${options.pin.database}: ${placement}`,
        );
        console.log(table(results, options.peer === undefined ? undefined : "peer"));
        const perRun = mine.perRun && (theirs?.perRun ?? true);
        console.log(
            perRun
                ? "peak RSS: the highest resident set size of the server process(es) during that run"
                : "peak RSS: since each server started (the kernel refused to reset the mark)",
        );
        if (results.some((r) => r.ours.errors + (r.peer?.errors ?? 0) > 0)) process.exitCode = 1;
    } finally {
        pgTest("stop");
    }
}

main().catch((err) => {
    console.error(`bench: ${(err as Error).message}`);
    process.exitCode = 1;
});
