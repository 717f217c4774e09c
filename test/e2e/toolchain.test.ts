import * as assert from "assert";
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/**
 * What the engine actually runs, after scripts/toolchain.sh: the CLI and the registered plugins are the
 * versions package-lock.json locks (test/scripts/versions.test.ts checks the same from the source side),
 * the random plugin says it is our stand-in, and the language host starts programs on Node 24.
 */

const projectRoot = path.resolve(__dirname, "..", "..");
const lock = JSON.parse(fs.readFileSync(path.join(projectRoot, "package-lock.json"), "utf8")) as {
    packages: Record<string, { version: string }>;
};
const locked = (name: string) => lock.packages[`node_modules/${name}`].version;

function pulumi(args: string[], cwd: string, env: Record<string, string> = {}) {
    const result = spawnSync("pulumi", [...args, "--non-interactive"], {
        cwd,
        encoding: "utf8",
        timeout: 300_000,
        env: { ...process.env, ...env },
    });
    return { status: result.status, stdout: result.stdout, output: `${result.stdout}${result.stderr}` };
}

describe("toolchain: the engine runs the versions the SDKs ask for, on Node 24", () => {
    it("`pulumi version` is @pulumi/pulumi's version", () => {
        const result = pulumi(["version"], projectRoot);
        assert.strictEqual(result.status, 0, result.output);
        assert.strictEqual(result.stdout.trim(), `v${locked("@pulumi/pulumi")}`);
    });

    it("the registered kubernetes and random plugins are the SDKs' versions", () => {
        const result = pulumi(["plugin", "ls", "--json"], projectRoot);
        assert.strictEqual(result.status, 0, result.output);
        const plugins = (JSON.parse(result.stdout) as { name: string; kind: string; version: string }[])
            .filter((plugin) => plugin.kind === "resource")
            .map((plugin) => `${plugin.name} ${plugin.version}`);
        for (const name of ["kubernetes", "random"]) {
            assert.ok(
                plugins.includes(`${name} ${locked(`@pulumi/${name}`)}`),
                `${name} ${locked(`@pulumi/${name}`)} in ${plugins.join(", ")}`,
            );
        }
    });

    it("the random plugin's schema names its version and says it is our stand-in", () => {
        const result = pulumi(["package", "get-schema", `random@${locked("@pulumi/random")}`], projectRoot);
        assert.strictEqual(result.status, 0, result.output);
        const schema = JSON.parse(result.stdout) as { name: string; version: string; description: string };
        assert.strictEqual(schema.name, "random");
        assert.strictEqual(schema.version, locked("@pulumi/random"));
        assert.match(schema.description, /stand-in .*tools\/pulumi-random/);
    });

    it("the language host starts the program on Node 24", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "api-stack-node-program-"));
        try {
            fs.mkdirSync(path.join(dir, "state"));
            fs.writeFileSync(
                path.join(dir, "Pulumi.yaml"),
                "name: node-version\nruntime:\n  name: nodejs\n  options:\n    typescript: false\n",
            );
            fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "node-version", main: "index.js" }));
            fs.writeFileSync(path.join(dir, "index.js"), "exports.nodeVersion = process.version;\n");
            fs.symlinkSync(path.join(projectRoot, "node_modules"), path.join(dir, "node_modules"), "dir");
            fs.writeFileSync(path.join(dir, "passphrase"), crypto.randomBytes(16).toString("hex"), { mode: 0o600 });
            const env = { PULUMI_BACKEND_URL: `file://${dir}/state`, PULUMI_CONFIG_PASSPHRASE_FILE: path.join(dir, "passphrase") };
            for (const args of [
                ["stack", "init", "probe"],
                ["up", "--yes", "--skip-preview"],
            ]) {
                const step = pulumi(args, dir, env);
                assert.strictEqual(step.status, 0, step.output);
            }
            const output = pulumi(["stack", "output", "nodeVersion"], dir, env);
            assert.strictEqual(output.status, 0, output.output);
            assert.match(output.stdout.trim(), /^v24\./);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
