import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { apiImageRef, appDir, dockerBuild } from "../../scripts/api-image";
import { contentTag } from "../../components/build-context";
import { runProgram } from "../unit/harness";
import { docker, dockerStatus, imageSizeMb, publishedPort, removeAll, until } from "./docker";
import { ContainerRun, containerRun, dockerRunFlags, probePort } from "./pod-run";

/**
 * The API image for real: built from app/ with the committed Dockerfile on a real engine, then run as
 * the program's rendered Deployment runs it, against the PostgreSQL stand-in run as the program's
 * PostgreSQL pod. Needs the engine and the base images (scripts/test-container.sh provides both and
 * sets NODE_IMAGE, NODE_RUNTIME_IMAGE and POSTGRES_IMAGE).
 */

const suffix = `${process.pid}`;
const network = `api-stack-test-${suffix}`;
const pgName = `api-stack-test-pg-${suffix}`;
const apiName = `api-stack-test-api-${suffix}`;
const pgVolume = `api-stack-test-pgdata-${suffix}`;
const secrets = fs.mkdtempSync(path.join(os.tmpdir(), "api-stack-container-"));

function postgresImage(): { repository: string; tag: string } {
    const ref = process.env.POSTGRES_IMAGE;
    assert.ok(ref, "POSTGRES_IMAGE names the PostgreSQL image (run through scripts/test-container.sh)");
    return { repository: ref.slice(0, ref.lastIndexOf(":")), tag: ref.slice(ref.lastIndexOf(":") + 1) };
}

/** A host folder holding a Secret's files, owned and moded as the kubelet mounts them for fsGroup. */
function secretFolder(run: ContainerRun, mountPath: string, files: Record<string, string>): string {
    const secret = run.secrets.find((candidate) => candidate.mountPath === mountPath);
    assert.ok(secret, `a secret mounted at ${mountPath}`);
    const dir = fs.mkdtempSync(path.join(secrets, "secret-"));
    fs.chmodSync(dir, 0o755);
    for (const item of secret.items) {
        assert.ok(files[item.key] !== undefined, `a value for the secret key ${item.key}`);
        const file = path.join(dir, item.path);
        fs.writeFileSync(file, files[item.key]);
        fs.chownSync(file, 0, run.fsGroup ?? 0);
        fs.chmodSync(file, secret.mode);
    }
    return dir;
}

/**
 * Node.js code that prints every path outside /tmp (and /proc, /sys, /dev) that the user running it may write
 * to, as `find -writable` would: each entry is tested with access(2), which follows links, and only real
 * folders are entered. The image has no shell and no find; node is all there is to run.
 */
const printWritablePaths = `
const fs = require("fs");
const skipped = new Set(["/proc", "/sys", "/dev", "/tmp"]);
const writable = (file) => { try { fs.accessSync(file, fs.constants.W_OK); return true; } catch { return false; } };
const found = writable("/") ? ["/"] : [];
const walk = (dir) => {
    let entries = [];
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch {}
    for (const entry of entries) {
        const file = (dir === "/" ? "" : dir) + "/" + entry.name;
        if (skipped.has(file)) continue;
        if (writable(file)) found.push(file);
        if (entry.isDirectory()) walk(file);
    }
};
walk("/");
process.stdout.write(found.join("\\n"));
`;

/** What a runtime image needs none of: shells, npm and corepack, package managers, docs. */
const absentFromRuntime = [
    "/bin/sh",
    "/bin/bash",
    "/usr/bin/find",
    "/usr/local/bin/npm",
    "/usr/local/lib/node_modules/npm",
    "/usr/local/lib/node_modules/corepack",
    "/usr/bin/apt-get",
    "/usr/bin/dpkg",
    "/var/lib/apt/lists",
    "/usr/share/man",
];

/** Runs an exec probe of the spec in the container; true when it exits 0. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function execProbe(container: string, probe: any): boolean {
    return dockerStatus("exec", container, ...probe.exec.command).status === 0;
}

async function status(url: string): Promise<number | undefined> {
    try {
        return (await fetch(url, { signal: AbortSignal.timeout(2000) })).status;
    } catch {
        return undefined;
    }
}

/** A copy of app/ as a build context, without what .dockerignore leaves out anyway. */
function copyOfApp(): string {
    const copy = fs.mkdtempSync(path.join(secrets, "context-"));
    fs.cpSync(appDir, copy, { recursive: true, filter: (source) => !/[/\\](node_modules|dist)$/.test(source) });
    return copy;
}

describe("container: the API image built from app/ and run as its Deployment says", function () {
    this.timeout(20 * 60 * 1000);
    const ref = apiImageRef();
    let api: ContainerRun;
    let migration: ContainerRun;
    let postgres: ContainerRun;

    before(async () => {
        assert.strictEqual(dockerStatus("info").status, 0, "a Docker engine answers (npm run docker:up)");
        const image = postgresImage();
        const run = await runProgram("dev", {
            imageBuild: "false",
            imageRef: ref,
            postgresImageRepository: image.repository,
            postgresVersion: image.tag,
        });
        const apiPod = run.one("kubernetes:apps/v1:Deployment", "api").spec.template.spec;
        const postgresPod = run.one("kubernetes:apps/v1:Deployment", "postgres").spec.template.spec;
        assert.strictEqual(apiPod.containers[0].image, ref, "the Deployment runs the image built here");
        assert.strictEqual(postgresPod.containers[0].image, process.env.POSTGRES_IMAGE, "the PostgreSQL pod runs the stand-in");
        api = containerRun(apiPod);
        migration = containerRun(
            run.all("kubernetes:batch/v1:Job").find((job) => job.name === "api-database-migrate")?.inputs.spec.template.spec,
        );
        postgres = containerRun(postgresPod);
    });

    after(() => {
        removeAll([apiName, pgName], [network], [pgVolume]);
        fs.rmSync(secrets, { recursive: true, force: true });
    });

    it("builds cold and warm, and a change in src/ reuses the installed node_modules", () => {
        const cold = dockerBuild(`${ref}-cold`, ["--no-cache"]);
        docker("image", "rm", `${ref}-cold`);
        const warm = dockerBuild(ref);
        // Only RUN steps cost time (npm, tsc); the classic builder may redo a COPY when a --no-cache build left a
        // second chain of layers to choose from.
        for (const step of warm.log.split(/\nStep /).filter((candidate) => /^\d+\/\d+ : RUN /.test(candidate))) {
            assert.match(step, /Using cache/, `a warm build runs no RUN step again:\n${step}`);
        }

        // The same context with one line more in a source file, in a copy: app/ itself stays untouched.
        const copy = copyOfApp();
        fs.appendFileSync(path.join(copy, "src", "server.ts"), "\n// a change in src/\n");
        const changedBuild = dockerBuild(`${ref}-src-change`, [], copy);
        docker("image", "rm", `${ref}-src-change`);
        const changed = changedBuild.log;
        const changedSeconds = changedBuild.seconds;
        const steps = changed.split(/\nStep /).slice(1);
        // One npm step: the runtime image holds the bundles only, so nothing is pruned.
        const npmSteps = steps.filter((step) => /^\d+\/\d+ : RUN npm (ci|prune)/.test(step));
        assert.strictEqual(npmSteps.length, 1, `the npm ci step in the build:\n${changed}`);
        for (const step of npmSteps) {
            assert.match(step, /Using cache/, `node_modules must come from the layer cache after a change in src/:\n${step}`);
        }
        const build = steps.find((step) => /RUN npm run build/.test(step));
        assert.match(build ?? "", /Running in/, "the changed source is compiled again");
        console.log(
            `      API image builds: cold ${cold.seconds.toFixed(1)}s, warm ${warm.seconds.toFixed(1)}s, after a change in src/ ${changedSeconds.toFixed(1)}s (base ${process.env.NODE_IMAGE})`,
        );
    });

    it("names the failing step when the build breaks", () => {
        const copy = copyOfApp();
        fs.appendFileSync(path.join(copy, "src", "server.ts"), "\nconst broken: number = 'not a number';\n");
        assert.throws(
            () => dockerBuild(`${ref}-broken`, [], copy),
            (error: Error) => /failed at Step \d+\/\d+ : RUN npm run build/.test(error.message) && /TS2322/.test(error.message),
        );
    });

    it("is tagged by the program's content tag, never latest, at most 200 MB, and adds at most 30 MB to its base", async () => {
        docker("image", "inspect", ref);
        const built = await runProgram("dev", {});
        const programImage = built.one("docker:index/image:Image").imageName;
        assert.strictEqual(programImage, `api-stack/api:${contentTag(appDir)}`);
        assert.strictEqual(ref, programImage, "the content tag built here is the one the program computes");
        const tags = docker("image", "ls", "--format", "{{.Tag}}", ref.slice(0, ref.lastIndexOf(":"))).split("\n");
        assert.ok(!tags.includes("latest"), `no latest tag among ${tags.join(", ")}`);
        const size = imageSizeMb(ref);

        // The runtime base is what the Dockerfile's runtime stage starts from (NODE_RUNTIME_IMAGE); bin/node is most of it.
        const runtimeBase = process.env.NODE_RUNTIME_IMAGE;
        assert.ok(runtimeBase, "NODE_RUNTIME_IMAGE names the runtime base (run through scripts/test-container.sh)");
        const baseSize = imageSizeMb(runtimeBase);
        console.log(`      API image size: ${size.toFixed(0)} MB (runtime base ${runtimeBase}: ${baseSize.toFixed(0)} MB)`);
        assert.ok(size <= 200, `the image is ${size.toFixed(0)} MB; the target is at most 200 MB`);
        assert.ok(size - baseSize <= 30, `the app adds ${(size - baseSize).toFixed(0)} MB to its base; at most 30 MB`);
    });

    it("carries node and the app, and no shell, npm, corepack, package manager or docs", () => {
        const check = `const fs = require("fs"); process.stdout.write(JSON.stringify(${JSON.stringify(absentFromRuntime)}.filter((file) => fs.existsSync(file))))`;
        const present = JSON.parse(docker("run", "--rm", "--network", "none", ref, "node", "-e", check)) as string[];
        assert.deepStrictEqual(present, [], `the runtime image carries ${present.join(", ")}`);
        const entrypoint = docker("image", "inspect", "--format", "{{json .Config.Entrypoint}}", ref);
        assert.ok(["null", "[]"].includes(entrypoint), `no entrypoint of the base's, CMD is the whole command: ${entrypoint}`);
    });

    it("serves probes and items, runs nothing as root and writes nowhere but /tmp, then stops on SIGTERM with requests in flight", async () => {
        docker("network", "create", network);
        docker("volume", "create", pgVolume);
        const password = `pw-${suffix}-${Date.now()}`;
        const pgSecretPath = postgres.env.POSTGRES_PASSWORD_FILE;
        const pgSecretDir = secretFolder(postgres, path.dirname(pgSecretPath), { password });
        const pgFlags = dockerRunFlags(
            postgres,
            { [path.dirname(pgSecretPath)]: pgSecretDir },
            { [postgres.persistent[0].volume]: pgVolume },
        );
        docker("run", "-d", "--name", pgName, "--network", network, ...pgFlags, process.env.POSTGRES_IMAGE ?? "");
        await until("the PostgreSQL readiness probe passes", 120, () => execProbe(pgName, postgres.readinessProbe));
        assert.ok(execProbe(pgName, postgres.livenessProbe), "the PostgreSQL liveness probe passes");

        const urlFile = api.env.DATABASE_URL_FILE;
        assert.ok(urlFile, "the API reads its database URL from a file");
        const url = `postgres://${postgres.env.POSTGRES_USER}:${password}@${pgName}:${postgres.ports.postgres}/${postgres.env.POSTGRES_DB}`;
        // The release's migration Job first, as the program runs it: the API itself only checks the schema.
        const migrationFlags = dockerRunFlags(
            { ...migration, command: undefined },
            { [path.dirname(urlFile)]: secretFolder(migration, path.dirname(urlFile), { url: `${url}\n` }) },
            {},
        );
        docker("run", "--rm", "--network", network, ...migrationFlags, ref, ...(migration.command ?? []));
        const apiSecretDir = secretFolder(api, path.dirname(urlFile), { url: `${url}\n` });
        const httpPort = probePort(api, api.readinessProbe);
        const apiFlags = dockerRunFlags(api, { [path.dirname(urlFile)]: apiSecretDir }, {});
        docker("run", "-d", "--name", apiName, "--network", network, "--publish", `127.0.0.1::${httpPort}`, ...apiFlags, ref);
        const origin = `http://127.0.0.1:${publishedPort(apiName, httpPort)}`;
        const startup = api.startupProbe;
        await until(
            `the startup probe (${startup.httpGet.path}) passes within its budget`,
            startup.periodSeconds * startup.failureThreshold,
            async () => (await status(`${origin}${startup.httpGet.path}`)) === 200,
        );
        await until("the readiness probe passes", 60, async () => (await status(`${origin}${api.readinessProbe.httpGet.path}`)) === 200);
        assert.strictEqual(await status(`${origin}/livez`), 200);
        assert.strictEqual(await status(`${origin}/readyz`), 200);

        const created = await fetch(`${origin}/api/v1/items`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ name: `container-${suffix}` }),
        });
        assert.strictEqual(created.status, 201);
        const item = (await created.json()) as { id: string; name: string };
        const read = await fetch(`${origin}/api/v1/items/${item.id}`);
        assert.strictEqual(read.status, 200);
        assert.strictEqual(((await read.json()) as { name: string }).name, `container-${suffix}`);

        const processes = docker("top", apiName, "-o", "pid,uid,args").split("\n").slice(1);
        assert.ok(processes.length > 0, "the container runs a process");
        for (const line of processes) {
            const uid = Number(line.trim().split(/\s+/)[1]);
            assert.strictEqual(uid, api.uid, `every process runs as uid ${api.uid}, not root: ${line}`);
        }
        // /dev holds the device nodes and shared memory every container has; /proc and /sys are the kernel's.
        const writable = docker("exec", apiName, "node", "-e", printWritablePaths);
        assert.strictEqual(writable, "", `paths outside /tmp writable by uid ${api.uid}:\n${writable}`);
        const logs = dockerStatus("logs", apiName).output;
        assert.ok(!logs.includes(password), "the database password is never logged");

        // The kubelet runs the preStop hook first, then sends SIGTERM; the grace period counts both.
        const stopping = Date.now();
        const preStop = api.preStop;
        if (preStop && "exec" in preStop) {
            docker("exec", apiName, ...preStop.exec);
        } else if (preStop) {
            await new Promise((resolve) => setTimeout(resolve, preStop.sleepSeconds * 1000));
        }
        // Requests in flight: a lock held for 3 s (below the app's statement timeout) stalls them in the database.
        const psql = ["psql", "-U", postgres.env.POSTGRES_USER, "-d", postgres.env.POSTGRES_DB, "-c"];
        docker("exec", "-d", pgName, ...psql, "BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3); COMMIT;");
        await until(
            "the lock is held",
            10,
            () =>
                docker(
                    "exec",
                    pgName,
                    ...psql,
                    "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND relation = 'items'::regclass",
                    "-tA",
                ) === "1",
        );
        const inFlight = Array.from({ length: 8 }, (_, index) =>
            fetch(`${origin}/api/v1/items`, {
                method: "POST",
                headers: { "content-type": "application/json" },
                body: JSON.stringify({ name: `in-flight-${index}` }),
            }).then((response) => response.status),
        );
        await new Promise((resolve) => setTimeout(resolve, 500));
        docker("kill", "--signal", "TERM", apiName);
        const answers = await Promise.all(inFlight);
        const exitCode = Number(docker("wait", apiName));
        const seconds = (Date.now() - stopping) / 1000;
        assert.deepStrictEqual(answers, Array(8).fill(201), "every request in flight completes");
        assert.strictEqual(exitCode, 0, `exit code after SIGTERM; log:\n${dockerStatus("logs", apiName).output}`);
        assert.ok(seconds < api.terminationGracePeriodSeconds, `stopped in ${seconds}s, within the grace period`);
        console.log(`      stopped ${seconds.toFixed(1)}s after preStop began (grace ${api.terminationGracePeriodSeconds}s)`);
    });
});
