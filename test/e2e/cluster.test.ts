import * as assert from "assert";
import * as automation from "@pulumi/pulumi/automation";
import * as crypto from "crypto";
import { localClusterConfig } from "../../stacks/local-cluster";
import { assertRefusedAtPreview, badConfigs } from "./bad-configs";
import { byOp, countTypes, destroy, failure, preview, ProjectCopy, projectRoot, up } from "./engine";
import { expectedCreates } from "./expected";
import { ensureLocalCluster, exists, kubectl, kubectlJson, localKubeconfig, stopLocalCluster, waitFor } from "./kube";

/**
 * Tier 2: the full lifecycle on the local simulated cluster, for dev and prod. Overrides: the
 * cluster connection and image source (stacks/local-cluster.ts), and a namespace of the test's
 * own so that a stack deployed by `npm run deploy` on the same cluster is never touched.
 */

let startedCluster = false;
before(function () {
    this.timeout(30 * 60 * 1000);
    startedCluster = ensureLocalCluster();
});
after(function () {
    this.timeout(5 * 60 * 1000);
    if (startedCluster) {
        stopLocalCluster();
    }
});

const baseReplicas = { dev: 1, prod: 3 };

for (const stackName of ["dev", "prod"] as const) {
    describe(`local cluster, ${stackName}: the full lifecycle`, function () {
        this.timeout(10 * 60 * 1000);
        const copy = new ProjectCopy(`cluster-${stackName}`);
        const namespace = `e2e-${stackName}-${crypto.randomBytes(3).toString("hex")}`;
        let stack: automation.Stack;
        let replicas: number = baseReplicas[stackName];
        let volumeUid = "";
        let secretUid = "";

        before(async () => {
            stack = await copy.stack(stackName, stackName, {
                ...localClusterConfig(localKubeconfig(), projectRoot),
                "api-stack:namespace": namespace,
            });
        });
        after(async function () {
            this.timeout(10 * 60 * 1000);
            // Clean up even after a failure: lift protection on purpose, destroy, drop the namespace.
            try {
                await copy.setConfig(stack, { protect: "false" });
                await stack.up();
                await stack.destroy();
            } catch (error) {
                console.error(`cleanup of ${stackName} through Pulumi failed, deleting the namespace: ${String(error)}`);
            } finally {
                if (exists("namespace", namespace)) {
                    kubectl("delete", "namespace", namespace, "--wait=false");
                }
                copy.remove();
            }
        });

        it("1. preview on an empty stack lists the expected creates", async () => {
            const ops = byOp(await preview(stack));
            assert.deepStrictEqual(Object.keys(ops), ["create"]);
            assert.deepStrictEqual(countTypes(ops.create), expectedCreates(stackName));
        });

        it("2. up: the API has its replicas ready, PostgreSQL is ready, Pod Security restricted admitted every pod", async () => {
            const run = await up(stack);
            assert.strictEqual(run.outputs.namespaceName.value, namespace);
            const api = kubectlJson("-n", namespace, "get", "deployment", "api");
            assert.strictEqual(api.spec.replicas, replicas);
            assert.strictEqual(api.status.readyReplicas, replicas);
            assert.strictEqual(kubectlJson("-n", namespace, "get", "deployment", "postgres").status.readyReplicas, 1);
            const labels = kubectlJson("get", "namespace", namespace).metadata.labels;
            assert.strictEqual(labels["pod-security.kubernetes.io/enforce"], "restricted");
            const pods = kubectlJson("-n", namespace, "get", "pods").items;
            // The release's Jobs (migrations, roles) leave their finished pods; every other pod runs.
            const jobPods = pods.filter((pod: { metadata: { labels?: Record<string, string> } }) =>
                Boolean(pod.metadata.labels?.["batch.kubernetes.io/job-name"]),
            );
            const jobNames = new Set(
                jobPods.map((pod: { metadata: { labels: Record<string, string> } }) => pod.metadata.labels["batch.kubernetes.io/job-name"]),
            );
            assert.deepStrictEqual(
                [...jobNames].map((name) => /^(api-migrate|api-database-roles)-/.exec(String(name))?.[1]).sort(),
                ["api-database-roles", "api-migrate"],
                "the finished pods belong to the migration and roles Jobs",
            );
            for (const pod of jobPods) {
                assert.strictEqual(pod.status.phase, "Succeeded", `${pod.metadata.name} finished`);
            }
            const running = pods.filter((pod: unknown) => !jobPods.includes(pod));
            assert.strictEqual(running.length, replicas + 1, "one pod per API replica plus PostgreSQL");
            for (const pod of running) {
                assert.strictEqual(pod.status.phase, "Running", `${pod.metadata.name} runs`);
            }
            const events = kubectlJson("-n", namespace, "get", "events").items;
            const refused = events.filter((event: { reason: string }) => event.reason === "FailedCreate");
            assert.deepStrictEqual(
                refused.map((event: { message: string }) => event.message),
                [],
                "no pod was refused admission",
            );
            volumeUid = kubectlJson("-n", namespace, "get", "pvc", "postgres-data").metadata.uid;
            secretUid = kubectlJson("-n", namespace, "get", "secret", "postgres-credentials").metadata.uid;
            assert.strictEqual(kubectlJson("-n", namespace, "get", "pvc", "postgres-data").status.phase, "Bound");
        });

        it("3. a second preview reports no changes", async () => {
            assert.deepStrictEqual(Object.keys(byOp(await preview(stack))), ["same"]);
        });

        it("4. more replicas and resources update in place; the database volume and Secret keep their uid", async () => {
            replicas += 2;
            await copy.setConfig(stack, { apiReplicas: String(replicas), apiCpuRequest: "100m", apiMemoryLimit: "384Mi" });
            const planned = (await preview(stack)).steps.filter((step) => step.op !== "same");
            const expected = [["update", "api-deployment"]];
            if (baseReplicas[stackName] === 1) {
                // Going from one pod to several adds the PodDisruptionBudget that guards them.
                expected.unshift(["create", "api-pdb"]);
            }
            assert.deepStrictEqual(
                planned.map((step) => [step.op, step.name]),
                expected,
            );
            await up(stack);
            const api = kubectlJson("-n", namespace, "get", "deployment", "api");
            assert.strictEqual(api.status.readyReplicas, replicas);
            assert.strictEqual(api.spec.template.spec.containers[0].resources.requests.cpu, "100m");
            assert.strictEqual(kubectlJson("-n", namespace, "get", "pvc", "postgres-data").metadata.uid, volumeUid);
            assert.strictEqual(kubectlJson("-n", namespace, "get", "secret", "postgres-credentials").metadata.uid, secretUid);
        });

        it("5. a new image rolls the Deployment without available replicas ever dropping below the count", async () => {
            await copy.setConfig(stack, { imageRef: "api-stack/api:e2e-rollout-2" });
            const available: number[] = [];
            const watcher = setInterval(() => {
                const status = kubectlJson("-n", namespace, "get", "deployment", "api").status;
                available.push(status.availableReplicas ?? 0);
            }, 250);
            try {
                await up(stack);
            } finally {
                clearInterval(watcher);
            }
            const api = kubectlJson("-n", namespace, "get", "deployment", "api");
            assert.strictEqual(api.spec.template.spec.containers[0].image, "api-stack/api:e2e-rollout-2");
            assert.strictEqual(api.status.updatedReplicas, replicas);
            assert.ok(available.length > 0, "the rollout was observed");
            assert.ok(Math.min(...available) >= replicas, `available replicas seen during the rollout: ${available.join(",")}`);
            const replicaSets = kubectlJson("-n", namespace, "get", "replicasets").items;
            assert.ok(replicaSets.length >= 2, "the pods were replaced through a new ReplicaSet");
        });

        it("6. an API pod deleted behind Pulumi's back comes back, and refresh reports no drift", async () => {
            const pods = kubectlJson("-n", namespace, "get", "pods", "-l", "app.kubernetes.io/name=api").items;
            const victim = pods[0].metadata.name;
            kubectl("-n", namespace, "delete", "pod", victim, "--wait=true");
            await waitFor("the API to be back at full strength", () => {
                const status = kubectlJson("-n", namespace, "get", "deployment", "api").status;
                return status.readyReplicas === replicas && !exists("-n", namespace, "pod", victim);
            });
            const refresh = await stack.refresh({});
            const changes = Object.entries(refresh.summary.resourceChanges ?? {}).filter(([op, count]) => op !== "same" && count > 0);
            assert.deepStrictEqual(changes, [], "refresh found no drift");
            assert.deepStrictEqual(Object.keys(byOp(await preview(stack))), ["same"]);
        });

        if (stackName === "dev") {
            it("7. destroy removes every object it created", async () => {
                await destroy(stack);
                await waitFor(`namespace ${namespace} to be gone`, () => !exists("namespace", namespace));
                assert.ok(!exists("-n", namespace, "pvc", "postgres-data"));
            });
        } else {
            it("7. destroy is refused while protect is on, and the data volume stays", async () => {
                const message = await failure(() => destroy(stack));
                assert.match(message, /protect/);
                assert.strictEqual(kubectlJson("-n", namespace, "get", "pvc", "postgres-data").metadata.uid, volumeUid);
                assert.strictEqual(kubectlJson("-n", namespace, "get", "secret", "postgres-credentials").metadata.uid, secretUid);
            });
        }
    });
}

describe("local cluster: bad configurations fail at preview with nothing created", function () {
    this.timeout(10 * 60 * 1000);
    const copy = new ProjectCopy("cluster-bad");
    after(() => copy.remove());

    for (const [index, bad] of badConfigs.entries()) {
        it(`${bad.title}: the error names api-stack:${bad.key}`, async () => {
            const namespace = `e2e-bad-${index}-${crypto.randomBytes(3).toString("hex")}`;
            await assertRefusedAtPreview(copy, index, bad, {
                ...localClusterConfig(localKubeconfig(), projectRoot),
                "api-stack:namespace": namespace,
            });
            if (bad.key !== "namespace") {
                assert.ok(!exists("namespace", namespace), "nothing was created");
            }
        });
    }
});
