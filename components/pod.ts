import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from "./security";

type Container = k8s.types.input.core.v1.Container;
type Volume = k8s.types.input.core.v1.Volume;

export const tolerationOperators = ["Equal", "Exists"] as const;
/** The taint effects a toleration may name; "" matches every effect. */
export const taintEffects = ["NoSchedule", "PreferNoSchedule", "NoExecute", ""] as const;

/** A Kubernetes toleration, as a stack's config spells it (the fields of `core/v1 Toleration`). */
export interface Toleration {
    /** The taint's key; empty (with `Exists`) tolerates every taint. */
    readonly key?: string;
    /** @default "Equal" */
    readonly operator?: (typeof tolerationOperators)[number];
    /** The taint's value, compared with `Equal`; none with `Exists`. */
    readonly value?: string;
    /** The taint effect tolerated. @default "" (every effect) */
    readonly effect?: (typeof taintEffects)[number];
    /** With `NoExecute` only: how long the pod stays on a node after the taint appears. */
    readonly tolerationSeconds?: number;
}

/** What differs between this project's pods; everything else is the same hardened shape. */
export interface PodTemplateArgs {
    /** Labels of the pod: the workload's common labels. */
    readonly labels: Record<string, string>;
    /** Annotations of the pod, typically checksums that roll it when a Secret changes. */
    readonly annotations?: Record<string, pulumi.Input<string>>;
    /** Numeric user (and group, and volume owner) the container runs as. */
    readonly uid: number;
    /** How long the pod gets to stop after SIGTERM. */
    readonly terminationGracePeriodSeconds: number;
    /** The one container, without its security context (the template sets the restricted one). */
    readonly container: Omit<Container, "securityContext">;
    readonly volumes: Volume[];
    /** Scheduling preferences, e.g. {@link spreadOverNodes}. */
    readonly affinity?: k8s.types.input.core.v1.Affinity;
    /** Labels a node must carry to run the pod. @default any node */
    readonly nodeSelector?: Record<string, string>;
    /** Taints the pod may be scheduled despite. @default none */
    readonly tolerations?: readonly Toleration[];
    /** `Never` for a Job's pod, so that a failed attempt stays for its logs and the Job counts it. @default the pod's Always */
    readonly restartPolicy?: "Never";
}

/**
 * A pod template that passes Pod Security `restricted` with a read-only root filesystem, no
 * service-account token and no service-link environment: the one shape of every pod here.
 */
export function restrictedPodTemplate(args: PodTemplateArgs): k8s.types.input.core.v1.PodTemplateSpec {
    return {
        metadata: { labels: args.labels, annotations: args.annotations },
        spec: {
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: restrictedPodSecurityContext(args.uid),
            affinity: args.affinity,
            nodeSelector: args.nodeSelector,
            tolerations: args.tolerations ? [...args.tolerations] : undefined,
            terminationGracePeriodSeconds: args.terminationGracePeriodSeconds,
            restartPolicy: args.restartPolicy,
            containers: [{ imagePullPolicy: "IfNotPresent", ...args.container, securityContext: restrictedContainerSecurityContext }],
            volumes: args.volumes,
        },
    };
}

/** Prefer one pod per node, so that losing a node never takes every replica. */
export function spreadOverNodes(selector: Record<string, string>): k8s.types.input.core.v1.Affinity {
    return {
        podAntiAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
                { weight: 100, podAffinityTerm: { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: selector } } },
            ],
        },
    };
}
