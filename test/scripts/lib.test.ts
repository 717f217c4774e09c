import * as assert from "assert";
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { localStorageClass } from "../../stacks/local-cluster";

/**
 * scripts/lib.sh: the helpers every script sources, and the lock that keeps two runs from writing the
 * per-user cache at once.
 */

const projectRoot = path.resolve(__dirname, "..", "..");
const lib = path.join(projectRoot, "scripts", "lib.sh");

/** Writes `body` as scratch/scripts/<name>, a script that sources the real lib.sh, and runs it. */
function runScript(scratch: string, name: string, body: string, args: string[] = []) {
    const file = path.join(scratch, name);
    fs.writeFileSync(file, `#!/usr/bin/env bash\n${body.replace("SOURCE_LIB", `. "${lib}"`)}`);
    const result = spawnSync("bash", [file, ...args], { encoding: "utf8", timeout: 30_000 });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Everything a child process writes to stderr, as it comes. */
class Stderr {
    text = "";
    constructor(private readonly child: ChildProcess) {
        child.stderr?.on("data", (chunk: Buffer) => (this.text += chunk.toString()));
    }

    /** Resolves once the text matches `pattern`; rejects after `ms`. */
    waitFor(pattern: RegExp, ms: number): Promise<void> {
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`no ${String(pattern)} within ${ms}ms; stderr so far:\n${this.text}`)), ms);
            const check = () => {
                if (pattern.test(this.text)) {
                    clearTimeout(timer);
                    this.child.stderr?.off("data", check);
                    resolve();
                }
            };
            this.child.stderr?.on("data", check);
            check();
        });
    }
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

describe("scripts/lib.sh", () => {
    let scratch: string;
    beforeEach(() => {
        scratch = fs.mkdtempSync(path.join(os.tmpdir(), "api-stack-lib-"));
    });
    afterEach(() => fs.rmSync(scratch, { recursive: true, force: true }));

    it("usage prints the whole header comment, however long, and stops at the first line that is not a comment", () => {
        const headerLines = Array.from({ length: 20 }, (_, i) => `line ${i + 1} of the help`);
        const body = [
            ...headerLines.map((line) => `# ${line}`),
            "#",
            "#   indented",
            "set -euo pipefail",
            "# not help",
            "SOURCE_LIB",
            "usage",
        ];
        const result = runScript(scratch, "long-help.sh", body.join("\n"));
        assert.strictEqual(result.status, 0, result.stderr);
        assert.strictEqual(result.stdout, [...headerLines, "", "  indented", ""].join("\n"));
    });

    it("die prints what failed and what to do next, prefixed by the script's name, and exits with the code given", () => {
        const result = runScript(scratch, "fails.sh", 'SOURCE_LIB\ndie "the disk is full" "free some space, then rerun" 3');
        assert.strictEqual(result.status, 3);
        assert.strictEqual(result.stderr, "fails: the disk is full\nfails: next: free some space, then rerun\n");
        assert.strictEqual(runScript(scratch, "fails.sh", "SOURCE_LIB\ndie 'no next step'").status, 1);
    });

    it("usage_error exits 2 and points at the script's --help", () => {
        const result = runScript(scratch, "strict.sh", "SOURCE_LIB\nusage_error \"unknown option '--x'\"");
        assert.strictEqual(result.status, 2);
        assert.strictEqual(result.stderr, "strict: unknown option '--x'\nstrict: see 'scripts/strict.sh --help'\n");
    });

    it("say writes a progress line with the elapsed seconds to stderr only", () => {
        const result = runScript(scratch, "talks.sh", 'SOURCE_LIB\nsay "building kube-score"');
        assert.strictEqual(result.stdout, "");
        assert.match(result.stderr, /^talks: \[ {3}\ds\] building kube-score\n$/);
    });

    it("pid_is_ours matches a process only by a marker in its command line: within an argument, or whole with --exact", async () => {
        const state = path.join(scratch, "state");
        const kubeconfig = `--kubeconfig=${state}/kubeconfig`;
        // The trailing `:` keeps bash from exec'ing sleep, so the process's own arguments stay as given.
        const daemon = spawn("bash", ["-c", "sleep 60; :", "daemon", kubeconfig, `--config=${state}/node/kubelet.yaml`], {
            detached: true,
            stdio: "ignore",
        });
        try {
            const pid = String(daemon.pid);
            const ask = (...args: string[]) =>
                runScript(scratch, "ask.sh", 'SOURCE_LIB\nif pid_is_ours "$@"; then echo ours; else echo not; fi', args).stdout.trim();
            assert.strictEqual(ask(pid, `${state}/node/`), "ours", "a path within an argument");
            assert.strictEqual(ask(pid, `${scratch}/other-checkout/node/`), "not", "another checkout's path");
            assert.strictEqual(ask(pid, kubeconfig, "--exact"), "ours", "the whole argument");
            assert.strictEqual(ask(pid, `--kubeconfig=${state}/kube`, "--exact"), "not", "only the start of an argument, with --exact");
            assert.strictEqual(ask(pid, `--kubeconfig=${state}/kube`), "ours", "the same start, within an argument");
            // /proc/self and /proc/cmdline (an empty pid) name other processes' lines, never a pid of ours.
            assert.strictEqual(ask("self", scratch), "not");
            assert.strictEqual(ask("", ""), "not");
            process.kill(-Number(pid), "SIGKILL");
            await new Promise((resolve) => daemon.once("exit", resolve));
            assert.strictEqual(ask(pid, `${state}/node/`), "not", "a pid that no longer runs");
        } finally {
            stop(daemon);
        }
    });

    it("the local StorageClass has the same name for the scripts and for the program (stacks/local-cluster.ts)", () => {
        const result = spawnSync("bash", ["-c", `. "${lib}" && printf %s "$API_STACK_STORAGE_CLASS"`], { encoding: "utf8" });
        assert.strictEqual(result.stdout, localStorageClass);
    });
});

describe("scripts: one writer of the per-user cache at a time", function () {
    this.timeout(60_000);
    let scratch: string;
    const children: ChildProcess[] = [];
    beforeEach(() => {
        scratch = fs.mkdtempSync(path.join(os.tmpdir(), "api-stack-lock-"));
    });
    afterEach(() => {
        children.splice(0).forEach(stop);
        fs.rmSync(scratch, { recursive: true, force: true });
    });

    function start(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
        const child = spawn(command, args, { cwd: scratch, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
        children.push(child);
        return child;
    }

    it("of two runs at once, only the first builds: the second waits for the lock, then finds the build done", async () => {
        // What toolchain.sh and checkers-tools.sh do: take the lock, then check the stamp, then build.
        const builder = path.join(scratch, "builder.sh");
        fs.writeFileSync(
            builder,
            [
                "set -euo pipefail",
                `. "${lib}"`,
                'hold_lock 9 "$PWD/cache.lock"',
                'if [ -f stamp ]; then say "$1: up to date"; exit 0; fi',
                'say "$1: building"',
                "sleep 2",
                'echo "$1" >>builds',
                "touch stamp",
            ].join("\n"),
        );
        const first = new Stderr(start("bash", [builder, "first"]));
        await first.waitFor(/first: building/, 10_000);
        const second = new Stderr(start("bash", [builder, "second"]));
        await second.waitFor(/second: up to date/, 20_000);
        assert.match(second.text, /another run holds .*cache\.lock; waiting for it/);
        assert.strictEqual(fs.readFileSync(path.join(scratch, "builds"), "utf8"), "first\n");
    });

    for (const script of ["toolchain.sh", "checkers-tools.sh", "cluster-tools.sh"]) {
        it(`${script} waits for a run that holds its cache lock before it checks or builds anything`, async () => {
            const project = path.join(scratch, "project");
            fs.mkdirSync(path.join(project, "scripts"), { recursive: true });
            // Every script, so that whatever env.sh sources is there too.
            for (const file of fs.readdirSync(path.join(projectRoot, "scripts")).filter((name) => name.endsWith(".sh"))) {
                fs.copyFileSync(path.join(projectRoot, "scripts", file), path.join(project, "scripts", file));
            }
            // toolchain.sh checks that the lock and the wrapper modules agree before it locks the cache.
            for (const file of [
                "package.json",
                "package-lock.json",
                "tools/pulumi/go.mod",
                "tools/pulumi-kubernetes/go.mod",
                "tools/pulumi-random/go.mod",
            ]) {
                fs.mkdirSync(path.dirname(path.join(project, file)), { recursive: true });
                fs.copyFileSync(path.join(projectRoot, file), path.join(project, file));
            }
            const cache = path.join(scratch, "cache");
            fs.mkdirSync(cache);
            const lockFile = path.join(cache, script.replace(/\.sh$/, ".lock"));
            const holder = start("flock", [lockFile, "sh", "-c", "echo locked >&2; exec sleep 60"]);
            await new Stderr(holder).waitFor(/locked/, 10_000);

            // The node that runs this test comes first on PATH, so env.sh finds it and installs none in the scratch cache.
            const env = { ...process.env, API_STACK_CACHE: cache, PATH: `${path.dirname(process.execPath)}:${process.env.PATH}` };
            const waiting = start("bash", [path.join(project, "scripts", script)], env);
            const log = new Stderr(waiting);
            await log.waitFor(/waiting for it/, 20_000);
            await new Promise((resolve) => setTimeout(resolve, 2_000));
            assert.strictEqual(waiting.exitCode, null, "it is still waiting");
            assert.match(log.text, new RegExp(`^[\\w-]+: \\[ *\\d+s\\] another run holds ${lockFile}; waiting for it \\.\\.\\.\\n$`));
            assert.deepStrictEqual(fs.readdirSync(path.join(cache, "bin")), [], "nothing was built or installed");
            assert.ok(!fs.existsSync(path.join(cache, "venv")), "no venv was created");
        });
    }
});
