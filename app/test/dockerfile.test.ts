import assert from "node:assert/strict";
import { execSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { APP_DIR, createDatabase, request, spawnServer } from "./helpers";

interface Instruction {
    readonly keyword: string;
    readonly args: string;
}
interface Stage {
    readonly image: string;
    readonly name: string | undefined;
    readonly instructions: Instruction[];
}

/** Enough of a Dockerfile parser for our file: comments, line continuations, one instruction per line. */
function parseDockerfile(text: string): Stage[] {
    const stages: Stage[] = [];
    const lines = text.replace(/\\\n/g, " ").split("\n");
    for (const raw of lines) {
        const line = raw.trim();
        if (line === "" || line.startsWith("#")) continue;
        const [keyword, ...rest] = line.split(/\s+/);
        const args = rest.join(" ");
        if (keyword.toUpperCase() === "FROM") {
            const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
            assert.ok(match, `FROM ${args}`);
            stages.push({ image: match[1], name: match[2], instructions: [] });
        } else {
            assert.ok(stages.length > 0, `${keyword} before FROM`);
            stages[stages.length - 1].instructions.push({ keyword: keyword.toUpperCase(), args });
        }
    }
    return stages;
}

const dockerfile = parseDockerfile(readFileSync(path.join(APP_DIR, "Dockerfile"), "utf8"));
const runtime = dockerfile[dockerfile.length - 1];
const last = (keyword: string) => runtime.instructions.filter((i) => i.keyword === keyword).pop()?.args;

describe("Dockerfile", function () {
    it("is multi-stage, pins node 20 bookworm-slim, and runs node as a numeric non-root user on port 8000", function () {
        assert.ok(dockerfile.length >= 2, "a build stage and a runtime stage");
        for (const stage of dockerfile) assert.match(stage.image, /^node:20\.\d+\.\d+-bookworm-slim$/);
        assert.match(last("USER") ?? "", /^[1-9]\d{4,}(:\d+)?$/, "USER must be numeric and >= 10000");
        assert.equal(last("EXPOSE"), "8000");
        assert.deepEqual(JSON.parse(last("CMD") ?? "null"), ["node", "dist/server.js"]);
        assert.ok(!runtime.instructions.some((i) => i.keyword === "RUN"), "the runtime stage builds nothing");
    });

    it("keeps the build context small with .dockerignore", function () {
        const ignored = readFileSync(path.join(APP_DIR, ".dockerignore"), "utf8").split("\n");
        for (const entry of ["node_modules", "dist", ".env", "test"]) assert.ok(ignored.includes(entry), entry);
    });

    // No Docker engine here: replay the Dockerfile's own COPY/RUN steps in temporary folders, then start the
    // result the way CMD does, as the USER it names, with every file owned by root (a read-only root filesystem).
    it("builds with its own steps and serves when started like CMD", async function () {
        this.timeout(300_000);
        const root = mkdtempSync(path.join(os.tmpdir(), "api-image-"));
        chmodSync(root, 0o755);
        const stageDirs = new Map<string, string>();
        const workdirs = new Map<string, string>();
        let env: Record<string, string> = {};
        let runtimeDir = "";
        try {
            dockerfile.forEach((stage, index) => {
                const dir = path.join(root, stage.name ?? `stage${index}`);
                mkdirSync(dir, { recursive: true });
                if (stage.name !== undefined) stageDirs.set(stage.name, dir);
                runtimeDir = dir;
                env = {};
                for (const { keyword, args } of stage.instructions) {
                    if (keyword === "WORKDIR") {
                        workdirs.set(stage.name ?? `stage${index}`, args);
                    } else if (keyword === "ENV") {
                        const [key, value] = args.split("=");
                        env[key] = value;
                    } else if (keyword === "COPY") {
                        const parts = args.split(/\s+/);
                        const from = parts.find((p) => p.startsWith("--from="))?.slice("--from=".length);
                        const paths = parts.filter((p) => !p.startsWith("--"));
                        const dest = path.join(dir, paths.pop() ?? ".");
                        for (const source of paths) {
                            let origin = path.join(APP_DIR, source);
                            if (from !== undefined) {
                                const fromDir = stageDirs.get(from);
                                const fromWorkdir = workdirs.get(from);
                                assert.ok(fromDir !== undefined && fromWorkdir !== undefined, `COPY --from=${from}`);
                                origin = path.join(fromDir, path.relative(fromWorkdir, source));
                            }
                            assert.ok(existsSync(origin), `COPY source ${source} missing`);
                            const target = dest.endsWith("/") || paths.length > 1 ? path.join(dest, path.basename(source)) : dest;
                            cpSync(origin, target, { recursive: true });
                        }
                    } else if (keyword === "RUN") {
                        execSync(args, { cwd: dir, stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, NODE_ENV: "" } });
                    }
                }
            });
            assert.ok(!existsSync(path.join(runtimeDir, "node_modules", "typescript")), "dev dependencies were pruned");
            assert.ok(existsSync(path.join(runtimeDir, "dist", "server.js")));

            const [uid, gid] = (last("USER") ?? "").split(":").map(Number);
            // As Kubernetes hands it over: the URL in a mounted file that ends with a newline.
            const urlFile = path.join(root, "database-url");
            writeFileSync(urlFile, `${await createDatabase()}\n`, { mode: 0o644 });
            const asUser = process.getuid?.() === 0 ? { uid, gid: gid ?? uid } : {};
            const server = await spawnServer(
                { ...env, DATABASE_URL_FILE: urlFile, HOME: "/nonexistent" },
                {
                    cwd: runtimeDir,
                    ...asUser,
                },
            );
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
