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
    return execFileSync("ctr", ["--address", socket, "--namespace", "k8s.io", ...args], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
    });
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

/** What the real node may add to this machine, to compare before `cluster:up` and after `cluster:down`. */
export interface HostState {
    readonly links: string[];
    readonly chains: string[];
    readonly ipsets: string[];
    readonly netns: string[];
    readonly mounts: string[];
    readonly cgroups: string[];
    readonly sysctls: string[];
    /** Processes whose command line points into this checkout's cluster folder. */
    readonly processes: string[];
}

export function hostState(): HostState {
    const run = (command: string, ...args: string[]) => execFileSync(command, args, { encoding: "utf8" });
    const lines = (text: string) => text.split("\n").filter(Boolean).sort();
    const clusterDir = process.env.API_STACK_CLUSTER_DIR ?? "";
    const processes = fs
        .readdirSync("/proc")
        .filter((pid) => /^\d+$/.test(pid) && Number(pid) !== process.pid)
        .flatMap((pid) => {
            try {
                const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
                return cmdline.includes(`${clusterDir}/`) ? [cmdline.trim()] : [];
            } catch {
                return []; // exited while we looked
            }
        });
    return {
        links: lines(run("ip", "-o", "link", "show")).map((line) => line.split(":")[1].trim().split("@")[0]),
        chains: ["filter", "nat"].flatMap((table) =>
            lines(run("iptables-save", "-t", table))
                .filter((line) => line.startsWith(":"))
                .map((line) => `${table} ${line.slice(1).split(" ")[0]}`),
        ),
        ipsets: lines(run("ipset", "list", "-n")),
        netns: fs.existsSync("/var/run/netns") ? fs.readdirSync("/var/run/netns").sort() : [],
        mounts: lines(fs.readFileSync("/proc/mounts", "utf8")).map((line) => line.split(" ")[1]),
        cgroups: fs.readdirSync("/sys/fs/cgroup/memory").sort(),
        sysctls: ["net/ipv4/ip_forward", "net/bridge/bridge-nf-call-iptables"].map(
            (key) => `${key}=${fs.existsSync(`/proc/sys/${key}`) ? fs.readFileSync(`/proc/sys/${key}`, "utf8").trim() : "absent"}`,
        ),
        processes: processes.sort(),
    };
}
