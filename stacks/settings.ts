import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { z } from "zod";
import { logLevels, serviceTypes, type ApiArgs } from "../components/api";
import { type ApiImageArgs } from "../components/api-image";
import { contentTag } from "../components/build-context";
import { type DatabaseAccessArgs } from "../components/database-access";
import { apiRoles } from "../components/database-roles";
import { systemNamespaces } from "../components/environment";
import { postgresMajor, supportedPostgresMajors, type PostgresArgs } from "../components/postgres";
import { closest, declaredKeys, secretConfigKeys } from "./declared-keys";
import { deployedPostgresMajor } from "./deployed";
import { parseBytes, parseCpu } from "./quantity";
import { nodeSelector, tolerations } from "./scheduling";
import { boolean, bytes, cpu, cron, dnsLabel, integer, issueTexts, oneOf, optional, required } from "./schemas";

/**
 * The one place that reads stack configuration. Every key is declared in Pulumi.yaml with its
 * default; this module checks the values, reports every bad key in one error, and hands the
 * program a typed, frozen {@link Settings} object.
 */

/** How each part of the program is configured: the components' own Args, less what the program wires. */
export type ApiSettings = Omit<ApiArgs, "namespace" | "instance" | "image" | "database">;
export type PostgresSettings = Omit<PostgresArgs, "namespace" | "instance" | "clientSelectors" | "protect"> &
    Required<Pick<PostgresArgs, "version">>;
export type DatabaseAccessSettings = Omit<DatabaseAccessArgs, "namespace" | "instance" | "server" | "image">;

export interface Settings {
    readonly stack: string;
    readonly namespace: string;
    readonly protect: boolean;
    readonly image: ApiImageArgs;
    readonly api: ApiSettings;
    readonly postgres: PostgresSettings;
    readonly databaseAccess: DatabaseAccessSettings;
}

/** A raw config value as the engine hands it over: always text, or absent. */
type Raw = string | undefined;

// A reference with a tag or digest; `latest` and untagged references are refused below.
const imageReference = /^[a-z0-9]+([._\-/:][a-z0-9]+)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;

const imageRefAllowed = "an image reference with a version tag or @sha256 digest, not 'latest' and not untagged";
const namespaceAllowed = `a namespace of its own, not ${systemNamespaces.join(", ")}`;
const sqlIdentifierAllowed = "allowed: a lower-case SQL identifier (a-z, 0-9, _), at most 63 characters";
const apiRoleNames = (({ group, logins }) => [group, ...logins])(apiRoles("api"));
const storageClass = () =>
    optional(
        z
            .string()
            .max(253)
            .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "allowed: a storage class name (DNS-1123 subdomain)"),
    );
const postgresTagAllowed = `a postgres image tag of major ${supportedPostgresMajors.join(", ")}, such as 16, 16.4 or 16.4-bookworm`;

/** The declared keys, each with the schema its text must satisfy. */
const fields = {
    namespace: dnsLabel("the namespace name").refine(
        (name) => !(systemNamespaces as readonly string[]).includes(name),
        `is a system namespace, which the program would lock down; allowed: ${namespaceAllowed}`,
    ),
    protect: boolean(),
    imageBuild: boolean(),
    imageContext: required("a directory inside the project, relative to its root"),
    imageDockerfile: required("a Dockerfile inside the project, relative to its root"),
    imageRepository: optional(
        z.string().regex(/^[a-z0-9]+([._\-/:][a-z0-9]+)*$/, "allowed: an image name without tag, e.g. registry.example.com/team/api"),
    ),
    imagePush: boolean(),
    imageRegistryServer: optional(z.string().regex(/^[a-z0-9.-]+(:[0-9]+)?$/, "allowed: a registry host[:port]")),
    imageRegistryUsername: optional(z.string()),
    imageRef: optional(
        z
            .string()
            .regex(imageReference, `allowed: ${imageRefAllowed}`)
            .refine((ref) => /:[^/]+$|@sha256:/.test(ref), `allowed: ${imageRefAllowed}`)
            .refine((ref) => !/:latest(@|$)/.test(ref), `allowed: ${imageRefAllowed}`),
    ),
    apiReplicas: integer(1, 1000),
    apiCpuRequest: cpu(),
    apiMemoryRequest: bytes(),
    apiCpuLimit: cpu(),
    apiMemoryLimit: bytes(),
    apiLogLevel: oneOf(logLevels),
    apiServiceType: oneOf(serviceTypes),
    apiServicePort: integer(1, 65535),
    apiServiceAwaitAddress: boolean(),
    apiAutoscaling: boolean(),
    apiAutoscalingMinReplicas: integer(1, 1000),
    apiAutoscalingMaxReplicas: integer(1, 1000),
    apiAutoscalingTargetCpuPercent: integer(1, 100),
    apiNodeSelector: nodeSelector(),
    apiTolerations: tolerations(),
    postgresImageRepository: required("an image name without tag, e.g. postgres or mirror.example.com/library/postgres").regex(
        /^([a-z0-9.-]+(:[0-9]+)?\/)?[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/,
        "allowed: an image name without tag, e.g. postgres or mirror.example.com/library/postgres",
    ),
    postgresVersion: required(postgresTagAllowed)
        .regex(/^[0-9]+(\.[0-9]+)?(-[a-z0-9]+)?$/, `allowed: ${postgresTagAllowed}`)
        .refine(
            (tag) => (supportedPostgresMajors as readonly string[]).includes(postgresMajor(tag)),
            "is of a PostgreSQL major this program does not run; allowed: " + postgresTagAllowed,
        ),
    postgresImageDigest: optional(z.string().regex(/^sha256:[a-f0-9]{64}$/, "allowed: an image digest, sha256: followed by 64 hex digits")),
    postgresStorageSize: bytes(),
    postgresStorageClass: storageClass(),
    postgresDatabase: required("a database name").regex(/^[a-z_][a-z0-9_]{0,62}$/, sqlIdentifierAllowed),
    postgresUser: required("a user name")
        .regex(/^[a-z_][a-z0-9_]{0,62}$/, sqlIdentifierAllowed)
        .refine(
            (user) => !apiRoleNames.includes(user),
            `is one of the API's own roles (${apiRoleNames.join(", ")}), which the owner must not be; ${sqlIdentifierAllowed}, other than those`,
        ),
    postgresCpuRequest: cpu(),
    postgresMemoryRequest: bytes(),
    postgresCpuLimit: cpu(),
    postgresMemoryLimit: bytes(),
    backupEnabled: boolean(),
    backupSchedule: cron(),
    backupRetention: integer(1, 1000, "how many backups to keep; 0 would delete every backup"),
    backupStorageSize: bytes(),
    backupStorageClass: storageClass(),
    dbPasswordRotation: integer(0, 1000000, "raise it by one to rotate the API's password"),
    dbPasswordGraceMinutes: integer(0, 1440, "minutes the previous password keeps working"),
};

type FieldName = keyof typeof fields;
type Parsed = { [K in FieldName]: z.output<(typeof fields)[K]> };

/** Every key whose text the program validates; Pulumi.yaml declares each (a unit test holds them together). */
export const validatedKeys = Object.keys(fields) as readonly string[];

/** Limits that must cover their requests, or the pod cannot be scheduled. */
const limitsOverRequests: readonly [FieldName, FieldName, (text: string) => number | undefined][] = [
    ["apiCpuLimit", "apiCpuRequest", parseCpu],
    ["apiMemoryLimit", "apiMemoryRequest", parseBytes],
    ["postgresCpuLimit", "postgresCpuRequest", parseCpu],
    ["postgresMemoryLimit", "postgresMemoryRequest", parseBytes],
];

/** Thrown when stack config is invalid; its message lists every bad key. */
export class SettingsError extends Error {
    constructor(readonly problems: readonly string[]) {
        super(
            `Invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}); nothing was changed:\n` +
                problems.map((problem) => `  - ${problem}`).join("\n") +
                "\nFix the keys above with `pulumi config set <key> <value>` or in Pulumi.<stack>.yaml.",
        );
        this.name = "SettingsError";
    }
}

/** The stack's config as the engine hands it over, and what it is checked against. */
export interface ConfigInput {
    readonly project: string;
    readonly stack: string;
    /** Every key set in the project's namespace (without the `project:` prefix), as text. */
    readonly values: Readonly<Record<string, Raw>>;
    /** The keys Pulumi.yaml declares: any other key in the project's namespace is a mistake. */
    readonly declared: readonly string[];
    /** Keys (without prefix) whose values are secret, so that a message never repeats them. */
    readonly secretKeys?: readonly string[];
    /** The project's root directory: build paths must stay inside it. */
    readonly projectRoot: string;
    readonly registryPassword?: pulumi.Output<string>;
}

/** `project:key = "value"`, the way every problem starts. */
function describe(input: ConfigInput, key: string): string {
    const value = input.values[key];
    const shown = value === undefined ? "(not set)" : input.secretKeys?.includes(key) ? "[secret]" : JSON.stringify(value);
    return `${input.project}:${key} = ${shown}`;
}

/**
 * Validates the config and reports every problem at once in a {@link SettingsError}. Reads no
 * config of its own, so that tests can feed it any combination of values.
 */
export function parseSettings(input: ConfigInput): Settings {
    const problems: string[] = [];
    const problem = (key: string, message: string) => problems.push(`${describe(input, key)}: ${message}`);
    for (const key of Object.keys(input.values).filter((key) => !input.declared.includes(key))) {
        const nearest = closest(key, input.declared);
        problem(key, `is not a key this project declares;${nearest ? ` did you mean ${nearest}?` : ""} allowed: the keys in Pulumi.yaml`);
    }
    const parsed: Partial<Parsed> = {};
    for (const key of Object.keys(fields) as FieldName[]) {
        const result = fields[key].safeParse(input.values[key], { reportInput: true });
        if (result.success) {
            (parsed as Record<string, unknown>)[key] = result.data;
        } else {
            issueTexts(result.error.issues).forEach((text) => problem(key, text));
        }
    }

    for (const [limitKey, requestKey, parse] of limitsOverRequests) {
        const [limit, request] = [parsed[limitKey], parsed[requestKey]];
        if (typeof limit === "string" && typeof request === "string" && (parse(limit) ?? 0) < (parse(request) ?? 0)) {
            problem(limitKey, `must be >= ${requestKey} (${request}); a limit below the request cannot be scheduled`);
        }
    }
    if (parsed.apiAutoscaling && parsed.apiAutoscalingMinReplicas !== undefined && parsed.apiAutoscalingMaxReplicas !== undefined) {
        if (parsed.apiAutoscalingMaxReplicas < parsed.apiAutoscalingMinReplicas) {
            problem("apiAutoscalingMaxReplicas", `must be >= apiAutoscalingMinReplicas (${parsed.apiAutoscalingMinReplicas})`);
        }
    }
    for (const key of ["imageContext", "imageDockerfile"] as const) {
        const given = parsed[key];
        if (given !== undefined && !isInside(input.projectRoot, given)) {
            problem(key, `leaves the project; allowed: a path inside the project root (${input.projectRoot}), such as app`);
        }
    }
    if (parsed.imageBuild === true && parsed.imageRef !== undefined) {
        problem(
            "imageRef",
            "must not be set while imageBuild is true; choose one image source: build (imageBuild: true) or a prebuilt imageRef (imageBuild: false)",
        );
    }
    if (parsed.imageBuild === false && !input.values.imageRef) {
        problem("imageRef", "is required when imageBuild is false; set a prebuilt image reference, or set imageBuild: true to build app/");
    }
    if (parsed.imageBuild === true && !input.values.imageRepository) {
        problem(
            "imageRepository",
            "is required when imageBuild is true; allowed: an image name without tag, e.g. registry.example.com/team/api",
        );
    }
    if (parsed.imagePush === true && !input.values.imageRegistryServer) {
        problem("imageRegistryServer", "is required when imagePush is true; allowed: a registry host[:port]");
    }

    if (problems.length > 0) {
        throw new SettingsError(problems);
    }
    return freeze(input, parsed as Parsed);
}

/** True when `given` (relative to `root`, or absolute) names `root` or something below it. */
function isInside(root: string, given: string): boolean {
    const relative = path.relative(root, path.resolve(root, given));
    return relative === "" || (!relative.startsWith("..") && !path.isAbsolute(relative));
}

/**
 * Refuses a change of PostgreSQL major on a stack whose database already holds data: a server
 * does not start on a data directory written by another major.
 * @param deployedMajor the major the stack's last update ran, or undefined when it has none
 */
export function checkPostgresMajorUnchanged(project: string, version: string, deployedMajor: string | undefined): void {
    const major = postgresMajor(version);
    if (deployedMajor === undefined || deployedMajor === major) {
        return;
    }
    throw new SettingsError([
        `${project}:postgresVersion = ${JSON.stringify(version)}: the stack's database holds PostgreSQL ${deployedMajor} data, ` +
            `which a ${major} server cannot open; allowed: a tag of major ${deployedMajor} (such as ${deployedMajor} or ${deployedMajor}.x). ` +
            `To move to ${major}, dump the database and restore it into a new one: README.md, "Changing the PostgreSQL major version"`,
    ]);
}

function freeze(input: ConfigInput, v: Parsed): Settings {
    const inProject = (given: string) => path.resolve(input.projectRoot, given);
    const image: ApiImageArgs = v.imageBuild
        ? {
              kind: "build",
              context: inProject(v.imageContext),
              dockerfile: inProject(v.imageDockerfile),
              repository: v.imageRepository ?? "",
              tag: contentTag(inProject(v.imageContext)),
              registry: v.imagePush
                  ? { server: v.imageRegistryServer ?? "", username: v.imageRegistryUsername, password: input.registryPassword }
                  : undefined,
          }
        : { kind: "ref", ref: v.imageRef ?? "" };
    const settings: Settings = {
        stack: input.stack,
        namespace: v.namespace,
        protect: v.protect,
        image,
        api: {
            replicas: v.apiReplicas,
            resources: {
                requests: { cpu: v.apiCpuRequest, memory: v.apiMemoryRequest },
                limits: { cpu: v.apiCpuLimit, memory: v.apiMemoryLimit },
            },
            logLevel: v.apiLogLevel,
            serviceType: v.apiServiceType,
            servicePort: v.apiServicePort,
            awaitServiceAddress: v.apiServiceAwaitAddress,
            autoscaling: v.apiAutoscaling
                ? {
                      minReplicas: v.apiAutoscalingMinReplicas,
                      maxReplicas: v.apiAutoscalingMaxReplicas,
                      targetCpuPercent: v.apiAutoscalingTargetCpuPercent,
                  }
                : undefined,
            nodeSelector: v.apiNodeSelector,
            tolerations: v.apiTolerations,
        },
        postgres: {
            imageRepository: v.postgresImageRepository,
            version: v.postgresVersion,
            imageDigest: v.postgresImageDigest,
            storageSize: v.postgresStorageSize,
            storageClassName: v.postgresStorageClass,
            databaseName: v.postgresDatabase,
            user: v.postgresUser,
            resources: {
                requests: { cpu: v.postgresCpuRequest, memory: v.postgresMemoryRequest },
                limits: { cpu: v.postgresCpuLimit, memory: v.postgresMemoryLimit },
            },
            backup: v.backupEnabled
                ? {
                      schedule: v.backupSchedule,
                      retention: v.backupRetention,
                      storageSize: v.backupStorageSize,
                      storageClassName: v.backupStorageClass,
                  }
                : undefined,
        },
        databaseAccess: { passwordRotation: v.dbPasswordRotation, passwordGraceMinutes: v.dbPasswordGraceMinutes },
    };
    return deepFreeze(settings);
}

function deepFreeze<T>(value: T): T {
    if (value && typeof value === "object" && !pulumi.Output.isInstance(value)) {
        Object.values(value).forEach(deepFreeze);
        Object.freeze(value);
    }
    return value;
}

/**
 * Reads this stack's config once and returns validated settings; throws {@link SettingsError}.
 * Also refuses a PostgreSQL major change on a stack that has data, which needs the stack's
 * current state and is therefore asynchronous.
 */
export async function loadSettings(): Promise<Settings> {
    const project = pulumi.getProject();
    const prefix = `${project}:`;
    const ours = (key: string) => key.startsWith(prefix);
    const values = Object.fromEntries(
        Object.entries(pulumi.runtime.allConfig())
            .filter(([key]) => ours(key))
            .map(([key, value]) => [key.slice(prefix.length), value]),
    );
    // Pulumi runs the program in the project's directory, where Pulumi.yaml is.
    const projectRoot = process.cwd();
    const settings = parseSettings({
        project,
        stack: pulumi.getStack(),
        values,
        declared: declaredKeys(projectRoot),
        secretKeys: secretConfigKeys()
            .filter(ours)
            .map((key) => key.slice(prefix.length)),
        projectRoot,
        registryPassword: new pulumi.Config().getSecret("imageRegistryPassword"),
    });
    checkPostgresMajorUnchanged(project, settings.postgres.version, await deployedPostgresMajor());
    return settings;
}
