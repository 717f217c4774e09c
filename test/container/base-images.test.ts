import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { docker, dockerStatus } from "./docker";

/**
 * The base images of scripts/images-base.sh, as scripts/test-container.sh made them (NODE_IMAGE,
 * NODE_RUNTIME_IMAGE, POSTGRES_IMAGE): a second run rebuilds nothing, and the runtime stand-in is what it
 * says it is, a distroless-like base with the Dockerfile's Node.js release and nothing to run but node.
 */

const projectRoot = path.resolve(__dirname, "..", "..");
const dockerfile = fs.readFileSync(path.join(projectRoot, "app", "Dockerfile"), "utf8");

function dockerfileArg(name: string): string {
    const match = new RegExp(`^ARG ${name}=(\\S+)$`, "m").exec(dockerfile);
    assert.ok(match, `app/Dockerfile has an ARG ${name}=<default> line`);
    return match[1];
}

const baseImages = ["NODE_IMAGE", "NODE_RUNTIME_IMAGE", "POSTGRES_IMAGE"];

function imageId(ref: string): string {
    return docker("image", "inspect", "--format", "{{.Id}}", ref);
}

describe("container: the base images", function () {
    this.timeout(5 * 60 * 1000);

    before(() => {
        for (const name of baseImages) {
            assert.ok(process.env[name], `${name} names a base image (run through scripts/test-container.sh)`);
        }
    });

    it("a second images:base run rebuilds nothing and names the same images", () => {
        const before = baseImages.map((name) => imageId(process.env[name] ?? ""));
        const run = spawnSync("bash", [path.join(projectRoot, "scripts", "images-base.sh")], { encoding: "utf8" });
        assert.strictEqual(run.status, 0, `images-base.sh failed:\n${run.stderr}`);
        assert.doesNotMatch(run.stderr, /building /, `nothing is built again:\n${run.stderr}`);
        assert.deepStrictEqual(
            run.stdout.trim().split("\n"),
            baseImages.map((name) => `${name}=${process.env[name]}`),
        );
        assert.deepStrictEqual(
            baseImages.map((name) => imageId(process.env[name] ?? "")),
            before,
            "every image is the one it was",
        );
    });

    it("the runtime base runs node as nonroot, with no shell; a stand-in says it is one and holds the Dockerfile's release", () => {
        const ref = process.env.NODE_RUNTIME_IMAGE ?? "";
        const official = dockerfileArg("NODE_RUNTIME_IMAGE");
        const release = /^node:(\d+\.\d+\.\d+)-/.exec(dockerfileArg("NODE_IMAGE"))?.[1];
        assert.ok(release, "ARG NODE_IMAGE names a Node.js release");
        const config = JSON.parse(docker("image", "inspect", "--format", "{{json .Config}}", ref)) as {
            User: string;
            Entrypoint: string[];
            Labels: Record<string, string> | null;
        };
        assert.deepStrictEqual(config.Entrypoint, ["/nodejs/bin/node"], "node is the entrypoint, as in distroless");
        assert.match(config.User, /^65532(:65532)?$/, "the :nonroot tag runs as nonroot");
        const shell = dockerStatus("run", "--rm", "--network", "none", "--entrypoint", "/bin/sh", ref, "-c", "true");
        assert.notStrictEqual(shell.status, 0, `the runtime base has no shell:\n${shell.output}`);
        if (ref !== official) {
            assert.match(
                config.Labels?.["api-stack.stand-in"] ?? "",
                new RegExp(`^for ${official.replace(/[.]/g, "\\.")} .*not the official image$`),
            );
            assert.ok(!ref.startsWith("gcr.io/"), `a stand-in is never tagged as the official image: ${ref}`);
            // The official tag follows the newest Node.js 24; the stand-in holds the build stage's release.
            assert.strictEqual(docker("run", "--rm", "--network", "none", ref, "-p", "process.version"), `v${release}`);
        }
    });
});
