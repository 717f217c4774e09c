import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/**
 * Every script a user runs answers --help, refuses unknown flags and bad values with a message
 * and exit code 2, and changes nothing when it refuses.
 */

const projectRoot = path.resolve(__dirname, "..", "..");
const scripts = ["deploy.sh", "cluster.sh", "setup.sh", "toolchain.sh", "node.sh", "cluster-tools.sh", "check-manifests.sh", "pg-test.sh"];

function run(script: string, args: string[], cwd = projectRoot) {
    const result = spawnSync("bash", [path.join(cwd, "scripts", script), ...args], { cwd, encoding: "utf8", timeout: 60_000 });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
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
    for (const file of [...files, "env.sh", "node.sh"]) {
        fs.copyFileSync(path.join(projectRoot, "scripts", file), path.join(copy, "scripts", file));
    }
    if (stackFile !== undefined) {
        fs.writeFileSync(path.join(copy, "Pulumi.dev.yaml"), stackFile);
        fs.symlinkSync(path.join(projectRoot, "node_modules"), path.join(copy, "node_modules"));
    }
    return copy;
}

describe("scripts: --help, unknown flags and bad values", () => {
    for (const script of scripts) {
        it(`${script} --help prints its usage and exits 0`, () => {
            const result = run(script, ["--help"]);
            assert.strictEqual(result.status, 0, result.output);
            assert.match(result.output, /usage/i);
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
        const copy = scratchProject(["cluster.sh"]);
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
});
