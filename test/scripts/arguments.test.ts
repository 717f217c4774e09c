import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/**
 * Every script a user runs (a scripts/*.sh with a shebang; the others are sourced) takes its helpers
 * from scripts/lib.sh, answers --help, refuses unknown flags and bad values with a message and exit
 * code 2, and changes nothing when it refuses.
 */

const projectRoot = path.resolve(__dirname, "..", "..");
const runnable = fs
    .readdirSync(path.join(projectRoot, "scripts"))
    .filter((file) => file.endsWith(".sh") && fs.readFileSync(path.join(projectRoot, "scripts", file), "utf8").startsWith("#!"))
    // npm runs this one as its script shell (`npm-shell.sh -c '<script>'`); no user starts it.
    .filter((file) => file !== "npm-shell.sh")
    .sort();

/** What a script does wrong against scripts/lib.sh: no source line, or a helper or --help of its own. */
function libProblems(script: string): string[] {
    const text = fs.readFileSync(path.join(projectRoot, "scripts", script), "utf8");
    const problems: string[] = [];
    if (!/^\. "\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)\/lib\.sh"$/m.test(text)) {
        problems.push("does not source scripts/lib.sh");
    }
    for (const helper of text.match(/^\s*(die|say|usage|usage_error|log)\(\)/gm) ?? []) {
        problems.push(`defines ${helper.trim()} itself`);
    }
    if (/sed -n '\d+,\d+p' "\$0"/.test(text)) {
        problems.push("prints --help from a fixed line range");
    }
    return problems;
}

// Only scripts that use the library are run below: one that does not fails the first test instead,
// without being started with arguments it may not check.
const scripts = runnable.filter((script) => libProblems(script).length === 0);

function run(script: string, args: string[], cwd = projectRoot) {
    const result = spawnSync("bash", [path.join(cwd, "scripts", script), ...args], { cwd, encoding: "utf8", timeout: 60_000 });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr, output: `${result.stdout}${result.stderr}` };
}

/** The comment block at the top of a script (after the shebang), without the "# ": its --help. */
function header(script: string): string {
    const lines = fs
        .readFileSync(path.join(projectRoot, "scripts", script), "utf8")
        .split("\n")
        .slice(1);
    const end = lines.findIndex((line) => !line.startsWith("#"));
    return lines
        .slice(0, end)
        .map((line) => line.replace(/^# ?/, ""))
        .join("\n")
        .concat("\n");
}

/** The long options that the script's argument parser accepts (its `case` patterns). */
function acceptedOptions(script: string): string[] {
    const text = fs.readFileSync(path.join(projectRoot, "scripts", script), "utf8");
    const patterns = text.split("\n").filter((line) => /^\s*-[-\w]+(=\*)?( \| -[-\w]+(=\*)?)*\)/.test(line));
    return [...new Set(patterns.flatMap((line) => line.split(")")[0].match(/--[a-z][\w-]*/g) ?? []))];
}

/** Files under the folders a refused command must not touch. */
function snapshot(): string[] {
    return [".pulumi-local", ".local-cluster"]
        .filter((dir) => fs.existsSync(path.join(projectRoot, dir)))
        .flatMap((dir) => fs.readdirSync(path.join(projectRoot, dir), { recursive: true }).map((entry) => `${dir}/${String(entry)}`))
        .sort();
}

/** A scratch project holding copies of `files` from scripts/ and, optionally, a stack file. */
function scratchProject(files: string[], stackFile?: string): string {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), "api-stack-scripts-"));
    fs.mkdirSync(path.join(copy, "scripts"));
    for (const file of [...files, "env.sh", "lib.sh", "node.sh"]) {
        fs.copyFileSync(path.join(projectRoot, "scripts", file), path.join(copy, "scripts", file));
    }
    if (stackFile !== undefined) {
        fs.writeFileSync(path.join(copy, "Pulumi.dev.yaml"), stackFile);
        fs.symlinkSync(path.join(projectRoot, "node_modules"), path.join(copy, "node_modules"));
    }
    return copy;
}

describe("scripts: one shell library", () => {
    it("finds the scripts a user runs", () => {
        assert.ok(runnable.includes("deploy.sh") && runnable.includes("cluster.sh"), runnable.join(", "));
        assert.ok(!runnable.includes("lib.sh") && !runnable.includes("env.sh"), "sourced files have no shebang");
    });

    for (const script of runnable) {
        it(`${script} takes die, say, usage_error and its --help from scripts/lib.sh`, () => {
            assert.deepStrictEqual(libProblems(script), []);
        });
    }
});

describe("scripts: --help, unknown flags and bad values", () => {
    for (const script of scripts) {
        it(`${script} --help prints its usage and exits 0`, () => {
            const result = run(script, ["--help"]);
            assert.strictEqual(result.status, 0, result.output);
            assert.match(result.output, /usage/i);
        });

        it(`${script} --help prints its whole header comment and nothing else`, () => {
            const result = run(script, ["--help"]);
            assert.strictEqual(result.stdout, header(script));
            assert.strictEqual(result.stderr, "");
            assert.match(result.stdout, /^Usage: scripts\//m);
            for (const option of acceptedOptions(script)) {
                assert.ok(result.stdout.includes(option), `${script} accepts ${option} but its --help does not mention it`);
            }
        });

        it(`${script} --no-such-flag exits 2, names the flag, and changes nothing`, () => {
            const before = snapshot();
            const result = run(script, ["--no-such-flag"]);
            assert.strictEqual(result.status, 2, result.output);
            assert.match(result.output, /--no-such-flag/);
            assert.deepStrictEqual(snapshot(), before);
        });
    }

    it("deploy.sh --stack with an unknown stack lists the stacks there are", () => {
        const result = run("deploy.sh", ["--stack", "staging"]);
        assert.strictEqual(result.status, 2);
        assert.match(result.output, /no Pulumi\.staging\.yaml.*dev.*prod/);
    });

    it("deploy.sh refuses a configured kubeconfig that does not exist, before starting anything", () => {
        const copy = scratchProject(["deploy.sh"], "config:\n  kubernetes:kubeconfig: /nonexistent/kubeconfig\n");
        try {
            const result = run("deploy.sh", ["--stack", "dev"], copy);
            assert.strictEqual(result.status, 2, result.output);
            assert.match(result.output, /kubernetes:kubeconfig .*'\/nonexistent\/kubeconfig', which does not exist/);
            assert.ok(!fs.existsSync(path.join(copy, ".local-cluster", "kubeconfig")), "no cluster was started");
        } finally {
            fs.rmSync(copy, { recursive: true, force: true });
        }
    });

    it("cluster.sh status on a cluster that is not up says so and exits non-zero", () => {
        const copy = scratchProject(["cluster.sh", "cluster-net.sh", "cluster-node.sh"]);
        try {
            const result = run("cluster.sh", ["status"], copy);
            assert.notStrictEqual(result.status, 0);
            assert.match(result.output, /down|not (up|running)/i);
        } finally {
            fs.rmSync(copy, { recursive: true, force: true });
        }
    });

    it("cluster.sh up --nodes 0 is refused", () => {
        const result = run("cluster.sh", ["up", "--nodes", "0"]);
        assert.strictEqual(result.status, 2);
        assert.match(result.output, /--nodes/);
    });

    for (const [args, message] of [
        [["down", "--no-network-policy"], /--no-network-policy only applies to 'up'/],
        [["up", "--simulated-only", "--no-network-policy"], /--no-network-policy needs the real node .*drop --simulated-only/],
    ] as const) {
        it(`cluster.sh ${args.join(" ")} is refused, naming the flag`, () => {
            const result = run("cluster.sh", [...args]);
            assert.strictEqual(result.status, 2);
            assert.match(result.output, message);
        });
    }

    it("cluster.sh up with API_STACK_NODE_READY_SECONDS that is not a number of seconds is refused, naming it", () => {
        const result = spawnSync("bash", [path.join(projectRoot, "scripts", "cluster.sh"), "status"], {
            encoding: "utf8",
            env: { ...process.env, API_STACK_NODE_READY_SECONDS: "soon" },
        });
        assert.strictEqual(result.status, 2);
        assert.match(result.stderr, /API_STACK_NODE_READY_SECONDS must be a whole number of seconds from 1 to 9999, got 'soon'/);
    });
});
