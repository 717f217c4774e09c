import * as assert from "assert";
import { ProgramError, runProgram, stackConfig } from "./harness";
import { allPodTemplates } from "./pods";

const prebuilt = { imageBuild: "false", imageRef: "registry.example.com/api-stack/api:1.4.2" };
const deploymentType = "kubernetes:apps/v1:Deployment";

const poolSelector = { "node.example.com/pool": "api", tier: "web" };
const poolTolerations = [
    { key: "node.example.com/dedicated", operator: "Equal", value: "api", effect: "NoSchedule" },
    { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute", tolerationSeconds: 30 },
];

describe("where the API's pods go: apiNodeSelector and apiTolerations", () => {
    it("the committed stacks keep the declared defaults, {} and [], so no pod of dev or prod has a nodeSelector or tolerations", async () => {
        for (const stack of ["dev", "prod"]) {
            const config = stackConfig(stack);
            assert.deepStrictEqual([config["api-stack:apiNodeSelector"], config["api-stack:apiTolerations"]], ["{}", "[]"]);
            const pods = allPodTemplates(await runProgram(stack, prebuilt));
            assert.ok(pods.length >= 3, `${stack} has its API, PostgreSQL and Job pods (${pods.length})`);
            for (const { workload, template } of pods) {
                assert.strictEqual(template.spec.nodeSelector, undefined, `${stack} ${workload}: nodeSelector`);
                assert.strictEqual(template.spec.tolerations, undefined, `${stack} ${workload}: tolerations`);
            }
        }
    });

    it("set, they reach the API Deployment's pod template as given, and no other pod (PostgreSQL, Jobs, the backup CronJob)", async () => {
        const run = await runProgram("prod", {
            ...prebuilt,
            apiNodeSelector: JSON.stringify(poolSelector),
            apiTolerations: JSON.stringify(poolTolerations),
        });
        const api = run.one(deploymentType, "api").spec.template.spec;
        assert.deepStrictEqual(api.nodeSelector, poolSelector);
        assert.deepStrictEqual(api.tolerations, poolTolerations);
        // The spread over nodes still applies within the selected nodes.
        assert.strictEqual(api.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution.length, 1);
        const others = allPodTemplates(run).filter(({ workload }) => workload !== "api");
        assert.ok(others.some(({ workload }) => workload === "postgres") && others.some(({ workload }) => workload.startsWith("cronjob")));
        for (const { workload, template } of others) {
            assert.strictEqual(template.spec.nodeSelector, undefined, `${workload}: nodeSelector`);
            assert.strictEqual(template.spec.tolerations, undefined, `${workload}: tolerations`);
        }
    });
});

describe("apiTolerations takes what Kubernetes takes", () => {
    it("an empty key with Exists (every taint) and an absent operator (Kubernetes' Equal) are accepted as given", async () => {
        const tolerations = [
            { key: "", operator: "Exists" },
            { key: "dedicated", value: "api" },
        ];
        const run = await runProgram("dev", { ...prebuilt, apiTolerations: JSON.stringify(tolerations) });
        assert.deepStrictEqual(run.one(deploymentType, "api").spec.template.spec.tolerations, tolerations);
    });
});

describe("bad apiTolerations: every bad toleration is reported, each by its place in the list", () => {
    it("three bad entries give three problems, naming [0], [2] and [3] and not the good [1]", async () => {
        const tolerations = [
            { key: "a", operator: "Equals" },
            { key: "b", operator: "Exists", effect: "NoSchedule" },
            { key: "c", effect: "NoSchedule", tolerationSeconds: 5 },
            "dedicated=api:NoSchedule",
        ];
        const error = await runProgram("dev", { ...prebuilt, apiTolerations: JSON.stringify(tolerations) }).then(
            () => assert.fail("accepted"),
            (rejected: unknown) => rejected,
        );
        assert.ok(error instanceof ProgramError, String(error));
        assert.match(error.message, /\(3 problems\)/);
        const places = [...error.message.matchAll(/api-stack:apiTolerations = ".*": (\[\d\])/g)].map((match) => match[1]);
        assert.deepStrictEqual(places, ["[0]", "[2]", "[3]"]);
        assert.match(error.message, /\[3\] = "dedicated=api:NoSchedule": allowed: a toleration, an object with the fields key, operator/);
    });
});
