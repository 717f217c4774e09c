import * as assert from "assert";
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/**
 * scripts/setup.sh runs its Go builds in two lanes at once (A: toolchain.sh; B: cluster-tools.sh then
 * checkers-tools.sh) and downloads the modules that the tool scripts list with --pending-modules. Here
 * the tool scripts are stand-ins that say when they start, wait for each other, fail or hang on demand,
 * and start a child of their own, as `go build` starts the compiler; the real setup.sh drives them.
 */

const projectRoot = path.resolve(__dirname, "..", "..");
const toolScripts = ["toolchain", "cluster-tools", "checkers-tools", "compose-tool"];

/**
 * A stand-in for scripts/<name>.sh. Its behaviour comes from the environment: STUB_<NAME>_PENDING is
 * what it prints for --pending-modules; STUB_<NAME> is "ok" (default), "fail", "hang", or
 * "wait:<other>" (it waits up to 20 s until <other> has started, and fails if it never does).
 */
function stub(name: string): string {
    const key = `STUB_${name.toUpperCase().replace("-", "_")}`;
    return `#!/usr/bin/env bash
set -euo pipefail
state="$STUB_STATE"
if [ "\${1:-}" = --pending-modules ]; then
  printf '%s\\n' \${${key}_PENDING:-}
  exit 0
fi
echo "$$" >"$state/${name}.pid"
sleep 300 &
echo "$!" >"$state/${name}.child"
echo "${name}: started"
case "\${${key}:-ok}" in
  ok) ;;
  fail)
    echo "${name}: building thing failed after 0s; the whole log is $state/${name}-thing.log"
    echo "${name}: next: read the log"
    exit 1 ;;
  hang) wait ;;
  wait:*)
    other="\${${key}#wait:}"
    for _ in $(seq 200); do [ -f "$state/$other.pid" ] && break; sleep 0.1; done
    [ -f "$state/$other.pid" ] || { echo "${name}: $other never started while I ran"; exit 1; } ;;
esac
kill "$!"
echo "${name}: finished"
`;
}

/** A scratch project: the real setup.sh and its libraries, stand-in tool scripts, npm installs done. */
function scratchProject(): { root: string; state: string; cache: string } {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "api-stack-setup-"));
    fs.mkdirSync(path.join(root, "scripts"));
    for (const file of ["setup.sh", "lib.sh", "env.sh", "node.sh"]) {
        fs.copyFileSync(path.join(projectRoot, "scripts", file), path.join(root, "scripts", file));
    }
    for (const name of toolScripts) {
        fs.writeFileSync(path.join(root, "scripts", `${name}.sh`), stub(name));
    }
    // setup skips `npm ci` where node_modules/.package-lock.json is newer than package-lock.json.
    const past = new Date(Date.now() - 60_000);
    for (const dir of [".", "app", "policy"]) {
        fs.mkdirSync(path.join(root, dir, "node_modules"), { recursive: true });
        fs.writeFileSync(path.join(root, dir, "package-lock.json"), "{}");
        fs.utimesSync(path.join(root, dir, "package-lock.json"), past, past);
        fs.writeFileSync(path.join(root, dir, "node_modules", ".package-lock.json"), "{}");
    }
    const state = path.join(root, "state");
    const cache = path.join(root, "cache");
    fs.mkdirSync(state);
    return { root, state, cache };
}

function environment(project: { state: string; cache: string }, extra: Record<string, string>): NodeJS.ProcessEnv {
    return { ...process.env, API_STACK_CACHE: project.cache, STUB_STATE: project.state, ...extra };
}

function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

/** The pids a stand-in recorded (itself and its child), for the ones that started. */
function recordedPids(state: string, name: string): number[] {
    return [`${name}.pid`, `${name}.child`]
        .map((file) => path.join(state, file))
        .filter((file) => fs.existsSync(file))
        .map((file) => Number(fs.readFileSync(file, "utf8").trim()));
}

/** Ends a process group that this test started (spawned with `detached: true`), by its id. */
function stop(child: ChildProcess): void {
    if (child.pid !== undefined && child.exitCode === null) {
        try {
            process.kill(-child.pid, "SIGKILL");
        } catch {
            // Already gone.
        }
    }
}

describe("scripts/setup.sh: builds in two lanes", function () {
    this.timeout(60_000);
    let project: ReturnType<typeof scratchProject>;
    const leftovers: number[] = [];
    beforeEach(() => {
        project = scratchProject();
    });
    afterEach(() => {
        // Whatever a failed assertion left running, by the pids the stand-ins recorded.
        for (const pid of toolScripts.flatMap((name) => recordedPids(project.state, name)).concat(leftovers.splice(0))) {
            if (alive(pid)) process.kill(pid, "SIGKILL");
        }
        fs.rmSync(project.root, { recursive: true, force: true });
    });

    function runSetup(extra: Record<string, string>) {
        const result = spawnSync("bash", [path.join(project.root, "scripts", "setup.sh")], {
            cwd: project.root,
            env: environment(project, extra),
            encoding: "utf8",
            timeout: 50_000,
        });
        return { status: result.status, stderr: result.stderr };
    }

    it("runs lane A and lane B at the same time, checkers after the cluster tools, each line prefixed", () => {
        // Each lane waits for the other to have started: run one after the other, the first one fails.
        const result = runSetup({ STUB_TOOLCHAIN: "wait:cluster-tools", STUB_CLUSTER_TOOLS: "wait:toolchain" });
        assert.strictEqual(result.status, 0, result.stderr);
        const lines = result.stderr.split("\n");
        for (const line of ["A | toolchain: finished", "B | cluster-tools: finished", "B | checkers-tools: finished"]) {
            assert.ok(lines.includes(line), `no line "${line}" in:\n${result.stderr}`);
        }
        assert.ok(lines.indexOf("B | cluster-tools: finished") < lines.indexOf("B | checkers-tools: started"), result.stderr);
        assert.match(lines.filter((line) => line !== "").at(-1) ?? "", /^setup: \[ *\d+s\] ready$/);
        // Nothing was due: no download was started, and the stand-in for the compose plugin never ran.
        assert.doesNotMatch(result.stderr, /prefetch:|compose-tool: started/);
        // Each lane's output is also in its own log, without the prefix.
        assert.match(fs.readFileSync(path.join(project.cache, "logs", "setup-lane-A.log"), "utf8"), /^toolchain: finished$/m);
    });

    it("a failing lane fails setup with the failing build's log and what to do next, and stops the other lane", () => {
        const result = runSetup({ STUB_TOOLCHAIN: "hang", STUB_CLUSTER_TOOLS: "fail" });
        assert.strictEqual(result.status, 1, result.stderr);
        // The failing build's log and the next step are in the summary at the end, after the other
        // lane's lines.
        const summary = result.stderr.slice(result.stderr.indexOf("scripts/checkers-tools.sh) failed (exit 1)"));
        assert.ok(summary.length < result.stderr.length, result.stderr);
        assert.ok(summary.includes(path.join(project.state, "cluster-tools-thing.log")), result.stderr);
        assert.match(summary, /cluster-tools: next: read the log/);
        assert.match(summary, /setup: next: .*rerun 'npm run setup'/);
        assert.doesNotMatch(result.stderr, /checkers-tools: started/);
        // Lane A's script and its child (as a compiler under `go build`) are gone once setup has exited.
        const laneA = recordedPids(project.state, "toolchain");
        assert.strictEqual(laneA.length, 2, "the stand-in for toolchain.sh had started");
        assert.deepStrictEqual(laneA.filter(alive), []);
    });

    it("a lane that fails at once still fails setup after the other lane succeeds", () => {
        const result = runSetup({ STUB_TOOLCHAIN: "fail" });
        assert.strictEqual(result.status, 1, result.stderr);
        assert.match(result.stderr, /lane A \(Pulumi toolchain: scripts\/toolchain\.sh\) failed \(exit 1\)/);
        assert.ok(result.stderr.includes(path.join(project.state, "toolchain-thing.log")), result.stderr);
        assert.doesNotMatch(result.stderr, /setup: \[ *\d+s\] ready/);
    });

    for (const [signal, code, said] of [
        ["SIGINT", 130, "interrupted"],
        ["SIGTERM", 143, "terminated"],
    ] as const) {
        it(`${signal} stops both lanes and every process they started, and exits ${code}`, async () => {
            const child = spawn("bash", [path.join(project.root, "scripts", "setup.sh")], {
                cwd: project.root,
                env: environment(project, { STUB_TOOLCHAIN: "hang", STUB_CLUSTER_TOOLS: "hang" }),
                detached: true,
                stdio: ["ignore", "ignore", "pipe"],
            });
            let stderr = "";
            child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
            const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
            try {
                const deadline = Date.now() + 20_000;
                while (!(/A \| toolchain: started/.test(stderr) && /B \| cluster-tools: started/.test(stderr))) {
                    assert.ok(Date.now() < deadline, `the lanes did not start:\n${stderr}`);
                    await new Promise((resolve) => setTimeout(resolve, 100));
                }
                const started = [...recordedPids(project.state, "toolchain"), ...recordedPids(project.state, "cluster-tools")];
                assert.strictEqual(started.length, 4);
                assert.deepStrictEqual(started.filter(alive), started);
                // Only setup itself: Ctrl-C reaches its process group, and the lanes have groups of their own.
                process.kill(child.pid ?? 0, signal);
                assert.strictEqual(await exited, code, stderr);
                assert.ok(stderr.includes(`${said}: stopping the builds`), stderr);
                assert.deepStrictEqual(started.filter(alive), []);
            } finally {
                stop(child);
            }
        });
    }

    it("downloads the modules the tool scripts list, once each; a failed download is reported and does not fail setup", () => {
        fs.mkdirSync(path.join(project.root, "tools", "empty"), { recursive: true });
        fs.writeFileSync(path.join(project.root, "tools", "empty", "go.mod"), "module example.com/empty\n\ngo 1.22\n");
        const result = runSetup({
            STUB_TOOLCHAIN_PENDING: "tools/empty tools/empty",
            STUB_CLUSTER_TOOLS_PENDING: "tools/no-such-folder",
            SETUP_PREFETCH_JOBS: "1",
        });
        assert.strictEqual(result.status, 0, result.stderr);
        assert.match(result.stderr, /prefetch: downloading the Go modules of tools\/empty tools\/no-such-folder \(1 at a time/);
        assert.match(result.stderr, /prefetch: tools\/empty in \d+s/);
        assert.match(
            result.stderr,
            /prefetch: tools\/no-such-folder failed after \d+s \(see .*prefetch\.log\); its build will download it again/,
        );
        assert.match(result.stderr, /setup: \[ *\d+s\] ready/);
    });

    it("refuses a SETUP_PREFETCH_JOBS that is not a whole number of 1 or more, naming the value", () => {
        const result = runSetup({ SETUP_PREFETCH_JOBS: "0" });
        assert.strictEqual(result.status, 1);
        assert.match(result.stderr, /SETUP_PREFETCH_JOBS is '0'; it must be a whole number of 1 or more/);
        assert.ok(!fs.existsSync(path.join(project.state, "toolchain.pid")), "no lane started");
    });
});

describe("tool scripts: --pending-modules lists the builds that are due and builds nothing", function () {
    this.timeout(60_000);
    let cache: string;
    beforeEach(() => {
        cache = fs.mkdtempSync(path.join(os.tmpdir(), "api-stack-pending-"));
    });
    afterEach(() => fs.rmSync(cache, { recursive: true, force: true }));

    /** With an empty cache and a PATH that has node and go but none of the tools. */
    function pending(script: string) {
        const node = path.dirname(process.execPath);
        const go = path.dirname(spawnSync("bash", ["-c", "command -v go"], { encoding: "utf8" }).stdout.trim());
        const result = spawnSync("bash", [path.join(projectRoot, "scripts", script), "--pending-modules"], {
            env: { ...process.env, API_STACK_CACHE: cache, PATH: `${node}:${go}:/usr/sbin:/usr/bin:/sbin:/bin` },
            encoding: "utf8",
            timeout: 50_000,
        });
        return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    }

    /** Files in the cache, apart from the folders that env.sh and the scripts create empty. */
    function built(): string[] {
        return (fs.readdirSync(cache, { recursive: true }) as string[]).filter((entry) => fs.statSync(path.join(cache, entry)).isFile());
    }

    it("toolchain.sh: the CLI's wrapper (for the CLI and the language host) and the two providers'", () => {
        const result = pending("toolchain.sh");
        assert.strictEqual(result.status, 0, result.stderr);
        assert.deepStrictEqual(result.stdout.split("\n"), [
            "tools/pulumi",
            "tools/pulumi",
            "tools/pulumi-kubernetes",
            "tools/pulumi-random",
            "",
        ]);
        assert.deepStrictEqual(built(), []);
    });

    it("cluster-tools.sh: its wrappers, and module@version for the two it builds with `go install`", () => {
        const result = pending("cluster-tools.sh");
        assert.strictEqual(result.status, 0, result.stderr);
        assert.deepStrictEqual(result.stdout.split("\n"), [
            "tools/kube",
            "tools/pause",
            "tools/etcd",
            "sigs.k8s.io/kwok@v0.8.0",
            "tools/coredns",
            "github.com/cloudnativelabs/kube-router/v2@v2.1.0",
            "",
        ]);
        assert.deepStrictEqual(built(), []);
    });

    it("checkers-tools.sh: kube-score's wrapper; the Python checkers are not installed", () => {
        const result = pending("checkers-tools.sh");
        assert.strictEqual(result.status, 0, result.stderr);
        assert.strictEqual(result.stdout, "tools/checkers\n");
        assert.ok(!fs.existsSync(path.join(cache, "venv")), "no venv was made");
        assert.deepStrictEqual(built(), []);
    });

    it("cluster-tools.sh refuses --pending-modules together with --print-env", () => {
        const result = spawnSync("bash", [path.join(projectRoot, "scripts", "cluster-tools.sh"), "--print-env", "--pending-modules"], {
            encoding: "utf8",
        });
        assert.strictEqual(result.status, 2);
        assert.match(result.stderr, /--print-env and --pending-modules exclude each other/);
    });
});
