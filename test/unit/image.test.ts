import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { contentTag } from "../../components/build-context";
import { mockDigest, projectRoot, runProgram } from "./harness";

const imageType = "docker:index/image:Image";
const secretMarker = "4dabf18193072939515e22adb298388d";

/** A scratch copy of app/ (without installed or built files) that a test may change: inside the project, as build paths must be. */
function copyOfApp(): string {
    const copy = fs.mkdtempSync(path.join(projectRoot, ".scratch-context-"));
    fs.cpSync(path.join(projectRoot, "app"), copy, {
        recursive: true,
        filter: (source) => !/[/\\](node_modules|dist)([/\\]|$)/.test(path.relative(projectRoot, source)),
    });
    return copy;
}

describe("the API image is tagged by content, never latest", () => {
    let context: string;
    beforeEach(() => {
        context = copyOfApp();
    });
    afterEach(() => fs.rmSync(context, { recursive: true, force: true }));

    it("builds app/ with a content tag, and a changed file under app/ gives a new tag", async () => {
        const overrides = { imageContext: context, imageDockerfile: path.join(context, "Dockerfile") };
        const first = (await runProgram("dev", overrides)).one(imageType);
        assert.match(first.imageName, /^api-stack\/api:sha-[0-9a-f]{16}$/);
        assert.strictEqual(first.build.context, context);
        assert.strictEqual(first.skipPush, true, "no registry configured: build only");

        const unchanged = (await runProgram("dev", overrides)).one(imageType);
        assert.strictEqual(unchanged.imageName, first.imageName, "same content, same tag: pods are left alone");

        fs.appendFileSync(path.join(context, "package.json"), "\n");
        const changed = await runProgram("dev", overrides);
        assert.notStrictEqual(changed.one(imageType).imageName, first.imageName);
        assert.strictEqual(
            changed.one("kubernetes:apps/v1:Deployment", "api").spec.template.spec.containers[0].image,
            changed.one(imageType).imageName,
        );
    });

    it("ignores what .dockerignore leaves out of the build", () => {
        fs.writeFileSync(path.join(context, ".dockerignore"), "node_modules\n*.log\n");
        const before = contentTag(context);
        fs.mkdirSync(path.join(context, "node_modules", "left-out"), { recursive: true });
        fs.writeFileSync(path.join(context, "node_modules", "left-out", "index.js"), "ignored");
        assert.strictEqual(contentTag(context), before);
        fs.writeFileSync(path.join(context, "new-file.txt"), "counted");
        assert.notStrictEqual(contentTag(context), before);
    });

    it("counts the Dockerfile and .dockerignore even when .dockerignore lists them, as Docker reads both", () => {
        fs.writeFileSync(path.join(context, ".dockerignore"), "Dockerfile\n.dockerignore\n");
        const before = contentTag(context);
        fs.appendFileSync(path.join(context, "Dockerfile"), "\nLABEL changed=yes\n");
        const afterDockerfile = contentTag(context);
        assert.notStrictEqual(afterDockerfile, before, "a changed Dockerfile builds a different image");
        fs.appendFileSync(path.join(context, ".dockerignore"), "*.log\n");
        assert.notStrictEqual(contentTag(context), afterDockerfile, "a changed .dockerignore changes the context");
    });

    it("pushes to a configured registry with credentials from secret config and deploys by digest", async () => {
        const run = await runProgram("prod", {
            imageContext: context,
            imageDockerfile: path.join(context, "Dockerfile"),
            imageRepository: "registry.example.com/team/api",
            imagePush: "true",
            imageRegistryServer: "registry.example.com",
            imageRegistryUsername: "ci",
            imageRegistryPassword: "registry-token",
        });
        const image = run.one(imageType);
        assert.strictEqual(image.skipPush, false);
        // The secret password makes the whole registry block a secret value.
        assert.ok(secretMarker in image.registry, "registry credentials stay secret");
        assert.deepStrictEqual(image.registry.value, { server: "registry.example.com", username: "ci", password: "registry-token" });
        const container = run.one("kubernetes:apps/v1:Deployment", "api").spec.template.spec.containers[0];
        assert.strictEqual(container.image, `registry.example.com/team/api@${mockDigest}`);
    });

    it("passes a prebuilt reference through without building", async () => {
        const run = await runProgram("prod", { imageBuild: "false", imageRef: "registry.example.com/api@sha256:" + "a".repeat(64) });
        assert.strictEqual(run.all(imageType).length, 0);
        assert.strictEqual(
            run.one("kubernetes:apps/v1:Deployment", "api").spec.template.spec.containers[0].image,
            `registry.example.com/api@sha256:${"a".repeat(64)}`,
        );
    });
});
