import * as assert from "assert";
import { ChildProcess, execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { containerRun, probePort } from "../container/pod-run";
import { projectRoot, runProgram } from "../unit/harness";

/**
 * The contract between the program and app/: take the API container spec the program produces
 * and start the compiled server the way that spec (and the Dockerfile's CMD) would, against a
 * real PostgreSQL, then call the probes at the spec's paths and port. A program and an app that
 * drifted apart (a renamed env var, another port or path, a write outside /tmp) fail here.
 */

const appDir = path.join(projectRoot, "app");
const pgState = fs.mkdtempSync(path.join(os.tmpdir(), "api-stack-contract-pg-"));
const pgScript = path.join(projectRoot, "scripts", "pg-test.sh");

/** CMD of app/Dockerfile, e.g. ["node", "dist/server.js"]. */
function dockerfileCommand(): string[] {
    const cmd = /^CMD\s+(\[.*\])\s*$/m.exec(fs.readFileSync(path.join(appDir, "Dockerfile"), "utf8"));
    assert.ok(cmd, "app/Dockerfile has an exec-form CMD");
    return JSON.parse(cmd[1]) as string[];
}

async function get(port: number, probePath: string): Promise<number | undefined> {
    try {
        const response = await fetch(`http://127.0.0.1:${port}${probePath}`, { signal: AbortSignal.timeout(2000) });
        return response.status;
    } catch {
        return undefined;
    }
}

async function until(what: string, seconds: number, check: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + seconds * 1000;
    while (!(await check())) {
        if (Date.now() > deadline) {
            throw new Error(`${what} within ${seconds}s (the probe budget of the spec)`);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
    }
}

describe("contract: the API container spec runs the app as its probes expect", function () {
    this.timeout(5 * 60 * 1000);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    let pod: any;
    /** The release's migration Job's pod: it migrates before the API, which only checks the schema. */
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    let migrationPod: any;
    let server: ChildProcess | undefined;
    let serverLog = "";
    const secretDir = fs.mkdtempSync(path.join(os.tmpdir(), "api-stack-contract-secret-"));

    before(async () => {
        const run = await runProgram("dev", { imageBuild: "false", imageRef: "registry.example.com/api-stack/api:1.4.2" });
        pod = run.one("kubernetes:apps/v1:Deployment", "api").spec.template.spec;
        migrationPod = run.all("kubernetes:batch/v1:Job").find((job) => job.name === "api-database-migrate")?.inputs.spec.template.spec;
        execFileSync("npm", ["run", "build"], { cwd: appDir, stdio: "ignore" });
        const databaseUrl = execFileSync("bash", [pgScript, "start"], {
            env: { ...process.env, PG_TEST_STATE: pgState },
            encoding: "utf8",
        }).trim();
        fs.writeFileSync(path.join(secretDir, "url"), `${databaseUrl}\n`);
    });

    after(() => {
        server?.kill("SIGKILL");
        execFileSync("bash", [pgScript, "stop"], { env: { ...process.env, PG_TEST_STATE: pgState }, stdio: "ignore" });
        fs.rmSync(pgState, { recursive: true, force: true });
        fs.rmSync(secretDir, { recursive: true, force: true });
    });

    it("starts from the spec, passes startup, readiness and liveness probes, and stops cleanly on SIGTERM", async () => {
        const container = pod.containers[0];
        const run = containerRun(pod);
        const urlFile = run.env.DATABASE_URL_FILE;
        const secret = run.secrets.find((candidate) => urlFile.startsWith(`${candidate.mountPath}/`));
        assert.ok(secret, "DATABASE_URL_FILE lies under a volume mount");
        assert.deepStrictEqual(secret.items, [{ key: "url", path: path.basename(urlFile) }]);
        const tmp = run.scratch.find((dir) => dir.mountPath === "/tmp");
        assert.ok(tmp?.size, "/tmp is an emptyDir with a size limit");
        const httpPort = probePort(run, container.readinessProbe);
        assert.strictEqual(run.readOnlyRoot, true);
        const uid = run.uid;
        const gid = run.fsGroup ?? run.gid;
        assert.strictEqual(await get(httpPort, "/livez"), undefined, `port ${httpPort} must be free for this test`);

        const launcher = path.join(__dirname, "launch-like-pod.sh");
        const args = ["--uid", String(uid), "--gid", String(gid), "--secret-dir", secretDir, "--secret-mount", secret.mountPath];
        args.push("--workdir", appDir, "--node-dir", path.dirname(process.execPath));
        args.push("--tmp-size", tmp.size);
        // Each container gets only its own spec's environment.
        const envArgs = (environment: Record<string, string>) =>
            [...Object.entries(environment).map(([name, value]) => `${name}=${value}`), "PATH=/run/node:/usr/bin:/bin"].flatMap(
                (variable) => ["--env", variable],
            );
        const node = (command: string[]) => (command[0] === "node" ? ["/run/node/node", ...command.slice(1)] : command);
        const migrationRun = containerRun(migrationPod);
        assert.strictEqual(migrationRun.uid, uid, "the migration Job runs as the API's uid");
        assert.strictEqual(migrationRun.env.DATABASE_URL_FILE, urlFile, "and reads its URL from the same path");
        const migrationArgs = [...args, ...envArgs(migrationRun.env), "--", ...node(migrationPod.containers[0].command)];
        const migrated = spawnSync("bash", [launcher, ...migrationArgs], {
            cwd: appDir,
            encoding: "utf8",
            timeout: 120_000,
        });
        assert.strictEqual(migrated.status, 0, `the migration Job's command exits 0:\n${migrated.stdout}${migrated.stderr}`);
        assert.match(migrated.stdout, /"msg":"migrations done"/);

        const command = dockerfileCommand();
        server = spawn("bash", [launcher, ...args, ...envArgs(run.env), "--", ...node(command)], {
            cwd: appDir,
            stdio: ["ignore", "pipe", "pipe"],
        });
        server.stdout?.on("data", (chunk: Buffer) => (serverLog += chunk.toString()));
        server.stderr?.on("data", (chunk: Buffer) => (serverLog += chunk.toString()));
        const exited = new Promise<number | null>((resolve) => server?.on("exit", (code) => resolve(code)));

        const startup = container.startupProbe;
        await until(
            "startup probe never passed",
            startup.periodSeconds * startup.failureThreshold,
            async () => (await get(httpPort, startup.httpGet.path)) === 200,
        );
        const readiness = container.readinessProbe;
        await until("readiness probe never passed", 60, async () => (await get(httpPort, readiness.httpGet.path)) === 200);
        assert.strictEqual(await get(httpPort, container.livenessProbe.httpGet.path), 200);
        const status = fs.readFileSync(`/proc/${server.pid}/status`, "utf8");
        assert.match(status, new RegExp(`^Uid:\\s+${uid}\\s`, "m"), "runs as the spec's uid");
        assert.ok(!serverLog.includes(fs.readFileSync(path.join(secretDir, "url"), "utf8").trim()), "the URL is never logged");
        assert.ok(!/EROFS|read-only file system/i.test(serverLog), `the app wrote outside /tmp:\n${serverLog}`);

        const started = Date.now();
        server.kill("SIGTERM");
        const code = await exited;
        assert.strictEqual(code, 0, `exit code after SIGTERM; log:\n${serverLog}`);
        assert.ok(Date.now() - started < pod.terminationGracePeriodSeconds * 1000, "stops within the grace period");
        server = undefined;
    });
});
