/**
 * Config that a careful user still gets wrong, each with the key and the words its refusal must
 * carry. The unit tier runs every case; those marked `realEngine` also go through a real
 * `preview` (test/e2e/bad-configs.ts), so the two tiers share one list.
 */
export interface ConfigRefusal {
    readonly title: string;
    readonly overrides: Record<string, string>;
    readonly key: string;
    readonly mentions: RegExp;
    readonly realEngine?: boolean;
}

const systemNamespaces = ["default", "kube-system", "kube-public", "kube-node-lease"];

export const configRefusals: ConfigRefusal[] = [
    ...systemNamespaces.map((namespace) => ({
        title: `system namespace ${namespace}`,
        overrides: { namespace },
        key: "namespace",
        mentions: new RegExp(`"${namespace}": is a system namespace.*allowed: a namespace of its own, not ${systemNamespaces.join(", ")}`),
        realEngine: namespace === "kube-system",
    })),
    ...[
        ["apiReplica", "5", "apiReplicas"],
        ["postgresVerison", "16", "postgresVersion"],
    ].map(([key, value, nearest]) => ({
        title: `misspelt key ${key}`,
        overrides: { [key]: value },
        key,
        mentions: new RegExp(`"${value}": is not a key this project declares; did you mean ${nearest}\\? allowed: the keys in Pulumi.yaml`),
        realEngine: key === "apiReplica",
    })),
    ...["9", "13.4", "14", "18", "18.1-bookworm"].map((version) => ({
        title: `PostgreSQL ${version}, of an unsupported major`,
        overrides: { postgresVersion: version },
        key: "postgresVersion",
        mentions: new RegExp(
            `"${version}": is of a PostgreSQL major this program does not run; allowed: a postgres image tag of major 15, 16, 17`,
        ),
        realEngine: version === "9",
    })),
    ...[
        ["imageContext", "../../etc"],
        ["imageContext", "/etc"],
        ["imageContext", "app/../.."],
        ["imageDockerfile", "../Dockerfile"],
        ["imageDockerfile", "/tmp/Dockerfile"],
    ].map(([key, value]) => ({
        title: `${key} ${value} outside the project`,
        overrides: { [key]: value },
        key,
        mentions: new RegExp(`"${value.replace(/\./g, "\\.")}": leaves the project; allowed: a path inside the project root`),
        realEngine: value === "../../etc",
    })),
];
