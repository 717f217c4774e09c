import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/**
 * The SDK packages that the program runs on and the engine binaries that scripts/toolchain.sh builds
 * must be the same versions: the state records the plugin version the SDK asks for, and the
 * Automation API checks the CLI's version. toolchain.sh takes every version from package-lock.json;
 * these tests hold it to that and hold the wrapper modules under tools/ to it.
 */

const projectRoot = path.resolve(__dirname, "..", "..");
const wrapperGoMods = ["tools/pulumi/go.mod", "tools/pulumi-kubernetes/go.mod", "tools/pulumi-random/go.mod"];

interface Lockfile {
    packages: Record<string, { version: string }>;
}

function readJson<T>(file: string): T {
    return JSON.parse(fs.readFileSync(file, "utf8")) as T;
}

function lockedVersion(lock: Lockfile, name: string): string | undefined {
    return lock.packages[`node_modules/${name}`]?.version;
}

/** Runs `toolchain.sh --versions` in `root`; on success, its versions by binary name. */
function toolchainVersions(root: string) {
    const result = spawnSync("bash", [path.join(root, "scripts", "toolchain.sh"), "--versions"], {
        cwd: root,
        encoding: "utf8",
        timeout: 60_000,
    });
    const versions = new Map(
        result.stdout
            .trim()
            .split("\n")
            .map((line) => line.split(" ") as [string, string]),
    );
    return { status: result.status, output: `${result.stdout}${result.stderr}`, versions };
}

/** A scratch copy of what `toolchain.sh --versions` reads, with the lockfile changed by `edit`. */
function scratchRoot(edit: (lock: Lockfile) => void): string {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), "api-stack-versions-"));
    for (const file of ["scripts/toolchain.sh", "scripts/env.sh", "scripts/lib.sh", "scripts/node.sh", ...wrapperGoMods]) {
        fs.mkdirSync(path.dirname(path.join(copy, file)), { recursive: true });
        fs.copyFileSync(path.join(projectRoot, file), path.join(copy, file));
    }
    const lock = readJson<Lockfile>(path.join(projectRoot, "package-lock.json"));
    edit(lock);
    fs.writeFileSync(path.join(copy, "package-lock.json"), JSON.stringify(lock));
    return copy;
}

describe("versions: the SDK packages and the binaries the toolchain builds agree", () => {
    const lock = readJson<Lockfile>(path.join(projectRoot, "package-lock.json"));
    const sdkOf: Record<string, string> = { pulumi: "@pulumi/pulumi", kubernetes: "@pulumi/kubernetes", random: "@pulumi/random" };
    const toolchain = toolchainVersions(projectRoot);

    it("toolchain.sh --versions builds exactly what package-lock.json locks", () => {
        assert.strictEqual(toolchain.status, 0, toolchain.output);
        for (const [binary, sdk] of Object.entries(sdkOf)) {
            assert.strictEqual(toolchain.versions.get(binary), lockedVersion(lock, sdk), `${binary} vs ${sdk}`);
        }
    });

    it("each provider SDK asks the engine for the plugin version the toolchain registers", () => {
        for (const name of ["kubernetes", "random"]) {
            const manifest = readJson<{ pulumi?: { name?: string; version?: string } }>(
                path.join(projectRoot, "node_modules", "@pulumi", name, "package.json"),
            );
            assert.deepStrictEqual(
                { name: manifest.pulumi?.name, version: manifest.pulumi?.version },
                { name, version: toolchain.versions.get(name) },
                `the "pulumi" block of @pulumi/${name}'s package.json`,
            );
        }
    });

    it("the CLI and the language host are built from pkg/v3 and sdk/v3 at the SDK's version", () => {
        const goMod = fs.readFileSync(path.join(projectRoot, "tools/pulumi/go.mod"), "utf8");
        const cli = toolchain.versions.get("pulumi");
        assert.match(goMod, new RegExp(`^\\s*github\\.com/pulumi/pulumi/pkg/v3 v${cli}\\b`, "m"));
        assert.match(goMod, new RegExp(`^\\s*github\\.com/pulumi/pulumi/sdk/v3 v${cli}\\b`, "m"));
    });

    it("the program, its providers and the policy pack all load the one @pulumi/pulumi the CLI matches", () => {
        const cli = toolchain.versions.get("pulumi");
        const nested = Object.keys(lock.packages).filter((key) => key.endsWith("/node_modules/@pulumi/pulumi"));
        assert.deepStrictEqual(nested, [], "no package brings its own copy of the SDK");
        const policyLock = readJson<Lockfile>(path.join(projectRoot, "policy", "package-lock.json"));
        assert.strictEqual(lockedVersion(policyLock, "@pulumi/pulumi"), cli, "policy/package-lock.json");
    });

    for (const doc of ["README.md", "docs/toolchain.md"]) {
        it(`${doc}'s toolchain table shows the versions that run`, () => {
            const text = fs.readFileSync(path.join(projectRoot, doc), "utf8");
            const node = /^API_STACK_NODE=(\S+)$/m.exec(fs.readFileSync(path.join(projectRoot, "scripts", "node.sh"), "utf8"))?.[1];
            const rows: Record<string, string | undefined> = {
                pulumi: toolchain.versions.get("pulumi"),
                "pulumi-language-nodejs": toolchain.versions.get("pulumi"),
                "pulumi-resource-kubernetes": toolchain.versions.get("kubernetes"),
                "pulumi-resource-random": toolchain.versions.get("random"),
                node,
            };
            for (const [binary, version] of Object.entries(rows)) {
                const row = new RegExp(`^\\| \`${binary}\` (\\S+) \\|`, "m").exec(text);
                assert.strictEqual(row?.[1], version, `the row of ${binary}`);
            }
        });
    }

    it("refuses a @pulumi/kubernetes that no wrapper module builds, naming both versions", () => {
        const copy = scratchRoot((edited) => {
            edited.packages["node_modules/@pulumi/kubernetes"].version = "4.34.2";
        });
        try {
            const result = toolchainVersions(copy);
            assert.strictEqual(result.status, 1, result.output);
            assert.match(result.output, /locks @pulumi\/kubernetes 4\.34\.2, which no wrapper module under tools\/ builds/);
            assert.match(result.output, /next: /);
        } finally {
            fs.rmSync(copy, { recursive: true, force: true });
        }
    });

    it("refuses a @pulumi/pulumi other than the CLI that tools/pulumi builds", () => {
        const cli = toolchain.versions.get("pulumi");
        const copy = scratchRoot((edited) => {
            edited.packages["node_modules/@pulumi/pulumi"].version = "3.270.0";
        });
        try {
            const result = toolchainVersions(copy);
            assert.strictEqual(result.status, 1, result.output);
            assert.match(
                result.output,
                new RegExp(
                    `tools/pulumi/go.mod requires github.com/pulumi/pulumi/pkg/v3 'v${cli}', but @pulumi/pulumi 3.270.0 needs v3.270.0`,
                ),
            );
        } finally {
            fs.rmSync(copy, { recursive: true, force: true });
        }
    });
});
