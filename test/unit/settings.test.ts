import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { parseSettings, SettingsError, validatedKeys } from "../../stacks/settings";
import { configRefusals, databaseRefusals, schedulingRefusals } from "./config-refusals";
import { ProgramError, projectRoot, runProgram, stackConfig } from "./harness";

const prebuilt = { imageBuild: "false", imageRef: "registry.example.com/api-stack/api:1.4.2" };

/** Runs the program with `overrides` and returns the error it fails with, asserting nothing was created. */
async function rejection(stack: string, overrides: Record<string, string>, deployedOutputs: Record<string, unknown> = {}): Promise<string> {
    let created: string[] = [];
    try {
        const run = await runProgram(stack, overrides, deployedOutputs);
        created = run.resources.map((r) => r.type);
    } catch (error) {
        assert.ok(error instanceof ProgramError, String(error));
        const kinds = error.registered.map((r) => r.type).filter((type) => type !== "pulumi:pulumi:Stack");
        assert.deepStrictEqual(kinds, [], "nothing is registered before config is valid");
        return error.message;
    }
    assert.fail(`expected the config to be rejected, but the program created ${created.join(", ")}`);
}

const badConfigs: { title: string; overrides: Record<string, string>; key: string; mentions: RegExp }[] = [
    { title: "negative replicas", overrides: { apiReplicas: "-1" }, key: "apiReplicas", mentions: /"-1".*integer from 1 to 1000/ },
    { title: "replicas spelled out", overrides: { apiReplicas: "three" }, key: "apiReplicas", mentions: /"three".*integer/ },
    { title: "zero replicas", overrides: { apiReplicas: "0" }, key: "apiReplicas", mentions: /"0"/ },
    {
        title: "postgres repository with a tag",
        overrides: { postgresImageRepository: "postgres:15" },
        key: "postgresImageRepository",
        mentions: /"postgres:15".*an image name without tag/,
    },
    {
        title: "limit below request",
        overrides: { apiMemoryLimit: "64Mi", apiMemoryRequest: "128Mi" },
        key: "apiMemoryLimit",
        mentions: /must be >= apiMemoryRequest \(128Mi\)/,
    },
    {
        title: "CPU limit below request",
        overrides: { apiCpuLimit: "100m", apiCpuRequest: "250m" },
        key: "apiCpuLimit",
        mentions: /must be >= apiCpuRequest/,
    },
    { title: "memory: lots", overrides: { apiMemoryRequest: "lots" }, key: "apiMemoryRequest", mentions: /"lots".*128Mi or 10Gi/ },
    { title: "non-canonical CPU", overrides: { apiCpuRequest: "0.25" }, key: "apiCpuRequest", mentions: /"0.25".*250m/ },
    {
        title: "unknown service type",
        overrides: { apiServiceType: "Ingress" },
        key: "apiServiceType",
        mentions: /"Ingress".*ClusterIP, NodePort, LoadBalancer/,
    },
    { title: "empty namespace", overrides: { namespace: "" }, key: "namespace", mentions: /is empty.*DNS-1123/ },
    {
        title: "namespace with capitals and underscore",
        overrides: { namespace: "My_Namespace" },
        key: "namespace",
        mentions: /"My_Namespace".*DNS-1123/,
    },
    { title: "namespace longer than 63", overrides: { namespace: "a".repeat(64) }, key: "namespace", mentions: /DNS-1123/ },
    { title: "storage 0Gi", overrides: { postgresStorageSize: "0Gi" }, key: "postgresStorageSize", mentions: /"0Gi"/ },
    {
        title: "invalid storage class",
        overrides: { postgresStorageClass: "Fast SSD" },
        key: "postgresStorageClass",
        mentions: /"Fast SSD".*storage class/,
    },
    {
        title: "both image build and image ref",
        overrides: { imageBuild: "true", imageRef: "registry.example.com/api:1.0" },
        key: "imageRef",
        mentions: /must not be set while imageBuild is true/,
    },
    {
        title: "neither image build nor image ref",
        overrides: { imageBuild: "false", imageRef: "" },
        key: "imageRef",
        mentions: /required when imageBuild is false/,
    },
    {
        title: "latest image",
        overrides: { imageBuild: "false", imageRef: "registry.example.com/api:latest" },
        key: "imageRef",
        mentions: /not 'latest'/,
    },
    {
        title: "untagged image",
        overrides: { imageBuild: "false", imageRef: "registry.example.com/api" },
        key: "imageRef",
        mentions: /not 'latest' and not untagged/,
    },
    { title: "service port out of range", overrides: { apiServicePort: "70000" }, key: "apiServicePort", mentions: /from 1 to 65535/ },
    {
        title: "autoscaling max below min",
        overrides: { apiAutoscaling: "true", apiAutoscalingMinReplicas: "5", apiAutoscalingMaxReplicas: "2" },
        key: "apiAutoscalingMaxReplicas",
        mentions: /must be >= apiAutoscalingMinReplicas \(5\)/,
    },
    { title: "protect not a boolean", overrides: { protect: "yes" }, key: "protect", mentions: /"yes".*true or false/ },
    {
        title: "push without registry",
        overrides: { imageBuild: "true", imageRef: "", imagePush: "true" },
        key: "imageRegistryServer",
        mentions: /required when imagePush is true/,
    },
    {
        title: "unknown log level",
        overrides: { apiLogLevel: "verbose" },
        key: "apiLogLevel",
        mentions: /"verbose".*fatal, error, warn, info, debug, trace/,
    },
    {
        title: "digest without sha256",
        overrides: { postgresImageDigest: "abc123" },
        key: "postgresImageDigest",
        mentions: /"abc123".*sha256/,
    },
    { title: "bad database user", overrides: { postgresUser: "drop table;" }, key: "postgresUser", mentions: /SQL identifier/ },
    ...configRefusals,
    ...databaseRefusals,
    ...schedulingRefusals,
];

describe("bad stack config fails before anything is registered", () => {
    it("a build path inside the project is accepted, relative or absolute", async () => {
        for (const context of ["app", "./app", path.join(projectRoot, "app")]) {
            const run = await runProgram("dev", { imageContext: context, imageDockerfile: "app/Dockerfile" });
            assert.strictEqual(run.one("docker:index/image:Image").build.context, path.join(projectRoot, "app"));
        }
    });

    for (const bad of badConfigs) {
        it(`${bad.title}: names api-stack:${bad.key}`, async () => {
            const message = await rejection("dev", { ...prebuilt, ...bad.overrides });
            const line = message.split("\n").find((l) => l.includes(`api-stack:${bad.key} =`));
            assert.ok(line, `message names api-stack:${bad.key}:\n${message}`);
            assert.match(line, bad.mentions);
            assert.match(message, /nothing was changed/);
        });
    }

    it("several bad keys are reported together in one message", async () => {
        const message = await rejection("prod", {
            ...prebuilt,
            apiReplicas: "three",
            apiMemoryRequest: "lots",
            apiServiceType: "Ingress",
            namespace: "",
            postgresStorageSize: "0Gi",
        });
        assert.match(message, /\(5 problems\)/);
        for (const key of ["apiReplicas", "apiMemoryRequest", "apiServiceType", "namespace", "postgresStorageSize"]) {
            assert.ok(message.includes(`api-stack:${key} =`), `mentions ${key}`);
        }
    });

    it("the committed dev and prod configs are valid", async () => {
        for (const stack of ["dev", "prod"]) {
            assert.ok((await runProgram(stack, prebuilt)).resources.length > 10);
        }
    });
});

describe("a stack that holds data keeps its PostgreSQL major", () => {
    for (const [deployed, asked] of [
        ["15", "16"],
        ["16", "15.10"],
        ["15", "17-bookworm"],
    ]) {
        it(`${deployed} -> ${asked} is refused, naming the dump and restore procedure`, async () => {
            const message = await rejection("prod", { ...prebuilt, postgresVersion: asked }, { postgresMajor: deployed });
            const line = message.split("\n").find((l) => l.includes("api-stack:postgresVersion ="));
            assert.ok(line, message);
            assert.match(line, new RegExp(`"${asked}": the stack's database holds PostgreSQL ${deployed} data`));
            assert.match(line, new RegExp(`allowed: a tag of major ${deployed}`));
            assert.match(line, /dump the database and restore it.*README.md, "Changing the PostgreSQL major version"/);
            assert.match(message, /nothing was changed/);
        });
    }

    it("a new minor of the same major is accepted", async () => {
        const run = await runProgram("prod", { ...prebuilt, postgresVersion: "15.11" }, { postgresMajor: "15" });
        assert.strictEqual(run.one("kubernetes:apps/v1:Deployment", "postgres").spec.template.spec.containers[0].image, "postgres:15.11");
    });

    it("a stack without a deployed major (new, or destroyed) takes any supported one, and exports it for the next update", async () => {
        const run = await runProgram("dev", { ...prebuilt, postgresVersion: "16.4" });
        assert.strictEqual(run.outputs.postgresMajor, "16");
        assert.strictEqual((await runProgram("prod", prebuilt)).outputs.postgresMajor, "15");
    });
});

describe("the keys have one source: Pulumi.yaml", () => {
    it("declares every key the program validates, and only those plus the secret registry password", () => {
        const declared = Object.keys(parse(fs.readFileSync(path.join(projectRoot, "Pulumi.yaml"), "utf8")).config);
        assert.deepStrictEqual([...declared].sort(), [...validatedKeys, "imageRegistryPassword"].sort());
    });

    it("a misspelt key set as a secret is named without its value", () => {
        const values: Record<string, string> = {};
        for (const [key, value] of Object.entries(stackConfig("dev", prebuilt))) {
            values[key.replace(/^api-stack:/, "")] = value;
        }
        values.imageRegistryPasword = "hunter2-token";
        const declared = Object.keys(parse(fs.readFileSync(path.join(projectRoot, "Pulumi.yaml"), "utf8")).config);
        assert.throws(
            () =>
                parseSettings({ project: "api-stack", stack: "dev", values, declared, secretKeys: ["imageRegistryPasword"], projectRoot }),
            (error: unknown) => {
                assert.ok(error instanceof SettingsError);
                assert.deepStrictEqual(error.problems, [
                    "api-stack:imageRegistryPasword = [secret]: is not a key this project declares; did you mean imageRegistryPassword? allowed: the keys in Pulumi.yaml",
                ]);
                assert.ok(!error.message.includes("hunter2"));
                return true;
            },
        );
    });
});
