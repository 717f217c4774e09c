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

/** Backup and rotation keys: each refusal names the field, the value and the range allowed. */
export const databaseRefusals: ConfigRefusal[] = [
    ...[
        ["every day", /"every day": has 2 fields, not 5; allowed: a cron schedule of 5 fields/],
        ["61 * * * *", /"61 \* \* \* \*": its minute field "61" has 61, outside 0-59; allowed: .*minute 0-59, hour 0-23/],
        ["0 24 * * *", /its hour field "24" has 24, outside 0-23/],
        ["0 0 0 * *", /its day of month field "0" has 0, outside 1-31/],
        ["0 0 * 13 *", /its month field "13" has 13, outside 1-12/],
        ["0 0 * * 8", /its day of week field "8" has 8, outside 0-7/],
        ["5-1 * * * *", /its minute field "5-1" has a range that runs backwards/],
        ["*/0 * * * *", /its minute field "\*\/0" has a step of 0/],
        ["0 2 * * MON", /its day of week field "MON" is not \*, a number, a range or a step/],
        ["@every 5m", /"@every 5m": has 2 fields, not 5;.*or one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly/],
        ["", /is empty; allowed: a cron schedule/],
    ].map(([schedule, mentions]) => ({
        title: `backup schedule "${String(schedule)}"`,
        overrides: { backupSchedule: String(schedule) },
        key: "backupSchedule",
        mentions: mentions as RegExp,
    })),
    {
        title: "backup retention 0",
        overrides: { backupRetention: "0" },
        key: "backupRetention",
        mentions: /"0": allowed: an integer from 1 to 1000 \(how many backups to keep; 0 would delete every backup\)/,
    },
    {
        title: "backup retention -2",
        overrides: { backupRetention: "-2" },
        key: "backupRetention",
        mentions: /"-2": allowed: an integer from 1/,
    },
    {
        title: "backup retention seven",
        overrides: { backupRetention: "seven" },
        key: "backupRetention",
        mentions: /"seven": allowed: an integer/,
    },
    { title: "backup enabled yes", overrides: { backupEnabled: "yes" }, key: "backupEnabled", mentions: /"yes": allowed: true or false/ },
    { title: "backup storage 0Gi", overrides: { backupStorageSize: "0Gi" }, key: "backupStorageSize", mentions: /"0Gi": allowed: a size/ },
    {
        title: "backup storage class with spaces",
        overrides: { backupStorageClass: "Fast SSD" },
        key: "backupStorageClass",
        mentions: /"Fast SSD": allowed: a storage class name/,
    },
    ...["-1", "1.5", "next"].map((rotation) => ({
        title: `password rotation ${rotation}`,
        overrides: { dbPasswordRotation: rotation },
        key: "dbPasswordRotation",
        mentions: new RegExp(`"${rotation.replace(".", "\\.")}": allowed: an integer from 0 to 1000000 \\(raise it by one to rotate`),
    })),
    {
        title: "password grace of two days",
        overrides: { dbPasswordGraceMinutes: "2880" },
        key: "dbPasswordGraceMinutes",
        mentions: /"2880": allowed: an integer from 0 to 1440 \(minutes the previous password keeps working\)/,
    },
    ...["api", "api_a", "api_b"].map((user) => ({
        title: `owner named like the API's role ${user}`,
        overrides: { postgresUser: user },
        key: "postgresUser",
        mentions: new RegExp(`"${user}": is one of the API's own roles \\(api, api_a, api_b\\), which the owner must not be`),
    })),
];

/** Where the API's pods go: each refusal names the key, the place inside its value, the value and what is allowed. */
export const schedulingRefusals: ConfigRefusal[] = [
    {
        title: "node selector with a key that is no label key",
        overrides: { apiNodeSelector: JSON.stringify({ "node pool": "api" }) },
        key: "apiNodeSelector",
        mentions: /: key "node pool": allowed: a label key: an optional DNS subdomain prefix and '\/', then a name of at most 63/,
        realEngine: true,
    },
    {
        title: "node selector with a value that is no label value",
        overrides: { apiNodeSelector: JSON.stringify({ pool: "api nodes" }) },
        key: "apiNodeSelector",
        mentions: /: \["pool"\] = "api nodes": allowed: a label value: empty, or at most 63/,
    },
    {
        title: "node selector with a number for a value",
        overrides: { apiNodeSelector: JSON.stringify({ generation: 5 }) },
        key: "apiNodeSelector",
        mentions: /: \["generation"\] = 5: allowed: a label value: .*, as a string \(quote it in YAML\)/,
    },
    {
        title: "node selector as a list",
        overrides: { apiNodeSelector: JSON.stringify(["pool=api"]) },
        key: "apiNodeSelector",
        mentions: /= "\[\\"pool=api\\"\]": allowed: a map of node label key to value, such as \{"type": "kwok"\}/,
    },
    {
        title: "node selector as key=value text",
        overrides: { apiNodeSelector: "pool=api" },
        key: "apiNodeSelector",
        mentions: /= "pool=api": is not JSON; allowed: a map of node label key to value/,
    },
    {
        title: "tolerations as one map, not a list",
        overrides: { apiTolerations: JSON.stringify({ key: "dedicated", effect: "NoSchedule" }) },
        key: "apiTolerations",
        mentions: /: allowed: a list of tolerations, each with the fields key, operator, value, effect, tolerationSeconds/,
    },
    {
        title: "toleration operator Equals",
        overrides: { apiTolerations: JSON.stringify([{ key: "dedicated", operator: "Equals", value: "api" }]) },
        key: "apiTolerations",
        mentions: /: \[0\]\.operator = "Equals": allowed: one of Equal, Exists/,
        realEngine: true,
    },
    {
        title: "toleration effect NoScheduled",
        overrides: {
            apiTolerations: JSON.stringify([
                { key: "a", value: "b" },
                { key: "dedicated", effect: "NoScheduled" },
            ]),
        },
        key: "apiTolerations",
        mentions: /: \[1\]\.effect = "NoScheduled": allowed: one of NoSchedule, PreferNoSchedule, NoExecute, or "" \(every effect\)/,
    },
    {
        title: "toleration with a misspelt field",
        overrides: { apiTolerations: JSON.stringify([{ key: "dedicated", efect: "NoSchedule" }]) },
        key: "apiTolerations",
        mentions:
            /: \[0\] has "efect", which a toleration does not have; allowed: the fields key, operator, value, effect, tolerationSeconds/,
    },
    {
        title: "tolerationSeconds with NoSchedule",
        overrides: { apiTolerations: JSON.stringify([{ key: "dedicated", effect: "NoSchedule", tolerationSeconds: 60 }]) },
        key: "apiTolerations",
        mentions: /: \[0\]\.tolerationSeconds = 60: is only allowed with effect NoExecute, not "NoSchedule"; allowed: effect NoExecute/,
    },
    {
        title: "tolerationSeconds negative",
        overrides: { apiTolerations: JSON.stringify([{ key: "dedicated", effect: "NoExecute", tolerationSeconds: -5 }]) },
        key: "apiTolerations",
        mentions: /: \[0\]\.tolerationSeconds = -5: allowed: a whole number of seconds, 0 or more/,
    },
    {
        title: "toleration with a value under Exists",
        overrides: { apiTolerations: JSON.stringify([{ key: "dedicated", operator: "Exists", value: "api" }]) },
        key: "apiTolerations",
        mentions: /: \[0\]\.value = "api": is not allowed with operator Exists, which matches any value/,
    },
    {
        title: "toleration without a key under Equal",
        overrides: { apiTolerations: JSON.stringify([{ value: "api", effect: "NoSchedule" }]) },
        key: "apiTolerations",
        mentions: /: \[0\]\.operator = "Equal": is not allowed without a key; allowed: operator Exists when key is empty/,
    },
    {
        title: "toleration key that is no label key",
        overrides: { apiTolerations: JSON.stringify([{ key: "dedicated node", operator: "Exists" }]) },
        key: "apiTolerations",
        mentions: /: \[0\]\.key = "dedicated node": allowed: a label key/,
    },
];
