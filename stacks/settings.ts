import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { bytesFormat, cpuFormat, parseBytes, parseCpu } from "./quantity";

/**
 * The one place that reads stack configuration. Every key is declared in Pulumi.yaml with its
 * default; this module checks the values, reports every bad key in one error, and hands the
 * program a typed, frozen {@link Settings} object.
 */

export const serviceTypes = ["ClusterIP", "NodePort", "LoadBalancer"] as const;
export type ServiceType = (typeof serviceTypes)[number];
const logLevels = ["fatal", "error", "warn", "info", "debug", "trace"] as const;

export interface ResourceSettings {
    readonly requests: { readonly cpu: string; readonly memory: string };
    readonly limits: { readonly cpu: string; readonly memory: string };
}

export interface ImageBuildSettings {
    readonly kind: "build";
    /** Build context directory, relative to the project root. */
    readonly context: string;
    /** Dockerfile path, relative to the project root. */
    readonly dockerfile: string;
    /** Image name without tag, e.g. `ghcr.io/acme/items-api`. */
    readonly repository: string;
    readonly push: boolean;
    readonly registryServer?: string;
    readonly registryUsername?: string;
    readonly registryPassword?: pulumi.Output<string>;
}

export interface ImageRefSettings {
    readonly kind: "ref";
    /** A prebuilt image reference with a tag other than `latest`, or a digest. */
    readonly ref: string;
}

export interface Settings {
    readonly stack: string;
    readonly namespace: string;
    readonly protect: boolean;
    readonly image: ImageBuildSettings | ImageRefSettings;
    readonly api: {
        readonly replicas: number;
        readonly resources: ResourceSettings;
        readonly logLevel: string;
        readonly serviceType: ServiceType;
        readonly servicePort: number;
        readonly awaitServiceAddress: boolean;
        readonly autoscaling?: {
            readonly minReplicas: number;
            readonly maxReplicas: number;
            readonly targetCpuPercent: number;
        };
    };
    readonly postgres: {
        readonly imageRepository: string;
        readonly version: string;
        readonly imageDigest?: string;
        readonly storageSize: string;
        readonly storageClass?: string;
        readonly databaseName: string;
        readonly user: string;
        readonly resources: ResourceSettings;
    };
}

/** A raw config value as the engine hands it over: always text, or absent. */
type Raw = string | undefined;

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
// A reference with a tag or digest; `latest` and untagged references are refused below.
const imageReference = /^[a-z0-9]+([._\-/:][a-z0-9]+)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;

function required(allowed: string) {
    return z.string({ error: `is missing; allowed: ${allowed}` }).min(1, `is empty; allowed: ${allowed}`);
}

function integer(min: number, max: number) {
    const allowed = `an integer from ${min} to ${max}`;
    return required(allowed)
        .regex(/^-?[0-9]+$/, `allowed: ${allowed}`)
        .transform(Number)
        .pipe(z.number().min(min, `allowed: ${allowed}`).max(max, `allowed: ${allowed}`));
}

function boolean() {
    return required("true or false")
        .regex(/^(true|false)$/, "allowed: true or false")
        .transform((text) => text === "true");
}

function oneOf<T extends readonly [string, ...string[]]>(values: T) {
    return z.enum(values, { error: `allowed: one of ${values.join(", ")}` });
}

function cpu() {
    return required(cpuFormat).refine((text) => parseCpu(text) !== undefined, `allowed: ${cpuFormat}`);
}

function bytes() {
    return required(bytesFormat).refine((text) => parseBytes(text) !== undefined, `allowed: ${bytesFormat}`);
}

function dnsLabel(what: string) {
    const allowed = `${what}: a DNS-1123 label (lower-case letters, digits and '-', at most 63 characters, starting and ending with a letter or digit)`;
    return required(allowed).max(63, `allowed: ${allowed}`).regex(dns1123Label, `allowed: ${allowed}`);
}

/** Absent and empty both mean "not set": Pulumi.yaml gives optional keys an empty default. */
function optional<T extends z.ZodType>(schema: T) {
    return z.preprocess((value) => (value === "" ? undefined : value), schema.optional());
}

const imageRefAllowed = "an image reference with a version tag or @sha256 digest, not 'latest' and not untagged";

/** The declared keys, each with the schema its text must satisfy. */
const fields = {
    namespace: dnsLabel("the namespace name"),
    protect: boolean(),
    imageBuild: boolean(),
    imageContext: required("a directory relative to the project root"),
    imageDockerfile: required("a Dockerfile path relative to the project root"),
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
    postgresImageRepository: required("an image name without tag, e.g. postgres or mirror.example.com/library/postgres").regex(
        /^([a-z0-9.-]+(:[0-9]+)?\/)?[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/,
        "allowed: an image name without tag, e.g. postgres or mirror.example.com/library/postgres",
    ),
    postgresVersion: required("a postgres image tag such as 15 or 15.10").regex(
        /^[0-9]+(\.[0-9]+)?(-[a-z0-9]+)?$/,
        "allowed: a postgres image tag such as 15, 15.10 or 15.10-bookworm",
    ),
    postgresImageDigest: optional(z.string().regex(/^sha256:[a-f0-9]{64}$/, "allowed: an image digest, sha256: followed by 64 hex digits")),
    postgresStorageSize: bytes(),
    postgresStorageClass: optional(
        z
            .string()
            .max(253)
            .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "allowed: a storage class name (DNS-1123 subdomain)"),
    ),
    postgresDatabase: required("a database name").regex(
        /^[a-z_][a-z0-9_]{0,62}$/,
        "allowed: a lower-case SQL identifier (a-z, 0-9, _), at most 63 characters",
    ),
    postgresUser: required("a user name").regex(
        /^[a-z_][a-z0-9_]{0,62}$/,
        "allowed: a lower-case SQL identifier (a-z, 0-9, _), at most 63 characters",
    ),
    postgresCpuRequest: cpu(),
    postgresMemoryRequest: bytes(),
    postgresCpuLimit: cpu(),
    postgresMemoryLimit: bytes(),
};

type FieldName = keyof typeof fields;
type Parsed = { [K in FieldName]: z.output<(typeof fields)[K]> };

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

/**
 * Validates raw config text. Pure, so that tests can feed it any combination of values.
 * @param raw the text of each declared key, as `pulumi.Config.get` returns it
 */
export function parseSettings(
    project: string,
    stack: string,
    raw: Readonly<Partial<Record<FieldName, Raw>>>,
    registryPassword?: pulumi.Output<string>,
): Settings {
    const problems: string[] = [];
    const describe = (key: string, value: unknown) => `${project}:${key} = ${value === undefined ? "(not set)" : JSON.stringify(value)}`;
    const parsed: Partial<Parsed> = {};
    for (const key of Object.keys(fields) as FieldName[]) {
        const result = fields[key].safeParse(raw[key]);
        if (result.success) {
            (parsed as Record<string, unknown>)[key] = result.data;
        } else {
            problems.push(`${describe(key, raw[key])}: ${result.error.issues[0].message}`);
        }
    }
    const problem = (key: FieldName, message: string) => problems.push(`${describe(key, raw[key])}: ${message}`);

    checkLimitCoversRequest(parsed.apiCpuRequest, parsed.apiCpuLimit, parseCpu, "apiCpuLimit", "apiCpuRequest", problem);
    checkLimitCoversRequest(parsed.apiMemoryRequest, parsed.apiMemoryLimit, parseBytes, "apiMemoryLimit", "apiMemoryRequest", problem);
    checkLimitCoversRequest(
        parsed.postgresCpuRequest,
        parsed.postgresCpuLimit,
        parseCpu,
        "postgresCpuLimit",
        "postgresCpuRequest",
        problem,
    );
    checkLimitCoversRequest(
        parsed.postgresMemoryRequest,
        parsed.postgresMemoryLimit,
        parseBytes,
        "postgresMemoryLimit",
        "postgresMemoryRequest",
        problem,
    );

    if (parsed.apiAutoscaling && parsed.apiAutoscalingMinReplicas !== undefined && parsed.apiAutoscalingMaxReplicas !== undefined) {
        if (parsed.apiAutoscalingMaxReplicas < parsed.apiAutoscalingMinReplicas) {
            problem("apiAutoscalingMaxReplicas", `must be >= apiAutoscalingMinReplicas (${parsed.apiAutoscalingMinReplicas})`);
        }
    }
    if (parsed.imageBuild === true && parsed.imageRef !== undefined) {
        problem(
            "imageRef",
            "must not be set while imageBuild is true; choose one image source: build (imageBuild: true) or a prebuilt imageRef (imageBuild: false)",
        );
    }
    if (parsed.imageBuild === false && !raw.imageRef) {
        problem("imageRef", "is required when imageBuild is false; set a prebuilt image reference, or set imageBuild: true to build app/");
    }
    if (parsed.imageBuild === true && !raw.imageRepository) {
        problem(
            "imageRepository",
            "is required when imageBuild is true; allowed: an image name without tag, e.g. registry.example.com/team/api",
        );
    }
    if (parsed.imagePush === true && !raw.imageRegistryServer) {
        problem("imageRegistryServer", "is required when imagePush is true; allowed: a registry host[:port]");
    }

    if (problems.length > 0) {
        throw new SettingsError(problems);
    }
    return freeze(stack, parsed as Parsed, registryPassword);
}

function checkLimitCoversRequest(
    request: string | undefined,
    limit: string | undefined,
    parse: (text: string) => number | undefined,
    limitKey: FieldName,
    requestKey: FieldName,
    problem: (key: FieldName, message: string) => void,
) {
    if (request === undefined || limit === undefined) {
        return;
    }
    if ((parse(limit) ?? 0) < (parse(request) ?? 0)) {
        problem(limitKey, `must be >= ${requestKey} (${request}); a limit below the request cannot be scheduled`);
    }
}

function freeze(stack: string, v: Parsed, registryPassword?: pulumi.Output<string>): Settings {
    const image: ImageBuildSettings | ImageRefSettings = v.imageBuild
        ? {
              kind: "build",
              context: v.imageContext,
              dockerfile: v.imageDockerfile,
              repository: v.imageRepository ?? "",
              push: v.imagePush,
              registryServer: v.imageRegistryServer,
              registryUsername: v.imageRegistryUsername,
              registryPassword,
          }
        : { kind: "ref", ref: v.imageRef ?? "" };
    const settings: Settings = {
        stack,
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
        },
        postgres: {
            imageRepository: v.postgresImageRepository,
            version: v.postgresVersion,
            imageDigest: v.postgresImageDigest,
            storageSize: v.postgresStorageSize,
            storageClass: v.postgresStorageClass,
            databaseName: v.postgresDatabase,
            user: v.postgresUser,
            resources: {
                requests: { cpu: v.postgresCpuRequest, memory: v.postgresMemoryRequest },
                limits: { cpu: v.postgresCpuLimit, memory: v.postgresMemoryLimit },
            },
        },
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

/** Reads this stack's config once and returns validated settings; throws {@link SettingsError}. */
export function loadSettings(): Settings {
    const config = new pulumi.Config();
    const raw: Partial<Record<FieldName, Raw>> = {};
    for (const key of Object.keys(fields) as FieldName[]) {
        raw[key] = config.get(key);
    }
    return parseSettings(pulumi.getProject(), pulumi.getStack(), raw, config.getSecret("imageRegistryPassword"));
}
