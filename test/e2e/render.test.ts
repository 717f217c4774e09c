import * as assert from "assert";
import * as automation from "@pulumi/pulumi/automation";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { assertRefusedAtPreview, badConfigs } from "./bad-configs";
import { expectedCreates, expectedKubernetesObjects } from "./expected";
import { byOp, countTypes, destroy, failure, preview, ProjectCopy, projectRoot, up } from "./engine";

/**
 * Tier 1: the real engine on both committed configurations, with the Kubernetes provider
 * rendering YAML instead of calling a cluster. Only the image source and the render directory
 * are overridden.
 */

const prebuiltImage = "registry.example.com/api-stack/api:1.4.2";

function renderOverrides(renderDir: string): Record<string, string> {
    return { imageBuild: "false", imageRef: prebuiltImage, "kubernetes:renderYamlToDirectory": renderDir };
}

function renderedFiles(renderDir: string): string[] {
    if (!fs.existsSync(renderDir)) {
        return [];
    }
    return fs
        .readdirSync(renderDir, { recursive: true, withFileTypes: true })
        .filter((entry) => entry.isFile())
        .map((entry) => path.relative(renderDir, path.join(entry.parentPath, entry.name)))
        .sort();
}

for (const stackName of ["dev", "prod"] as const) {
    describe(`render mode, ${stackName}: the real engine on the committed config`, function () {
        this.timeout(10 * 60 * 1000);
        const copy = new ProjectCopy(`render-${stackName}`);
        const renderDir = path.join(copy.dir, "rendered");
        let stack: automation.Stack;
        const engineOutput: string[] = [];

        before(async () => {
            stack = await copy.stack(stackName, stackName, renderOverrides(renderDir));
        });
        after(async () => {
            // Clean up even when a step failed: destroy what is left, then drop the scratch copy.
            try {
                await copy.setConfig(stack, { protect: "false" });
                await stack.up();
                await stack.destroy();
            } finally {
                copy.remove();
            }
        });

        it("preview on an empty stack plans exactly the expected creates", async () => {
            const run = await preview(stack);
            engineOutput.push(run.output);
            const ops = byOp(run);
            assert.deepStrictEqual(Object.keys(ops), ["create"]);
            assert.deepStrictEqual(countTypes(ops.create), expectedCreates(stackName));
        });

        it("up renders manifests that pass strict schema validation, kube-score and checkov with no unexplained finding", async () => {
            const run = await up(stack);
            engineOutput.push(run.output);
            const files = renderedFiles(renderDir);
            assert.strictEqual(files.length, expectedKubernetesObjects(stackName));
            const deployment = fs.readFileSync(
                path.join(
                    renderDir,
                    files.find((f) => f.includes("deployment-") && f.includes("-api-stack-") && f.endsWith("api.yaml")) ?? "",
                ),
                "utf8",
            );
            assert.match(deployment, new RegExp(`replicas: ${stackName === "prod" ? 3 : 1}\\n`));
            execFileSync("bash", [path.join(projectRoot, "scripts", "check-manifests.sh"), renderDir], {
                stdio: "inherit",
            });
        });

        it("a second preview reports no changes", async () => {
            const run = await preview(stack);
            engineOutput.push(run.output);
            assert.deepStrictEqual(Object.keys(byOp(run)), ["same"]);
        });

        it("the generated passwords (owner and API) appear in plaintext nowhere in state, engine output or plain outputs", async () => {
            const outputs = await stack.outputs();
            assert.strictEqual(outputs.databaseUrl.secret, true);
            const owner = new URL(String(outputs.databaseUrl.value)).password;
            // The API's password is in no output at all: read it from the rendered Secret the API mounts.
            const files = renderedFiles(renderDir);
            const apiSecret = files
                .map((file) => parse(fs.readFileSync(path.join(renderDir, file), "utf8")))
                .find((object) => object?.kind === "Secret" && /^api-database-[0-9a-f]{10}$/.test(object.metadata?.name));
            assert.ok(apiSecret, `a rendered Secret api-database-<checksum> among ${files.join(", ")}`);
            // The provider may render stringData as it is, or as base64 data.
            const apiUrl = String(apiSecret.stringData?.url ?? Buffer.from(String(apiSecret.data?.url ?? ""), "base64").toString("utf8"));
            assert.match(
                apiUrl,
                /^postgresql:\/\/api_a:/,
                `the Secret's url key holds the API's URL (keys: ${Object.keys(apiSecret).join(", ")})`,
            );
            const api = new URL(apiUrl).password;
            assert.notStrictEqual(api, owner);
            const printed = execFileSync("pulumi", ["stack", "output", "--json", "--stack", stackName], {
                cwd: copy.programDir,
                env: { ...process.env, ...copy.envVars },
                encoding: "utf8",
            });
            assert.strictEqual(JSON.parse(printed).databaseUrl, "[secret]");
            for (const password of [owner, api]) {
                assert.strictEqual(password.length, 32);
                assert.ok(!copy.stateText().includes(password), "state backend files do not hold the password");
                assert.ok(!engineOutput.join("\n").includes(password), "engine output does not hold the password");
                for (const [name, output] of Object.entries(outputs)) {
                    if (!output.secret) {
                        assert.ok(!JSON.stringify(output.value).includes(password), `plain output ${name} does not hold the password`);
                    }
                }
                assert.ok(!printed.includes(password));
            }
        });

        it("changing replicas to 5 previews as an in-place update of the API Deployment, touching no data", async () => {
            await copy.setConfig(stack, { apiReplicas: "5" });
            const run = await preview(stack);
            const changed = run.steps.filter((step) => step.op !== "same");
            const expected = [["update", "kubernetes:apps/v1:Deployment", "api-deployment"]];
            if (stackName === "dev") {
                // Going from one pod to several adds the PodDisruptionBudget that guards them.
                expected.unshift(["create", "kubernetes:policy/v1:PodDisruptionBudget", "api-pdb"]);
            }
            assert.deepStrictEqual(
                changed.map((step) => [step.op, step.type, step.name]),
                expected,
            );
            const update = changed.find((step) => step.op === "update");
            assert.ok(update?.changedPaths.includes("spec.replicas"), `changed: ${update?.changedPaths.join(", ")}`);
            const untouched = run.steps.filter((step) =>
                ["kubernetes:core/v1:Secret", "kubernetes:core/v1:PersistentVolumeClaim", "kubernetes:batch/v1:Job"].includes(step.type),
            );
            // The owner's, the API's and the rotation's Secrets, the data (and in prod backup) volume, both Jobs.
            assert.deepStrictEqual(
                untouched.map((step) => step.op),
                Array.from({ length: stackName === "prod" ? 7 : 6 }, () => "same"),
            );
        });

        it("destroy removes every rendered manifest", async () => {
            if (stackName === "prod") {
                // Protected resources refuse destroy until protection is lifted on purpose.
                const message = await failure(() => destroy(stack));
                assert.match(message, /protected/);
                await copy.setConfig(stack, { protect: "false", apiReplicas: "3" });
                await up(stack);
            }
            await destroy(stack);
            assert.deepStrictEqual(renderedFiles(renderDir), []);
        });
    });
}

describe("render mode: bad configurations fail at preview with nothing created", function () {
    this.timeout(10 * 60 * 1000);
    const copy = new ProjectCopy("render-bad");
    after(() => copy.remove());

    for (const [index, bad] of badConfigs.entries()) {
        it(`${bad.title}: the error names api-stack:${bad.key}`, async () => {
            const renderDir = path.join(copy.dir, `rendered-${index}`);
            await assertRefusedAtPreview(copy, index, bad, renderOverrides(renderDir));
            assert.deepStrictEqual(renderedFiles(renderDir), []);
        });
    }
});

describe("render mode: a stack that holds data refuses a PostgreSQL major change at preview", function () {
    this.timeout(10 * 60 * 1000);
    const copy = new ProjectCopy("render-major");
    const renderDir = path.join(copy.dir, "rendered");
    let stack: automation.Stack;

    /** What the stack holds and what it rendered: a refused change must leave both as they are. */
    async function snapshot(): Promise<string> {
        const state = await stack.exportStack();
        const resources = (state.deployment as { resources?: { urn: string; outputs?: unknown }[] }).resources ?? [];
        const files = renderedFiles(renderDir).map((file) => `${file}\n${fs.readFileSync(path.join(renderDir, file), "utf8")}`);
        return JSON.stringify({ resources: resources.map((r) => [r.urn, r.outputs]), files });
    }

    before(async () => {
        stack = await copy.stack("dev", "dev", renderOverrides(renderDir));
    });
    after(async () => {
        try {
            await stack.destroy();
        } finally {
            copy.remove();
        }
    });

    it("up at 15 exports postgresMajor 15; a preview at 16 fails naming dump and restore, and nothing changes", async () => {
        const run = await up(stack);
        assert.strictEqual(run.outputs.postgresMajor.value, "15");
        const before = await snapshot();
        await copy.setConfig(stack, { postgresVersion: "16" });
        const message = await failure(() => preview(stack));
        assert.match(message, /api-stack:postgresVersion = "16": the stack's database holds PostgreSQL 15 data/);
        assert.match(message, /dump the database and restore it into a new one: README.md, "Changing the PostgreSQL major version"/);
        assert.strictEqual(await snapshot(), before);
        // `up` runs the same program: refused before it registers anything.
        await failure(() => up(stack));
        assert.strictEqual(await snapshot(), before);
    });

    it("after destroy (the documented procedure) the stack takes 16, and then refuses going back to 15", async () => {
        await destroy(stack);
        const run = await up(stack);
        assert.strictEqual(run.outputs.postgresMajor.value, "16");
        assert.match(
            fs.readFileSync(
                path.join(renderDir, renderedFiles(renderDir).find((f) => /deployment-.*postgres\.yaml$/.test(f)) ?? ""),
                "utf8",
            ),
            /image: postgres:16\n/,
        );
        await copy.setConfig(stack, { postgresVersion: "15.10" });
        const message = await failure(() => preview(stack));
        assert.match(message, /api-stack:postgresVersion = "15.10": the stack's database holds PostgreSQL 16 data/);
    });
});
