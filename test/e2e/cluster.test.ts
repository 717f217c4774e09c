import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as automation from "@pulumi/pulumi/automation";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { localClusterConfig } from "../../stacks/local-cluster";
import { assertRefusedAtPreview, badConfigs } from "./bad-configs";
import { byOp, countTypes, destroy, failure, preview, ProjectCopy, projectRoot, up } from "./engine";
import { registerDay2Tests } from "./day2";
import { expectedCreates } from "./expected";
import {
    ensureLocalCluster,
    loadImagesIntoNode,
    NodeImages,
    stopDockerIfStarted,
    exists,
    kubectl,
    kubectlJson,
    localKubeconfig,
    secondCheckout,
    stopLocalCluster,
    waitFor,
} from "./kube";
import { startLoad } from "./load";
import { containerProcessUids, hostState, HostState, psql, readyEndpoints, runNodePod, serviceUrl } from "./node";

/**
 * Tier 2: the full lifecycle on the local cluster's real node, for dev and prod: real pods, probes,
 * volumes, NetworkPolicies and traffic. Overrides: the cluster connection and image source
 * (stacks/local-cluster.ts), and a namespace of the test's own so that a stack deployed by
 * `npm run deploy` on the same cluster is never touched. The images are built and loaded into the
 * node before the first test (test/e2e/kube.ts).
 */

let startedCluster = false;
let images: NodeImages;
let hostBeforeUp: HostState | undefined;
before(function () {
    this.timeout(30 * 60 * 1000);
    const state = hostState();
    startedCluster = ensureLocalCluster();
    hostBeforeUp = startedCluster ? state : undefined;
    images = loadImagesIntoNode();
});
after(function () {
    this.timeout(5 * 60 * 1000);
    if (startedCluster) {
        stopLocalCluster();
    }
    stopDockerIfStarted();
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
                ...localClusterConfig(localKubeconfig(), projectRoot, images.postgres),
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
                const why =
                    pod.status.phase === "Succeeded"
                        ? ""
                        : `${JSON.stringify(pod.status.containerStatuses?.[0]?.state)}\n${podLog(namespace, pod.metadata.name)}`;
                assert.strictEqual(pod.status.phase, "Succeeded", `${pod.metadata.name} finished ${why}`);
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
            // Three replicas starting together: one of them ran each migration, exactly once.
            const migrations = psql(namespace, "SELECT version, count(*) FROM schema_migrations GROUP BY version ORDER BY version").split(
                "\n",
            );
            assert.ok(migrations.length >= 1, "the schema was migrated");
            assert.deepStrictEqual(
                migrations.filter((row) => !row.endsWith("|1")),
                [],
                "every migration recorded once",
            );
            // What runs on the node, not what the spec asks: no container process is root.
            const uids = containerProcessUids(namespace);
            assert.ok(uids.size >= replicas + 1, `found the processes of every container: ${[...uids.keys()].join(", ")}`);
            const rootProcesses = [...uids].filter(([, uid]) => uid === 0).map(([process]) => process);
            assert.deepStrictEqual(rootProcesses, [], "container processes running as root");
            volumeUid = kubectlJson("-n", namespace, "get", "pvc", "postgres-data").metadata.uid;
            secretUid = kubectlJson("-n", namespace, "get", "secret", "postgres-credentials").metadata.uid;
            assert.strictEqual(kubectlJson("-n", namespace, "get", "pvc", "postgres-data").status.phase, "Bound");
        });

        it("3. a second preview reports no changes", async () => {
            assert.deepStrictEqual(Object.keys(byOp(await preview(stack))), ["same"]);
        });

        it("3a. traffic: 100 items created through the Service from this machine, and listed from a pod in the namespace", async () => {
            const url = serviceUrl(namespace, "api");
            for (let i = 0; i < 100; i++) {
                const response = await fetch(`${url}/api/v1/items`, {
                    method: "POST",
                    headers: { "content-type": "application/json" },
                    body: JSON.stringify({ name: `item-${i}` }),
                });
                assert.strictEqual(response.status, 201, await response.text());
            }
            // The namespace denies all traffic by default: the test's probes get an egress policy of their own.
            allowProbeEgress(namespace);
            const fromPod = await runNodePod(namespace, "e2e-client", images.api, probeLabels, listItemsScript("http://api"));
            assert.strictEqual(fromPod.exitCode, 0, fromPod.log);
            assert.strictEqual(JSON.parse(fromPod.log).count, 100, fromPod.log);
        });

        it("3b. the PostgreSQL pod deleted: its successor mounts the same volume, and all 100 items are there", async () => {
            const old = kubectlJson("-n", namespace, "get", "pods", "-l", "app.kubernetes.io/name=postgres").items[0].metadata.name;
            kubectl("-n", namespace, "delete", "pod", old, "--wait=true");
            await waitFor(
                "PostgreSQL to be back",
                () => kubectlJson("-n", namespace, "get", "deployment", "postgres").status.readyReplicas === 1,
            );
            assert.strictEqual(kubectlJson("-n", namespace, "get", "pvc", "postgres-data").metadata.uid, volumeUid);
            assert.strictEqual(psql(namespace, "SELECT count(*) FROM items WHERE name LIKE 'item-%'"), "100");
        });

        it("3c. NetworkPolicy: only the API reaches PostgreSQL, and the API reaches nothing but DNS and PostgreSQL", async function () {
            if (!policiesEnforced()) {
                // Marked, not passed: without enforcement these checks prove nothing (3d shows they fail).
                this.skip();
            }
            const apiLabels = kubectlJson("-n", namespace, "get", "deployment", "api").spec.selector.matchLabels;
            // A pod free to send anywhere (its egress policy): PostgreSQL's ingress policy alone stops it.
            const outsider = await runNodePod(namespace, "e2e-outsider", images.api, probeLabels, connectScript([["postgres", 5432]]));
            assert.deepStrictEqual(JSON.parse(outsider.log), { "postgres:5432": "blocked" }, outsider.log);
            const apiNodeIp = kubectlJson("get", "nodes", "-l", "api-stack.dev/node=real").items[0].status.addresses[0].address;
            // Targets that listen and that only the API's egress rules could admit: the DNS pod on a port
            // other than 53, and the node's kubelet. (Not another API pod: kube-router evaluates the API's
            // ingress rule on that path too, since both ends are selected by the same policy.)
            const dnsPodIp = kubectlJson("-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-dns").items[0].status.podIP;
            const insider = await runNodePod(
                namespace,
                "e2e-insider",
                images.api,
                apiLabels,
                connectScript([
                    ["postgres", 5432],
                    [dnsPodIp, 8181],
                    [apiNodeIp, 10250],
                ]),
            );
            assert.deepStrictEqual(
                JSON.parse(insider.log),
                { "postgres:5432": "open", [`${dnsPodIp}:8181`]: "blocked", [`${apiNodeIp}:10250`]: "blocked" },
                insider.log,
            );
        });

        if (stackName === "dev") {
            it("3d. with enforcement off (up --no-network-policy) the outsider reaches PostgreSQL, so 3c can fail; up enforces again", async () => {
                execFileSync("bash", [clusterScript, "up", "--no-network-policy"], { stdio: ["ignore", "ignore", "pipe"] });
                try {
                    assert.ok(!policiesEnforced(), "cluster:status says the policies are not enforced");
                    const open = await runNodePod(
                        namespace,
                        "e2e-outsider-open",
                        images.api,
                        probeLabels,
                        connectScript([["postgres", 5432]]),
                    );
                    assert.deepStrictEqual(JSON.parse(open.log), { "postgres:5432": "open" }, open.log);
                } finally {
                    execFileSync("bash", [clusterScript, "up"], { stdio: ["ignore", "ignore", "pipe"] });
                }
                assert.ok(policiesEnforced(), "cluster:status says the policies are enforced again");
                const blocked = await runNodePod(
                    namespace,
                    "e2e-outsider-again",
                    images.api,
                    probeLabels,
                    connectScript([["postgres", 5432]]),
                );
                assert.deepStrictEqual(JSON.parse(blocked.log), { "postgres:5432": "blocked" }, blocked.log);
            });
        }

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
            await copy.setConfig(stack, { imageRef: images.apiNext });
            const load = startLoad(serviceUrl(namespace, "api"));
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
            const result = await load.stop();
            assert.ok(result.sent >= 20, `the load ran (${result.sent} requests)`);
            assert.deepStrictEqual(result.failures, [], `${result.failed} of ${result.sent} requests failed during the rollout`);
            const api = kubectlJson("-n", namespace, "get", "deployment", "api");
            assert.strictEqual(api.spec.template.spec.containers[0].image, images.apiNext);
            assert.strictEqual(api.status.updatedReplicas, replicas);
            assert.ok(available.length > 0, "the rollout was observed");
            assert.ok(Math.min(...available) >= replicas, `available replicas seen during the rollout: ${available.join(",")}`);
            const replicaSets = kubectlJson("-n", namespace, "get", "replicasets").items;
            assert.ok(replicaSets.length >= 2, "the pods were replaced through a new ReplicaSet");
        });

        it("6. an API pod deleted behind Pulumi's back comes back, and refresh reports no drift", async () => {
            // A serving pod, not one that the rollout before is still terminating.
            const pods = kubectlJson("-n", namespace, "get", "pods", "-l", "app.kubernetes.io/name=api").items.filter(
                (pod: { metadata: { deletionTimestamp?: string } }) => !pod.metadata.deletionTimestamp,
            );
            const victim = pods[0].metadata.name;
            const load = startLoad(serviceUrl(namespace, "api"));
            kubectl("-n", namespace, "delete", "pod", victim, "--wait=true");
            await waitFor("the API to be back at full strength", () => {
                const status = kubectlJson("-n", namespace, "get", "deployment", "api").status;
                return status.readyReplicas === replicas && !exists("-n", namespace, "pod", victim);
            });
            const result = await load.stop();
            assert.deepStrictEqual(result.failures, [], `${result.failed} of ${result.sent} requests failed while a pod was deleted`);
            const refresh = await stack.refresh({});
            const changes = Object.entries(refresh.summary.resourceChanges ?? {}).filter(([op, count]) => op !== "same" && count > 0);
            assert.deepStrictEqual(changes, [], "refresh found no drift");
            assert.deepStrictEqual(Object.keys(byOp(await preview(stack))), ["same"]);
        });

        it("6a. database outage: the API pods turn unready within 15 s, and come back Ready without a restart", async () => {
            kubectl("-n", namespace, "scale", "deployment", "postgres", "--replicas=0");
            const outage = Date.now();
            await waitFor("the api Service to have no ready endpoints", () => readyEndpoints(namespace, "api").length === 0, 15_000);
            assert.ok(Date.now() - outage <= 15_000);
            kubectl("-n", namespace, "scale", "deployment", "postgres", "--replicas=1");
            await waitFor(
                "the API to be Ready again",
                () => kubectlJson("-n", namespace, "get", "deployment", "api").status.readyReplicas === replicas,
            );
            const restarts = kubectlJson("-n", namespace, "get", "pods", "-l", "app.kubernetes.io/name=api").items.map(
                (pod: { status: { containerStatuses: { restartCount: number }[] } }) => pod.status.containerStatuses[0].restartCount,
            );
            assert.deepStrictEqual(
                restarts,
                restarts.map(() => 0),
                "no API container restarted",
            );
        });

        if (stackName === "prod") {
            registerDay2Tests({
                stack: () => stack,
                copy,
                namespace,
                stackName,
                replicas: () => replicas,
                // Test 5 rolled the API to this image.
                apiImage: () => images.apiNext,
                volumeReplaced: (uid) => (volumeUid = uid),
            });
        }

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
                ...localClusterConfig(localKubeconfig(), projectRoot, images.postgres),
                "api-stack:namespace": namespace,
            });
            if (bad.key !== "namespace") {
                assert.ok(!exists("namespace", namespace), "nothing was created");
            }
        });
    }
});

/** A `node -e` script that lists every item through `base` and prints {"count": n}. */
function listItemsScript(base: string): string {
    return `(async () => {
        let count = 0, cursor;
        do {
            const r = await fetch("${base}/api/v1/items?limit=100" + (cursor ? "&cursor=" + cursor : ""));
            if (!r.ok) throw new Error(r.status + " " + await r.text());
            const page = await r.json();
            count += page.items.filter((i) => i.name.startsWith("item-")).length;
            cursor = page.next_cursor;
        } while (cursor);
        console.log(JSON.stringify({ count }));
    })().catch((e) => { console.error(e); process.exit(1); });`;
}

/**
 * A `node -e` script that tries TCP to each host:port (3 s each) and prints {"host:port": "open" |
 * "blocked" | "error <code>"}: blocked is a timeout or a refusal (a policy drops or rejects; the
 * targets all listen), an error is anything else, such as a name that does not resolve.
 */
function connectScript(targets: [string, number][]): string {
    // kube-router programs a new pod's rules a few seconds after the pod starts (it syncs on the pod's
    // event); until then the pod is unrestricted, so the probe waits before it connects.
    return `const net = require("net");
    const targets = ${JSON.stringify(targets)};
    setTimeout(() => Promise.all(targets.map(([host, port]) => new Promise((resolve) => {
        const socket = net.connect({ host, port, timeout: 3000 });
        socket.on("connect", () => { socket.destroy(); resolve([host + ":" + port, "open"]); });
        socket.on("timeout", () => { socket.destroy(); resolve([host + ":" + port, "blocked"]); });
        socket.on("error", (e) => resolve([host + ":" + port, e.code === "ECONNREFUSED" ? "blocked" : "error " + e.code]));
    }))).then((r) => console.log(JSON.stringify(Object.fromEntries(r)))), 8000);`;
}

const clusterScript = `${projectRoot}/scripts/cluster.sh`;

/** A pod's log, or why it cannot be read: for failure messages. */
function podLog(namespace: string, pod: string): string {
    try {
        return kubectl("-n", namespace, "logs", pod, "--tail=20");
    } catch (error) {
        return String(error);
    }
}

/** Whether the real node enforces NetworkPolicies now, as `cluster:status` reports it. */
function policiesEnforced(): boolean {
    return /policies: +NetworkPolicies enforced/.test(execFileSync("bash", [clusterScript, "status"], { encoding: "utf8" }));
}

/** Labels of the test's probe pods, which {@link allowProbeEgress} lets send anywhere. */
const probeLabels = { "api-stack.dev/e2e-probe": "true" };

function allowProbeEgress(namespace: string): void {
    const policy = {
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: { name: "e2e-probe-egress", namespace },
        spec: { podSelector: { matchLabels: probeLabels }, policyTypes: ["Egress"], egress: [{}] },
    };
    execFileSync("kubectl", ["--kubeconfig", localKubeconfig(), "apply", "-f", "-"], { input: JSON.stringify(policy) });
}

describe("local cluster: faults while it runs", function () {
    this.timeout(5 * 60 * 1000);
    const nodePids = () => {
        const dir = `${process.env.API_STACK_CLUSTER_DIR}/node/pids`;
        return Object.fromEntries(fs.readdirSync(dir).map((file) => [file, fs.readFileSync(`${dir}/${file}`, "utf8").trim()]));
    };

    it("a second up restarts nothing: containerd, kubelet and kube-proxy keep their pids", () => {
        const before = nodePids();
        assert.deepStrictEqual(Object.keys(before).sort(), ["containerd.pid", "kube-proxy.pid", "kubelet.pid"]);
        execFileSync("bash", [clusterScript, "up"], { stdio: ["ignore", "ignore", "pipe"] });
        assert.deepStrictEqual(nodePids(), before);
        for (const pid of Object.values(before)) {
            assert.ok(fs.existsSync(`/proc/${pid}`), `process ${pid} runs`);
        }
    });

    it("the node's bridge keeps its own address when a port with a lower one joins (pods' gateway entries stay valid)", () => {
        const address = () => fs.readFileSync("/sys/class/net/apistack-pods/address", "utf8").trim();
        assert.strictEqual(address(), "02:00:0a:d7:00:01");
        const ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
        ip("link", "add", "apistest-mac0", "address", "02:00:00:00:00:01", "type", "veth", "peer", "name", "apistest-mac1");
        try {
            ip("link", "set", "apistest-mac0", "master", "apistack-pods", "up");
            // A bridge without an address of its own would now have taken 02:00:00:00:00:01.
            assert.strictEqual(address(), "02:00:0a:d7:00:01");
        } finally {
            ip("link", "del", "apistest-mac0");
        }
    });

    it("up from another checkout is refused before it starts anything, naming the bridge this node holds", () => {
        const other = secondCheckout();
        try {
            const run = spawnSync("bash", [`${other}/scripts/cluster.sh`, "up"], { encoding: "utf8", env: withoutProjectEnv() });
            assert.notStrictEqual(run.status, 0, run.stderr);
            assert.match(run.stderr, /cannot start the real node: the bridge apistack-pods exists but this checkout did not make it/);
            assert.match(run.stderr, /nothing was started/);
            assert.ok(!fs.existsSync(`${other}/.local-cluster/kwok`), "no control plane was created");
            assert.deepStrictEqual(
                hostState().processes.filter((command) => command.includes(other)),
                [],
                "no process of the other checkout runs",
            );
        } finally {
            fs.rmSync(other, { recursive: true, force: true });
        }
    });

    it("recycle-volumes empties a Released volume before it is bound again (a next claim never finds old data)", async () => {
        const volume = kubectlJson("get", "pv").items.find((pv: { status: { phase: string } }) => pv.status.phase === "Available");
        assert.ok(volume, "an Available volume to claim");
        const name: string = volume.metadata.name;
        const dir: string = volume.spec.hostPath.path;
        const namespace = "e2e-recycle";
        kubectl("create", "namespace", namespace);
        try {
            const claim = {
                apiVersion: "v1",
                kind: "PersistentVolumeClaim",
                metadata: { name: "data", namespace },
                spec: { accessModes: ["ReadWriteOnce"], volumeName: name, resources: { requests: { storage: "1Gi" } } },
            };
            execFileSync("kubectl", ["--kubeconfig", localKubeconfig(), "apply", "-f", "-"], { input: JSON.stringify(claim) });
            await waitFor(`${name} bound`, () => kubectlJson("get", "pv", name).status.phase === "Bound", 30_000);
            // What PostgreSQL would have left: a data directory initialised with another password.
            fs.mkdirSync(`${dir}/pgdata`, { recursive: true });
            fs.writeFileSync(`${dir}/pgdata/PG_VERSION`, "15\n");
        } finally {
            kubectl("delete", "namespace", namespace, "--wait=true");
        }
        await waitFor(`${name} released`, () => kubectlJson("get", "pv", name).status.phase === "Released", 30_000);
        execFileSync("bash", [clusterScript, "recycle-volumes"], { stdio: ["ignore", "ignore", "pipe"] });
        await waitFor(`${name} available`, () => kubectlJson("get", "pv", name).status.phase === "Available", 30_000);
        assert.deepStrictEqual(fs.readdirSync(dir), [], `${dir} was emptied`);
    });

    it("an image that the Docker engine does not have: load-images names it and how to build it", () => {
        const run = spawnSync("bash", [clusterScript, "load-images", "api-stack/api:e2e-never-built"], { encoding: "utf8" });
        assert.notStrictEqual(run.status, 0);
        assert.match(run.stderr, /the image api-stack\/api:e2e-never-built is not in the Docker engine/);
        assert.match(run.stderr, /npm run image:api/);
    });
});

/** This process's environment without what scripts/env.sh exported for this checkout. */
function withoutProjectEnv(): NodeJS.ProcessEnv {
    return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("API_STACK_") && key !== "PULUMI_HOME"));
}

describe("local cluster: cluster:down", function () {
    this.timeout(5 * 60 * 1000);

    it("removes every process, bridge, rule, ipset, network namespace, mount, cgroup and sysctl that up made, and nothing else", function () {
        if (!hostBeforeUp) {
            // The cluster ran before this tier (a user's): stopping it is not the tier's business.
            this.skip();
        }
        stopLocalCluster();
        startedCluster = false;
        // The Docker engine the tier started for the images adds a bridge and chains of its own.
        stopDockerIfStarted();
        const after = hostState();
        for (const key of Object.keys(after) as (keyof HostState)[]) {
            assert.deepStrictEqual(after[key], hostBeforeUp[key], `${key} after cluster:down equal those before cluster:up`);
        }
    });

    it("run twice, has nothing to do and succeeds", function () {
        if (!hostBeforeUp) {
            this.skip();
        }
        const second = spawnSync("bash", [`${projectRoot}/scripts/cluster.sh`, "down"], { encoding: "utf8" });
        assert.strictEqual(second.status, 0, second.stderr);
        assert.match(second.stderr, /nothing to do/);
    });

    it("an up whose kubelet never becomes Ready fails at its deadline with the kubelet's log, and leaves the host as it found it", function () {
        if (!hostBeforeUp) {
            this.skip();
        }
        const run = spawnSync("bash", [`${projectRoot}/scripts/cluster.sh`, "up"], {
            encoding: "utf8",
            env: {
                ...process.env,
                API_STACK_NODE_READY_SECONDS: "15",
                // A runtime the kubelet cannot reach: it never reports the node Ready.
                API_STACK_KUBELET_ARGS: "--container-runtime-endpoint=unix:///run/api-stack-e2e-no-such-runtime.sock",
            },
        });
        assert.notStrictEqual(run.status, 0, run.stderr);
        assert.match(run.stderr, /kubelet log \(last 30 lines/);
        assert.match(run.stderr, /no-such-runtime\.sock/, "the kubelet's own words are printed");
        assert.match(run.stderr, /the real node did not become Ready in 15s/);
        assert.match(run.stderr, /up failed: removing the cluster this run started/);
        const after = hostState();
        for (const key of Object.keys(after) as (keyof HostState)[]) {
            assert.deepStrictEqual(after[key], hostBeforeUp[key], `${key} after the failed up equal those before`);
        }
    });

    it("where iptables does not work, up says why and runs simulated nodes only, where pods are scheduled; down leaves the host as it was", async function () {
        if (!hostBeforeUp) {
            this.skip();
        }
        // An iptables that fails as it does in a container without NET_ADMIN, first on the PATH.
        const stubs = fs.mkdtempSync(path.join(os.tmpdir(), "api-stack-e2e-no-iptables-"));
        fs.writeFileSync(
            path.join(stubs, "iptables"),
            '#!/bin/sh\necho "iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)" >&2\nexit 4\n',
            { mode: 0o755 },
        );
        try {
            const run = spawnSync("bash", [clusterScript, "up"], {
                encoding: "utf8",
                env: { ...process.env, PATH: `${stubs}:${process.env.PATH}` },
            });
            assert.strictEqual(run.status, 0, run.stderr);
            assert.match(run.stderr, /no real node: iptables does not work here \(iptables v1\.8\.9 .*Permission denied/);
            assert.match(run.stderr, /continuing with simulated nodes only/);
            const nodes = kubectlJson("get", "nodes").items.map(
                (node: { metadata: { name: string; labels: Record<string, string> } }) => node,
            );
            assert.ok(nodes.length >= 1);
            assert.ok(
                nodes.every((node: { metadata: { labels: Record<string, string> } }) => node.metadata.labels.type === "kwok"),
                "simulated nodes only",
            );
            kubectl("run", "e2e-simulated", "--image=api-stack/e2e-never-pulled:1", "--restart=Never", "-n", "default");
            await waitFor("the pod scheduled onto a simulated node and Running there", () => {
                const pod = kubectlJson("get", "pod", "e2e-simulated", "-n", "default");
                return pod.status.phase === "Running" && pod.spec.nodeName !== undefined;
            });
        } finally {
            fs.rmSync(stubs, { recursive: true, force: true });
            stopLocalCluster();
        }
        const after = hostState();
        for (const key of Object.keys(after) as (keyof HostState)[]) {
            assert.deepStrictEqual(after[key], hostBeforeUp[key], `${key} after the simulated-only cluster's down equal those before`);
        }
    });
});
