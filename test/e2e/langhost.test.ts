import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { projectRoot } from "./engine";
import { environmentReportingPack, importableProvider } from "./langhost-fixtures";
import { ScratchProject, succeeded } from "./langhost-project";

/**
 * Our Node.js language host (tools/pulumi/pulumi-language-nodejs) through the real CLI, on throwaway
 * projects: what a `preview`/`up`/`import`/`about` user meets (issue 11, section 2).
 */

const project = (extra = "") => `name: lhtest\nruntime:\n  name: nodejs\n${extra}`;

describe("language host through the real engine", function () {
    this.timeout(5 * 60 * 1000);

    describe("cancel", () => {
        // The program's SIGINT handler needs 2 s to clean up. It only finishes when node is
        // interrupted and given time, not killed (the old host killed it on the second Ctrl-C).
        const program = `import * as fs from "fs";
const marker = process.env.MARKER_DIR as string;
process.on("SIGINT", () => {
    console.log("cleanup started");
    setTimeout(() => { fs.writeFileSync(marker + "/cleaned-up", "yes"); console.log("cleanup finished"); process.exit(130); }, 2000);
});
fs.writeFileSync(marker + "/started", "yes");
export const slow = new Promise((resolve) => setTimeout(() => resolve("done"), Number(process.env.SLOW_MS ?? "120000")));
`;
        for (const interrupts of [1, 2]) {
            it(`Ctrl-C ${interrupts === 1 ? "once" : "twice"} during up: node finishes its SIGINT cleanup, and the next up completes`, async () => {
                const p = new ScratchProject("cancel", { "program/Pulumi.yaml": project(), "program/index.ts": program });
                try {
                    await p.init();
                    const interrupted = await p.run(["up", "--yes", "--skip-preview"], { interruptAfter: "started", interrupts });
                    assert.notStrictEqual(interrupted.code, 0, interrupted.output);
                    assert.ok(p.exists("cleaned-up"), `node was killed before its cleanup finished:\n${interrupted.output}`);
                    assert.match(interrupted.output, /cleanup finished/);

                    p.env.SLOW_MS = "10";
                    const next = succeeded(await p.run(["up", "--yes", "--skip-preview"]));
                    assert.match(next, /slow\s*:\s*"done"/);
                } finally {
                    p.remove();
                }
            });
        }

        it("a create cut off by Ctrl-C is reported as pending by the next up, which completes; refresh --clear-pending-creates clears it", async () => {
            // A dynamic provider whose create takes a minute. The engine starts it through a script
            // it expects next to `pulumi`; the toolchain does not ship one, so the test brings its own.
            const p = new ScratchProject("pending", {
                "program/Pulumi.yaml": project(),
                "program/index.ts": `import * as pulumi from "@pulumi/pulumi";
const slow: pulumi.dynamic.ResourceProvider = {
    async create(inputs) {
        require("fs").writeFileSync(inputs.marker + "/creating", "yes");
        await new Promise((resolve) => setTimeout(resolve, inputs.ms));
        return { id: "slow-1", outs: inputs };
    },
};
class Slow extends pulumi.dynamic.Resource {
    constructor(name: string, args: { marker: string; ms: number }) {
        super(slow, name, args);
    }
}
new Slow("slow", { marker: process.env.MARKER_DIR as string, ms: Number(process.env.SLOW_MS ?? "60000") });
`,
                "bin/pulumi-resource-pulumi-nodejs": `#!/bin/sh
exec node "$(node -e "process.stdout.write(require.resolve('@pulumi/pulumi/cmd/dynamic-provider'))")" "$@"
`,
            });
            const extraPath = path.join(p.dir, "bin");
            fs.chmodSync(path.join(extraPath, "pulumi-resource-pulumi-nodejs"), 0o755);
            try {
                await p.init();
                const cut = await p.run(["up", "--yes", "--skip-preview"], { interruptAfter: "creating", interrupts: 2, extraPath });
                assert.notStrictEqual(cut.code, 0, cut.output);
                assert.match(p.checkpoint(), /"pending_operations":\[\{"resource":\{"urn":"[^"]*::slow"/, cut.output);

                p.env.SLOW_MS = "10";
                const next = succeeded(await p.run(["up", "--yes", "--skip-preview"], { extraPath }));
                assert.match(next, /1 pending operations from previous deployment/);
                assert.match(next, /pulumi-nodejs:dynamic:Resource::slow, interrupted while creating/);
                assert.match(next, /pulumi refresh/);

                succeeded(await p.run(["refresh", "--yes", "--skip-preview", "--clear-pending-creates"], { extraPath }));
                assert.doesNotMatch(p.checkpoint(), /"pending_operations":\[\{/);
                const clean = succeeded(await p.run(["up", "--yes", "--skip-preview"], { extraPath }));
                assert.doesNotMatch(clean, /pending operations/);
            } finally {
                p.remove();
            }
        });
    });

    describe("runtime options", () => {
        it("nodeargs and tsconfig from Pulumi.yaml reach node and ts-node", async () => {
            // The heap limit is far above what the program needs: a tight one only adds GC pressure, and once crashed V8.
            // tsconfig.json forbids implicit any, so the program only compiles with the tsconfig the option names.
            const p = new ScratchProject("options", {
                "program/Pulumi.yaml": project(
                    `  options:\n    nodeargs: "--max-old-space-size=2345 --title 'lhtest program'"\n    tsconfig: tsconfig.pulumi.json\n`,
                ),
                "program/tsconfig.json": JSON.stringify({ compilerOptions: { strict: true, noImplicitAny: true } }),
                "program/tsconfig.pulumi.json": JSON.stringify({ compilerOptions: { strict: false, noImplicitAny: false } }),
                "program/index.ts": `function untyped(x) { return x; }
export const execArgv = untyped(process.execArgv.join(" "));
export const title = process.title;
`,
            });
            try {
                await p.init();
                succeeded(await p.run(["up", "--yes", "--skip-preview"]));
                const outputs = JSON.parse(succeeded(await p.run(["stack", "output", "--json"])));
                assert.strictEqual(outputs.execArgv, "--max-old-space-size=2345 --title lhtest program");
                assert.strictEqual(outputs.title, "lhtest program");
            } finally {
                p.remove();
            }
        });

        it("a compiled program runs with node's compile cache beside its compile, or in the one NODE_COMPILE_CACHE names", async () => {
            // The cache is written when node exits, so the second run finds the first one's entries.
            const p = new ScratchProject("compile-cache", {
                "program/Pulumi.yaml": project(),
                "program/index.ts": `import * as nodeModule from "module";\nexport const cacheDir = nodeModule.getCompileCacheDir() ?? "none";\n`,
            });
            const own = fs.mkdtempSync(path.join(p.dir, "own-cache-"));
            try {
                await p.init();
                succeeded(await p.run(["up", "--yes", "--skip-preview"]));
                const cacheDir = JSON.parse(succeeded(await p.run(["stack", "output", "--json"]))).cacheDir as string;
                const compiles = path.join(p.programDir, "node_modules", ".cache", "pulumi-language-nodejs");
                // node keeps a folder per node version and V8 flags under the folder it is given.
                assert.match(cacheDir, /\/node_modules\/\.cache\/pulumi-language-nodejs\/[0-9a-f]{16}\/node\/v24\.[^/]+$/);
                assert.strictEqual(fs.realpathSync(path.dirname(path.dirname(path.dirname(cacheDir)))), fs.realpathSync(compiles));
                assert.ok(fs.readdirSync(cacheDir, { recursive: true }).length > 0, `node wrote nothing into ${cacheDir}`);

                p.env.NODE_COMPILE_CACHE = own;
                succeeded(await p.run(["up", "--yes", "--skip-preview"]));
                const second = JSON.parse(succeeded(await p.run(["stack", "output", "--json"]))).cacheDir as string;
                assert.strictEqual(path.dirname(second), own);
            } finally {
                p.remove();
            }
        });

        it("a program out of heap is told to raise it with nodeargs", async () => {
            const p = new ScratchProject("oom", {
                "program/Pulumi.yaml": project(`  options:\n    typescript: false\n    nodeargs: --max-old-space-size=64\n`),
                "program/index.js": `const chunks = [];
for (;;) {
    chunks.push(new Array(1e6).fill(Math.random()));
}
`,
            });
            try {
                await p.init();
                const run = await p.run(["preview"]);
                assert.notStrictEqual(run.code, 0);
                assert.match(run.output, /node ran out of memory; give it more heap with the runtime option in Pulumi\.yaml/);
            } finally {
                p.remove();
            }
        });

        it("a runtime option of the wrong type is refused with the key, the value and what is allowed", async () => {
            const p = new ScratchProject("bad-option", {
                "program/Pulumi.yaml": project(`  options:\n    nodeargs: 5\n`),
                "program/index.ts": "export const x = 1;\n",
            });
            try {
                await p.init();
                const run = await p.run(["preview"]);
                assert.notStrictEqual(run.code, 0);
                assert.match(run.output, /runtime\.options\.nodeargs: got 5; allowed: a string of node arguments/);
            } finally {
                p.remove();
            }
        });
    });

    it("node's stdout and stderr are pipes of the host, not the host's own descriptors", async () => {
        const p = new ScratchProject("output", {
            "program/Pulumi.yaml": project(),
            "program/index.ts": `import * as fs from "fs";
const link = (pid: string, fd: number) => fs.readlinkSync("/proc/" + pid + "/fd/" + fd);
console.log("hello from stdout");
console.error("hello from stderr");
export const fds = [1, 2].map((fd) => ({ node: link("self", fd), host: link(String(process.ppid), fd) }));
`,
        });
        try {
            await p.init();
            const up = succeeded(await p.run(["up", "--yes", "--skip-preview"]));
            assert.match(up, /hello from stdout/);
            assert.match(up, /hello from stderr/);
            const { fds } = JSON.parse(succeeded(await p.run(["stack", "output", "--json"])));
            for (const { node, host } of fds as { node: string; host: string }[]) {
                assert.match(node, /^pipe:/);
                assert.notStrictEqual(node, host, "node writes straight into the host's own descriptor");
            }
        } finally {
            p.remove();
        }
    });

    it("provider packages nested in node_modules and in workspace folders are found (pulumi about)", async () => {
        const provider = (name: string, version: string, pulumi: object) =>
            JSON.stringify({ name, version, pulumi: { resource: true, ...pulumi } });
        const p = new ScratchProject(
            "discovery",
            {
                "program/Pulumi.yaml": project(),
                "program/package.json": JSON.stringify({ name: "lhtest", dependencies: { "some-lib": "1.0.0" } }),
                "program/index.ts": "export const x = 1;\n",
                "program/node_modules/some-lib/package.json": JSON.stringify({ name: "some-lib", version: "1.0.0" }),
                "program/node_modules/some-lib/node_modules/@pulumi/nestedthing/package.json": provider("@pulumi/nestedthing", "1.2.3", {}),
                "program/packages/infra/node_modules/@acme/widgets/package.json": provider("@acme/widgets", "2.0.0", { name: "widgets" }),
                "program/.hidden/node_modules/@pulumi/hiddenthing/package.json": provider("@pulumi/hiddenthing", "9.9.9", {}),
            },
            { linkNodeModules: false },
        );
        try {
            const about = JSON.parse(succeeded(await p.run(["about", "--json"])));
            const plugins = (about.plugins as { name: string; version: string; kind: string }[])
                .filter((plugin) => plugin.kind === "resource")
                .map((plugin) => `${plugin.name}@${plugin.version}`)
                .sort();
            assert.deepStrictEqual(plugins, ["nestedthing@1.2.3", "widgets@2.0.0"]);
            assert.match(about.runtime.executable, /node$/);
            assert.match(about.runtime.version, /^v\d+\./);
            assert.deepStrictEqual(about.dependencies, [{ name: "some-lib", version: "1.0.0" }]);
        } finally {
            p.remove();
        }
    });

    it("pulumi install is refused with a message that says what to run instead", async () => {
        const p = new ScratchProject("install", { "program/Pulumi.yaml": project(), "program/index.ts": "export const x = 1;\n" });
        try {
            const run = await p.run(["install"]);
            assert.notStrictEqual(run.code, 0);
            assert.match(run.output, /offline Node\.js language host .* does not install dependencies: run `npm ci` in /);
        } finally {
            p.remove();
        }
    });

    describe("pulumi import", () => {
        // A Node.js provider (run by the host's RunPlugin) whose objects exist for any id.
        const providerFiles = {
            "provider/PulumiPlugin.yaml": "runtime: nodejs\n",
            "provider/package.json": JSON.stringify({ name: "lhthing", version: "1.0.0", main: "index.js" }),
            "provider/index.js": importableProvider,
        };
        const files = {
            ...providerFiles,
            "program/Pulumi.yaml": project("plugins:\n  providers:\n    - name: lhthing\n      path: ../provider\n"),
            "program/index.ts": "export const x = 1;\n",
        };
        const withProvider = (label: string) => {
            const p = new ScratchProject(label, files);
            fs.symlinkSync(path.join(projectRoot, "node_modules"), path.join(p.dir, "provider", "node_modules"), "dir");
            return p;
        };

        it("imports a resource and prints TypeScript for it", async () => {
            const p = withProvider("import");
            try {
                await p.init();
                succeeded(await p.run(["up", "--yes", "--skip-preview"]));
                const run = succeeded(await p.run(["import", "lhthing:index:Thing", "imported", "thing-abc", "--yes"]));
                assert.match(run, /= 1 imported/);
                assert.match(run, /new lhthing\.Thing\("imported", \{\s*value: "abc",?\s*\}/);
                assert.match(p.checkpoint(), /lhthing:index:Thing::imported/);
            } finally {
                p.remove();
            }
        });

        it("a failing import leaves the state as it was", async () => {
            const p = withProvider("import-fails");
            try {
                await p.init();
                succeeded(await p.run(["up", "--yes", "--skip-preview"]));
                const before = p.checkpoint();
                const run = await p.run(["import", "lhthing:index:Thing", "imported", "no-such-thing", "--yes"]);
                assert.notStrictEqual(run.code, 0);
                assert.match(run.output, /no thing with id no-such-thing/);
                assert.strictEqual(p.checkpoint(), before);
            } finally {
                p.remove();
            }
        });
    });

    it("a policy pack learns stack, project, organization, dry-run flag and config without --policy-pack-config", async () => {
        const p = new ScratchProject("policy-env", {
            "program/Pulumi.yaml": project(),
            "program/index.ts": "export const x = 1;\n",
            "pack/PulumiPolicy.yaml": "runtime: nodejs\n",
            "pack/package.json": JSON.stringify({ name: "lhpack", version: "1.0.0", main: "index.js" }),
            "pack/index.js": environmentReportingPack,
        });
        fs.symlinkSync(path.join(projectRoot, "policy", "node_modules"), path.join(p.dir, "pack", "node_modules"), "dir");
        try {
            await p.init("staging");
            succeeded(await p.run(["config", "set", "color", "teal", "--stack", "staging"]));
            const preview = succeeded(await p.run(["preview", "--stack", "staging", "--policy-pack", path.join(p.dir, "pack")]));
            assert.match(preview, /environment: stack=staging project=lhtest organization=organization dryRun=true color=teal/);
            const up = succeeded(
                await p.run(["up", "--yes", "--skip-preview", "--stack", "staging", "--policy-pack", path.join(p.dir, "pack")]),
            );
            assert.match(up, /environment: stack=staging project=lhtest organization=organization dryRun=false color=teal/);
        } finally {
            p.remove();
        }
    });
});
