import { execFileSync } from "child_process";
import * as fs from "fs";
import { kubectl, kubectlJson, waitFor } from "./kube";

/** What the real-node tier checks inside the cluster and on the node itself. */

/** `http://<ClusterIP>:<port>` of a Service: reachable from this machine through kube-proxy. */
export function serviceUrl(namespace: string, service: string): string {
    const svc = kubectlJson("-n", namespace, "get", "service", service);
    return `http://${svc.spec.clusterIP}:${svc.spec.ports[0].port}`;
}

/** Ready endpoint addresses behind a Service, from its EndpointSlices. */
export function readyEndpoints(namespace: string, service: string): string[] {
    const slices = kubectlJson("-n", namespace, "get", "endpointslices", "-l", `kubernetes.io/service-name=${service}`).items;
    return slices.flatMap((slice: { endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[] }) =>
        (slice.endpoints ?? []).filter((e) => e.conditions?.ready === true).flatMap((e) => e.addresses),
    );
}

/** Runs SQL in the PostgreSQL pod as its superuser, over the local socket; returns the rows, tab-separated. */
export function psql(namespace: string, sql: string): string {
    return kubectl(
        "-n",
        namespace,
        "exec",
        "deploy/postgres",
        "--",
        "sh",
        "-c",
        'psql -U "$POSTGRES_USER" -d "$POSTGRES_DB" -tAqc "$0"',
        sql,
    ).trim();
}

export interface PodRun {
    readonly exitCode: number;
    readonly log: string;
}

/**
 * Runs a throw-away pod in the namespace, as Pod Security `restricted` requires, until it ends:
 * `node -e script` in the API image, with the labels given (none of the API's, unless asked).
 */
export async function runNodePod(
    namespace: string,
    name: string,
    image: string,
    labels: Record<string, string>,
    script: string,
): Promise<PodRun> {
    const pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace, labels },
        spec: {
            restartPolicy: "Never",
            automountServiceAccountToken: false,
            securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, seccompProfile: { type: "RuntimeDefault" } },
            containers: [
                {
                    name: "probe",
                    image,
                    imagePullPolicy: "IfNotPresent",
                    command: ["node", "-e", script],
                    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
                    resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "128Mi" } },
                },
            ],
        },
    };
    execFileSync("kubectl", ["--kubeconfig", process.env.API_STACK_KUBECONFIG ?? "", "apply", "-f", "-"], { input: JSON.stringify(pod) });
    try {
        let phase = "";
        await waitFor(`pod ${name} to finish`, () => {
            phase = kubectlJson("-n", namespace, "get", "pod", name).status.phase;
            return phase === "Succeeded" || phase === "Failed";
        });
        const status = kubectlJson("-n", namespace, "get", "pod", name).status.containerStatuses[0];
        return { exitCode: status.state.terminated.exitCode, log: kubectl("-n", namespace, "logs", name) };
    } finally {
        kubectl("-n", namespace, "delete", "pod", name, "--wait=false", "--ignore-not-found");
    }
}

/** The node's containerd, as scripts/cluster-node.sh runs it. */
function ctr(...args: string[]): string {
    const socket = `${process.env.API_STACK_CLUSTER_DIR}/node/containerd/containerd.sock`;
    return execFileSync("ctr", ["--address", socket, "--namespace", "k8s.io", ...args], { encoding: "utf8" });
}

/**
 * The uid of every process in the containers of a namespace's pods, read on the node from /proc:
 * what runs, not what the pod spec asks for. Keyed "<pod>/<container> pid".
 */
export function containerProcessUids(namespace: string): Map<string, number> {
    const uids = new Map<string, number>();
    for (const id of ctr("containers", "ls", "-q").split("\n").filter(Boolean)) {
        const container = JSON.parse(ctr("containers", "info", id)) as { ID: string; Labels?: Record<string, string> };
        const labels = container.Labels ?? {};
        if (labels["io.kubernetes.pod.namespace"] !== namespace || labels["io.cri-containerd.kind"] !== "container") {
            continue;
        }
        let pids: string[];
        try {
            pids = ctr("tasks", "ps", container.ID)
                .split("\n")
                .slice(1)
                .map((line) => line.trim().split(/\s+/)[0])
                .filter(Boolean);
        } catch {
            continue; // not running (an old container of a replaced pod)
        }
        for (const pid of pids) {
            const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
            const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
            uids.set(`${labels["io.kubernetes.pod.name"]}/${labels["io.kubernetes.container.name"]} ${pid}`, uid);
        }
    }
    return uids;
}
