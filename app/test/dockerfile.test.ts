import assert from "node:assert/strict";
import { execSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { APP_DIR, createDatabase, request, spawnServer } from "./helpers";

interface Instruction {
    readonly keyword: string;
    readonly args: string;
}
interface Stage {
    /** What FROM names, as written: the base image's ARG or an earlier stage. */
    readonly from: string;
    readonly name: string | undefined;
    readonly instructions: Instruction[];
}
interface Dockerfile {
    /** The ARGs before the first FROM, with their defaults: only the FROM lines see them. */
    readonly globalArgs: ReadonlyMap<string, string | undefined>;
    readonly stages: Stage[];
}

/** How the stages name their bases; the ARGs before the first FROM give them: npm runs on the first, node on the second. */
const BASE_IMAGE = "$" + "{NODE_IMAGE}";
const RUNTIME_IMAGE = "$" + "{NODE_RUNTIME_IMAGE}";

/** `NAME=value` or `NAME`, as ARG and ENV write them (one per line); quotes around the value go. */
function parseAssignment(keyword: string, args: string): [string, string | undefined] {
    const match = /^([A-Za-z_]\w*)(?:=(.*))?$/.exec(args);
    assert.ok(match, `${keyword} ${args}: expected NAME=value`);
    return [match[1], match[2]?.replace(/^"(.*)"$|^'(.*)'$/, "$1$2")];
}

/** Enough of a Dockerfile parser for our file: comments, line continuations, one instruction per line. */
function parseDockerfile(text: string): Dockerfile {
    const globalArgs = new Map<string, string | undefined>();
    const stages: Stage[] = [];
    for (const raw of text.replace(/\\\n/g, " ").split("\n")) {
        const line = raw.trim();
        if (line === "" || line.startsWith("#")) continue;
        const [word, ...rest] = line.split(/\s+/);
        const keyword = word.toUpperCase();
        const args = rest.join(" ");
        if (keyword === "FROM") {
            const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
            assert.ok(match, `FROM ${args}`);
            stages.push({ from: match[1], name: match[2], instructions: [] });
        } else if (stages.length === 0) {
            assert.equal(keyword, "ARG", `${keyword} before the first FROM: only ARG may come there`);
            globalArgs.set(...parseAssignment(keyword, args));
        } else {
            stages[stages.length - 1].instructions.push({ keyword, args });
        }
    }
    return { globalArgs, stages };
}

/** The Node.js major the tooling runs on: scripts/node.sh installs that version where the machine's node is older. */
function toolingNodeMajor(): string {
    const file = path.join(APP_DIR, "..", "scripts", "node.sh");
    const match = /^API_STACK_NODE=(\d+)\.\d+\.\d+$/m.exec(readFileSync(file, "utf8"));
    assert.ok(match, `${file} has no API_STACK_NODE=<major>.<minor>.<patch> line`);
    return match[1];
}

const text = readFileSync(path.join(APP_DIR, "Dockerfile"), "utf8");
const dockerfile = parseDockerfile(text);
const runtime = dockerfile.stages[dockerfile.stages.length - 1];
const last = (keyword: string) => runtime.instructions.filter((i) => i.keyword === keyword).pop()?.args;

/** A stage replayed on the host: its folder stands for its WORKDIR, the only place its steps write to. */
interface StageFolder {
    readonly dir: string;
    workdir: string | undefined;
    readonly env: Record<string, string>;
}

/** Where a path of a stage's image lies in the stage's folder. */
function hostPath(folder: StageFolder, imagePath: string): string {
    assert.ok(folder.workdir !== undefined, `${imagePath} used before any WORKDIR`);
    const relative = path.posix.relative(folder.workdir, path.posix.resolve(folder.workdir, imagePath));
    assert.ok(!relative.startsWith(".."), `${imagePath} lies outside WORKDIR ${folder.workdir}, which is all the replay models`);
    return path.join(folder.dir, relative);
}

describe("Dockerfile", function () {
    it("builds on the official node bookworm-slim image and runs on distroless, both of the tooling's major, as a numeric non-root user on port 8000", function () {
        assert.ok(!/^#\s*syntax\s*=/im.test(text), "no `# syntax=` line: it makes BuildKit pull a frontend image");
        const major = toolingNodeMajor();
        assert.match(
            dockerfile.globalArgs.get("NODE_IMAGE") ?? "",
            new RegExp(`^node:${major}\\.\\d+\\.\\d+-bookworm-slim$`),
            `ARG NODE_IMAGE before the first FROM must default to node:${major}.<minor>.<patch>-bookworm-slim`,
        );
        assert.equal(
            dockerfile.globalArgs.get("NODE_RUNTIME_IMAGE"),
            `gcr.io/distroless/nodejs${major}-debian12:nonroot`,
            "ARG NODE_RUNTIME_IMAGE: a runtime base of the same major without npm, shell or package manager",
        );
        assert.ok(dockerfile.stages.length >= 2, "a build stage and a runtime stage");
        const earlier = new Set<string>();
        for (const stage of dockerfile.stages.slice(0, -1)) {
            assert.ok(
                stage.from === BASE_IMAGE || earlier.has(stage.from),
                `FROM ${stage.from}: allowed are ${BASE_IMAGE} and the earlier stages (${[...earlier].join(", ")})`,
            );
            if (stage.name !== undefined) {
                assert.ok(!earlier.has(stage.name), `stage ${stage.name} is named twice`);
                earlier.add(stage.name);
            }
        }
        assert.equal(
            runtime.from,
            RUNTIME_IMAGE,
            "the runtime stage starts from the runtime base: no npm, no build stage's dev dependencies or CA come along",
        );
        assert.match(last("USER") ?? "", /^[1-9]\d{4,}(:\d+)?$/, "USER must be numeric and >= 10000");
        assert.equal(last("EXPOSE"), "8000");
        // The base's entrypoint (distroless: /nodejs/bin/node) goes; CMD is the whole command, node found on PATH.
        assert.deepEqual(JSON.parse(last("ENTRYPOINT") ?? "null"), []);
        assert.match(
            runtime.instructions.find((i) => i.keyword === "ENV" && i.args.startsWith("PATH="))?.args ?? "",
            /^PATH=\/nodejs\/bin:/,
        );
        const command = JSON.parse(last("CMD") ?? "null") as string[];
        assert.equal(command[0], "node");
        assert.equal(command[command.length - 1], "dist/server.js");
        // The heap sized for the pod's 128 MiB (dev) limit, not for the node's memory.
        const oldSpace = command.find((flag) => flag.startsWith("--max-old-space-size="));
        assert.ok(oldSpace !== undefined && Number(oldSpace.split("=")[1]) <= 96, `${oldSpace}: the old space must fit a 128 MiB pod`);
        assert.ok(
            command.some((flag) => /^--max-semi-space-size=\d+$/.test(flag)),
            "the young generation is sized explicitly",
        );
        assert.ok(!runtime.instructions.some((i) => i.keyword === "RUN"), "the runtime stage builds nothing");
    });

    it("keeps the build context small with .dockerignore", function () {
        const ignored = readFileSync(path.join(APP_DIR, ".dockerignore"), "utf8").split("\n");
        for (const entry of ["node_modules", "dist", ".env", "test"]) assert.ok(ignored.includes(entry), entry);
    });

    // No Docker engine here: replay the Dockerfile's own steps in temporary folders (a stage FROM an earlier one
    // starts as a copy of it), then start the result the way CMD does, as the USER it names, with every file owned
    // by root (a read-only root filesystem).
    it("builds with its own steps and serves when started like CMD", async function () {
        this.timeout(300_000);
        const root = mkdtempSync(path.join(os.tmpdir(), "api-image-"));
        chmodSync(root, 0o755);
        const built = new Map<string, StageFolder>();
        let image: StageFolder | undefined;
        try {
            for (const [index, stage] of dockerfile.stages.entries()) {
                const dir = path.join(root, stage.name ?? `stage${index}`);
                const parent = built.get(stage.from);
                assert.ok(
                    parent !== undefined || stage.from === BASE_IMAGE || stage.from === RUNTIME_IMAGE,
                    `FROM ${stage.from}: neither a base nor an earlier stage`,
                );
                if (parent === undefined) mkdirSync(dir);
                else cpSync(parent.dir, dir, { recursive: true, verbatimSymlinks: true });
                const folder: StageFolder = { dir, workdir: parent?.workdir, env: { ...parent?.env } };
                // Build args live in their own stage only; RUN sees them as environment variables.
                const stageArgs: Record<string, string> = {};
                for (const { keyword, args } of stage.instructions) {
                    if (keyword === "ARG") {
                        const [name, value] = parseAssignment(keyword, args);
                        stageArgs[name] = value ?? dockerfile.globalArgs.get(name) ?? "";
                    } else if (keyword === "ENV") {
                        const [name, value] = parseAssignment(keyword, args);
                        assert.ok(value !== undefined, `ENV ${args}: expected NAME=value`);
                        folder.env[name] = value;
                    } else if (keyword === "WORKDIR") {
                        assert.ok(folder.workdir === undefined || folder.workdir === args, `WORKDIR ${args}: one WORKDIR per stage chain`);
                        folder.workdir = args;
                    } else if (keyword === "COPY") {
                        const parts = args.split(/\s+/);
                        const flags = parts.filter((p) => p.startsWith("--"));
                        assert.ok(
                            flags.every((f) => f.startsWith("--from=")),
                            `COPY ${args}: only --from= is replayed`,
                        );
                        const from = flags.pop()?.slice("--from=".length);
                        const sources = parts.filter((p) => !p.startsWith("--"));
                        const destination = sources.pop() ?? ".";
                        const dest = hostPath(folder, destination);
                        for (const source of sources) {
                            let origin = path.join(APP_DIR, source);
                            if (from !== undefined) {
                                const fromFolder = built.get(from);
                                assert.ok(fromFolder !== undefined, `COPY --from=${from}: no earlier stage of that name`);
                                origin = hostPath(fromFolder, source);
                            }
                            assert.ok(existsSync(origin), `COPY source ${source} missing`);
                            // A folder's content goes into the destination; files go into it when it is a folder.
                            const intoFolder = !statSync(origin).isDirectory() && (destination.endsWith("/") || sources.length > 1);
                            cpSync(origin, intoFolder ? path.join(dest, path.basename(source)) : dest, {
                                recursive: true,
                                verbatimSymlinks: true,
                            });
                        }
                    } else if (keyword === "RUN") {
                        // The CA plumbing is left out: it hands npm in the image the proxy's CA from a build arg,
                        // and the node running this test already trusts that CA through its own NODE_EXTRA_CA_CERTS.
                        // So the replay neither writes /tmp/extra-ca.pem (shared with the whole machine) nor points
                        // npm at it.
                        if (/^printf\s.*>\s*\/tmp\/extra-ca\.pem$/.test(args)) continue;
                        const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: "", ...stageArgs, ...folder.env };
                        env.NODE_EXTRA_CA_CERTS = process.env.NODE_EXTRA_CA_CERTS;
                        // npm ci, npm prune and npm run build, as written.
                        execSync(args, { cwd: folder.dir, stdio: ["ignore", "ignore", "inherit"], env });
                    } else {
                        assert.ok(
                            ["USER", "EXPOSE", "ENTRYPOINT", "CMD"].includes(keyword),
                            `${keyword} ${args}: the replay does not know it`,
                        );
                    }
                }
                if (stage.name !== undefined) built.set(stage.name, folder);
                image = folder;
            }
            assert.ok(image !== undefined, "no stage");
            // The bundles carry every dependency: no node_modules, so no dev dependency either, and the server below
            // can only start if nothing it needs was left out of dist/server.js.
            assert.ok(!existsSync(path.join(image.dir, "node_modules")), "the runtime stage has no node_modules");
            assert.deepEqual(readdirSync(path.join(image.dir, "dist")).sort(), ["migrate-job.js", "server.js"]);

            const [uid, gid] = (last("USER") ?? "").split(":").map(Number);
            // As Kubernetes hands it over: the URL in a mounted file that ends with a newline.
            const urlFile = path.join(root, "database-url");
            writeFileSync(urlFile, `${await createDatabase()}\n`, { mode: 0o644 });
            const asUser = process.getuid?.() === 0 ? { uid, gid: gid ?? uid } : {};
            // The base image's node: owned by root and run by USER. The node running this test may sit where USER
            // cannot reach it (scripts/node.sh puts Node.js 24 in the per-user cache, under /root when root runs
            // the tests), so a copy stands in for it, and spawnServer, which starts process.execPath, starts that.
            const hostNode = process.execPath;
            const imageNode = path.join(root, "usr", "local", "bin", "node");
            mkdirSync(path.dirname(imageNode), { recursive: true, mode: 0o755 });
            cpSync(hostNode, imageNode);
            chmodSync(imageNode, 0o755);
            process.execPath = imageNode;
            const command = JSON.parse(last("CMD") ?? "null") as string[];
            const server = await spawnServer(
                { ...image.env, DATABASE_URL_FILE: urlFile, HOME: "/nonexistent" },
                {
                    cwd: image.dir,
                    nodeFlags: command.slice(1, -1),
                    ...asUser,
                },
            ).finally(() => (process.execPath = hostNode));
            try {
                assert.equal((await request(server.base, "GET", "/livez")).status, 200);
                assert.equal((await request(server.base, "POST", "/api/v1/items", { name: "from the image" })).status, 201);
            } finally {
                await server.stop();
            }
            assert.equal(await server.exited, 0);
        } finally {
            rmSync(root, { recursive: true, force: true });
        }
    });
});
