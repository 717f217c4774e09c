import type { BenchOptions } from "./args";

/**
 * The stack config of the scale mode: it goes into every row's config (the kubectl row renders
 * with it too), so all rows deploy the same objects. The committed stacks carry none of it.
 */

/**
 * The label every simulated node carries: kwokctl's node template (v0.8.0, kustomize/kwokctl/resource/node.yaml)
 * sets it, and scripts/cluster.sh taints the nodes it selects. The real node does not carry it.
 */
export const simulatedNodeLabel = { type: "kwok" } as const;
/** The taint scripts/cluster-node.sh (SIMULATED_TAINT) puts on the simulated nodes beside a real one. */
export const simulatedTaint = { key: "api-stack.dev/simulated", value: "true", effect: "NoSchedule" } as const;

/** Config overrides (keys of the project, values as text, maps and lists as JSON) for the options' scale mode. */
export function scaleConfig(options: Pick<BenchOptions, "replicas" | "on">): Record<string, string> {
    const config: Record<string, string> = {};
    if (options.replicas !== undefined) {
        // A fixed count: an autoscaler would leave the Deployment's replicas unset.
        config.apiReplicas = String(options.replicas);
        config.apiAutoscaling = "false";
    }
    if (options.on === "simulated") {
        config.apiNodeSelector = JSON.stringify(simulatedNodeLabel);
        config.apiTolerations = JSON.stringify([{ ...simulatedTaint, operator: "Equal" }]);
    }
    return config;
}

/** `type=kwok`, for `kubectl get nodes -l`. */
export function simulatedNodeSelectorText(): string {
    return Object.entries(simulatedNodeLabel)
        .map(([key, value]) => `${key}=${value}`)
        .join(",");
}
