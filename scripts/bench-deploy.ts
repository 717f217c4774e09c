/**
 * Deployment benchmark on the local simulated cluster (not a test): time from the start of
 * `pulumi up` to every replica ready, for dev, prod (3 replicas) and prod with 200 API replicas on
 * 20 simulated nodes, next to `kubectl apply` + `kubectl rollout status` of the reference
 * article's plain manifests (a 3-replica Deployment and a Service) on the same cluster.
 *
 * Usage: npm run bench:deploy   (sources scripts/env.sh; starts the cluster if needed)
 */
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { localClusterConfig } from "../stacks/local-cluster";
import { ProjectCopy, projectRoot } from "../test/e2e/engine";
import { kubectl, kubectlJson, localKubeconfig } from "../test/e2e/kube";

const nodes = 20;

interface Result {
    readonly scenario: string;
    readonly replicas: number;
    readonly seconds: number;
}

function log(message: string) {
    console.error(`bench:deploy: ${message}`);
}

async function pulumiUp(scenario: string, configOf: "dev" | "prod", replicas: number): Promise<Result> {
    const copy = new ProjectCopy(`bench-${configOf}`);
    const namespace = `bench-${configOf}-${crypto.randomBytes(3).toString("hex")}`;
    try {
        const stack = await copy.stack(configOf, configOf, {
            ...localClusterConfig(localKubeconfig(), projectRoot),
            "api-stack:namespace": namespace,
            "api-stack:apiReplicas": String(replicas),
            "api-stack:protect": "false",
        });
        log(`${scenario}: pulumi up (${replicas} API replicas) ...`);
        const started = process.hrtime.bigint();
        await stack.up();
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const deployment = kubectlJson("-n", namespace, "get", "deployment", "api") as { status: { readyReplicas?: number } };
        const ready = deployment.status.readyReplicas;
        if (ready !== replicas) {
            throw new Error(`${scenario}: up returned with ${ready} of ${replicas} replicas ready`);
        }
        log(`${scenario}: ${seconds.toFixed(1)} s; destroying`);
        await stack.destroy();
        return { scenario, replicas, seconds };
    } finally {
        copy.remove();
    }
}

function kubectlApply(): Result {
    const namespace = `bench-kubectl-${crypto.randomBytes(3).toString("hex")}`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "api-stack-bench-"));
    const manifest = path.join(dir, "reference.yaml");
    // The reference article's manifests, as plain YAML: 3 replicas, 128Mi/250m requests, 256Mi/500m limits, LoadBalancer 80 -> 8000.
    fs.writeFileSync(
        manifest,
        `apiVersion: v1
kind: Namespace
metadata: { name: ${namespace} }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: api, namespace: ${namespace} }
spec:
  replicas: 3
  selector: { matchLabels: { app: api } }
  template:
    metadata: { labels: { app: api } }
    spec:
      containers:
        - name: api
          image: api-stack/api:reference
          ports: [{ containerPort: 8000 }]
          resources:
            requests: { memory: 128Mi, cpu: 250m }
            limits: { memory: 256Mi, cpu: 500m }
---
apiVersion: v1
kind: Service
metadata: { name: api, namespace: ${namespace} }
spec:
  type: LoadBalancer
  selector: { app: api }
  ports: [{ port: 80, targetPort: 8000 }]
`,
    );
    try {
        log("kubectl apply + rollout status (reference manifests) ...");
        const started = process.hrtime.bigint();
        kubectl("apply", "-f", manifest);
        kubectl("-n", namespace, "rollout", "status", "deployment/api", "--timeout=5m");
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        return { scenario: "kubectl apply, reference manifests", replicas: 3, seconds };
    } finally {
        kubectl("delete", "namespace", namespace, "--wait=false");
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

async function main() {
    log(`making sure the local cluster runs with ${nodes} simulated nodes`);
    execFileSync("bash", [path.join(projectRoot, "scripts", "cluster.sh"), "up", "--nodes", String(nodes)], { stdio: "inherit" });
    const results: Result[] = [kubectlApply()];
    results.push(await pulumiUp("pulumi up, dev", "dev", 1));
    results.push(await pulumiUp("pulumi up, prod", "prod", 3));
    results.push(await pulumiUp(`pulumi up, prod, 200 replicas on ${nodes} nodes`, "prod", 200));
    const baseline = results[0].seconds;
    console.log(`\n${"scenario".padEnd(46)} ${"replicas".padStart(8)} ${"seconds".padStart(8)} ${"vs kubectl".padStart(10)}`);
    for (const result of results) {
        console.log(
            `${result.scenario.padEnd(46)} ${String(result.replicas).padStart(8)} ${result.seconds.toFixed(1).padStart(8)} ${(result.seconds / baseline).toFixed(1).padStart(9)}x`,
        );
    }
}

main().catch((error: unknown) => {
    console.error(`bench:deploy failed: ${error instanceof Error ? error.message : String(error)}`);
    console.error("bench:deploy: next: check `npm run cluster:status` and `npm run toolchain`, then rerun");
    process.exit(1);
});
