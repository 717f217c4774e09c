import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ownershipLabels } from "./labels";

/**
 * Namespaces that Kubernetes itself uses. Labelling one `restricted` and denying all its traffic
 * would break whatever else runs there, so the program never takes one over.
 */
export const systemNamespaces = ["default", "kube-system", "kube-public", "kube-node-lease"] as const;

/** Arguments of {@link Environment}. */
export interface EnvironmentArgs {
    /** Name of the Kubernetes namespace to create (a DNS-1123 label, not one of {@link systemNamespaces}). */
    readonly namespace: string;
    /**
     * Pod Security Standards level enforced, warned and audited in the namespace.
     * @default "restricted"
     */
    readonly podSecurityLevel?: "restricted" | "baseline";
}

/**
 * The namespace every other object lives in: Pod Security `restricted` enforced by the API
 * server, and a default-deny NetworkPolicy for both directions, so that only traffic another
 * policy admits reaches or leaves any pod (the API and PostgreSQL components add those policies).
 */
export class Environment extends pulumi.ComponentResource {
    /** Name of the namespace, known once it exists: depend on it to order creation. */
    public readonly namespaceName: pulumi.Output<string>;

    constructor(name: string, args: EnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
        super("api-stack:platform:Environment", name, {}, opts);
        if ((systemNamespaces as readonly string[]).includes(args.namespace)) {
            throw new pulumi.ResourceError(
                `Environment ${name}: args.namespace "${args.namespace}" is a system namespace; use a namespace of its own, not ${systemNamespaces.join(", ")}`,
                this,
            );
        }
        const level = args.podSecurityLevel ?? "restricted";

        const namespace = new k8s.core.v1.Namespace(
            `${name}-namespace`,
            {
                metadata: {
                    name: args.namespace,
                    labels: {
                        ...ownershipLabels(),
                        "pod-security.kubernetes.io/enforce": level,
                        "pod-security.kubernetes.io/enforce-version": "latest",
                        "pod-security.kubernetes.io/warn": level,
                        "pod-security.kubernetes.io/warn-version": "latest",
                        "pod-security.kubernetes.io/audit": level,
                        "pod-security.kubernetes.io/audit-version": "latest",
                    },
                },
            },
            { parent: this },
        );
        this.namespaceName = namespace.metadata.name;

        new k8s.networking.v1.NetworkPolicy(
            `${name}-default-deny`,
            {
                metadata: { name: "default-deny", namespace: this.namespaceName },
                spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
            },
            { parent: this },
        );

        this.registerOutputs({ namespaceName: this.namespaceName });
    }
}
