import * as path from "path";
import { BenchOptions } from "./args";
import { EndpointSliceList, servicesWithoutReadyEndpoints } from "./manifests";
import { log, run } from "./run";
import { simulatedNodeSelectorText } from "./scale";

/** kubectl on the bench's cluster. */
export class Cluster {
    constructor(private readonly options: BenchOptions) {}

    get env(): NodeJS.ProcessEnv {
        return { ...process.env, KUBECONFIG: this.options.kubeconfig };
    }

    kubectl(...args: string[]): string {
        const context = this.options.context ? ["--context", this.options.context] : [];
        return run("kubectl", [...context, ...args], { env: this.env });
    }

    /** Fails fast, with what to do, when the cluster does not answer. */
    check(): string {
        try {
            this.kubectl("get", "--raw", "/readyz", "--request-timeout=10s");
        } catch (error) {
            throw new Error(
                `the cluster of ${this.options.kubeconfig} does not answer (${error instanceof Error ? error.message.split("\n")[0] : String(error)}); ` +
                    "the bench never starts one: start it (the local one: npm run cluster:up) or pass --kubeconfig",
            );
        }
        const server = this.kubectl("config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}").trim();
        const count = (...selector: string[]) =>
            (JSON.parse(this.kubectl("get", "nodes", "-o", "json", ...selector)) as { items: unknown[] }).items.length;
        const nodes = count();
        const simulated = count("-l", simulatedNodeSelectorText());
        if (this.options.on === "simulated" && simulated === 0) {
            throw new Error(
                `--on simulated: no node of the cluster carries ${simulatedNodeSelectorText()}; ` +
                    "start the local cluster with simulated nodes (npm run cluster:up -- --nodes 20) or use --on any",
            );
        }
        // Simulated nodes run nothing: the API's pods start real containers only on the other nodes.
        this.apiPodsRun = this.options.on === "any" && nodes > simulated;
        return `${server}, ${nodes} node(s), ${simulated} of them simulated (${simulatedNodeSelectorText()})`;
    }

    /** Whether the API's pods start real containers (set by check): the fresh-up target depends on it. */
    apiPodsRun = false;

    /** Waits until every `namespace/name` Service has a ready endpoint. */
    async readyEndpoints(services: readonly string[], timeoutMs = 300_000): Promise<void> {
        const deadline = Date.now() + timeoutMs;
        for (const namespace of new Set(services.map((service) => service.split("/")[0]))) {
            const names = services.filter((service) => service.startsWith(`${namespace}/`)).map((service) => service.split("/")[1]);
            for (;;) {
                const slices = JSON.parse(this.kubectl("get", "endpointslices", "-n", namespace, "-o", "json")) as EndpointSliceList;
                const waiting = servicesWithoutReadyEndpoints(names, slices);
                if (waiting.length === 0) {
                    break;
                }
                if (Date.now() > deadline) {
                    throw new Error(`Services ${waiting.join(", ")} in ${namespace} have no ready endpoint after ${timeoutMs / 1000} s`);
                }
                await new Promise((resolve) => setTimeout(resolve, 100));
            }
        }
    }

    /** After a failed run, before its namespaces go: each pod's state, and the logs of those not ready. */
    reportPods(namespaces: readonly string[]): void {
        for (const namespace of namespaces) {
            try {
                log(`pods in ${namespace} when the run failed:\n${this.kubectl("get", "pods", "-n", namespace, "-o", "wide")}`);
                const pods = JSON.parse(this.kubectl("get", "pods", "-n", namespace, "-o", "json")) as {
                    items: { metadata: { name: string }; status: { conditions?: { type: string; status: string }[] } }[];
                };
                for (const pod of pods.items) {
                    if (!pod.status.conditions?.some((c) => c.type === "Ready" && c.status === "True")) {
                        const logs = this.kubectl("logs", "-n", namespace, pod.metadata.name, "--all-containers", "--tail=20");
                        log(`log of ${namespace}/${pod.metadata.name}:\n${logs}`);
                    }
                }
            } catch (error) {
                log(`could not read the pods of ${namespace}: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
            }
        }
    }

    /**
     * Deletes a namespace of the bench. On the local cluster its Retain volumes are then emptied and made
     * Available through cluster.sh, as `cluster:up` does: a volume made bindable with its data still in it
     * gave the next run's PostgreSQL the previous run's data directory, initialised with another password,
     * and its migration Job failed on authentication. Another cluster's volumes are its provisioner's.
     */
    async removeNamespace(namespace: string): Promise<void> {
        this.kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=true", "--timeout=5m");
        if (!this.isLocal) {
            return;
        }
        // The claims are gone with the namespace, but their volumes turn Released a moment later, and
        // only Released ones are emptied.
        const deadline = Date.now() + 60_000;
        while (this.volumesStillBound(namespace) && Date.now() < deadline) {
            await new Promise((resolve) => setTimeout(resolve, 200));
        }
        run("bash", [path.join(__dirname, "..", "cluster.sh"), "recycle-volumes"]);
    }

    private volumesStillBound(namespace: string): boolean {
        const volumes = JSON.parse(this.kubectl("get", "pv", "-o", "json")) as {
            items: { spec: { claimRef?: { namespace?: string } }; status: { phase?: string } }[];
        };
        return volumes.items.some((volume) => volume.spec.claimRef?.namespace === namespace && volume.status.phase === "Bound");
    }

    /** Whether this is the local cluster of this checkout, whose volumes cluster.sh manages. */
    private get isLocal(): boolean {
        const local = process.env.API_STACK_KUBECONFIG;
        return local !== undefined && path.resolve(local) === path.resolve(this.options.kubeconfig ?? "") && !this.options.context;
    }
}
