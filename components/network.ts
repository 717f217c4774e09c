import * as k8s from "@pulumi/kubernetes";

/** What a pod needs to know to reach the database through the namespace's default-deny policy. */
export interface DatabasePeer {
    /** Labels of the database pods. */
    readonly selector: Record<string, string>;
    readonly port: number;
}

/**
 * Egress rules of a database client: the database pods on their port, and name resolution of the
 * database Service wherever the cluster runs its DNS. Nothing else leaves the pod.
 */
export function databaseClientEgress(database: DatabasePeer): k8s.types.input.networking.v1.NetworkPolicyEgressRule[] {
    return [
        { to: [{ podSelector: { matchLabels: database.selector } }], ports: [{ protocol: "TCP", port: database.port }] },
        {
            to: [{ namespaceSelector: {} }],
            ports: [
                { protocol: "UDP", port: 53 },
                { protocol: "TCP", port: 53 },
            ],
        },
    ];
}

/** The policy of a pod that only talks to the database (a Job): no ingress at all, egress as above. */
export function databaseClientPolicy(
    selector: Record<string, string>,
    database: DatabasePeer,
): k8s.types.input.networking.v1.NetworkPolicySpec {
    return {
        podSelector: { matchLabels: selector },
        policyTypes: ["Ingress", "Egress"],
        ingress: [],
        egress: databaseClientEgress(database),
    };
}
