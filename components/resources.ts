import * as k8s from "@pulumi/kubernetes";

/** CPU and memory requests and limits of a container, as canonical Kubernetes quantities. */
export interface ContainerResources {
    readonly requests: { readonly cpu: string; readonly memory: string };
    readonly limits: { readonly cpu: string; readonly memory: string };
}

/** Scratch disk a container may use: its emptyDirs and the logs the node keeps for it. */
export interface EphemeralStorage {
    readonly request: string;
    readonly limit: string;
}

/**
 * The container's resource block: the configured CPU and memory plus its ephemeral storage, so
 * that the scheduler counts scratch space and the kubelet evicts a pod that fills the node's disk.
 */
export function containerResources(resources: ContainerResources, scratch: EphemeralStorage): k8s.types.input.core.v1.ResourceRequirements {
    return {
        requests: { ...resources.requests, "ephemeral-storage": scratch.request },
        limits: { ...resources.limits, "ephemeral-storage": scratch.limit },
    };
}

/**
 * The container resources of this project's one-off Jobs (migrations, role changes, backups):
 * small, and bounded so that a runaway dump or migration cannot starve the API on its node.
 */
export const jobResources: k8s.types.input.core.v1.ResourceRequirements = containerResources(
    { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "500m", memory: "256Mi" } },
    { request: "16Mi", limit: "64Mi" },
);
