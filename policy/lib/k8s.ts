// Shapes and accessors for the Kubernetes objects the policies read. Only the fields the policies
// look at are typed; everything is optional because policies see user input, not validated objects.

export interface Probe {
    readonly [field: string]: unknown;
}

export interface EnvVar {
    readonly name?: string;
    readonly value?: string;
    readonly valueFrom?: unknown;
}

export interface SecurityContext {
    readonly privileged?: boolean;
    readonly allowPrivilegeEscalation?: boolean;
    readonly runAsNonRoot?: boolean;
    readonly runAsUser?: number;
    readonly readOnlyRootFilesystem?: boolean;
    readonly procMount?: string;
    readonly capabilities?: { readonly add?: string[]; readonly drop?: string[] };
    readonly seccompProfile?: { readonly type?: string };
    readonly seLinuxOptions?: { readonly type?: string; readonly user?: string; readonly role?: string };
    readonly windowsOptions?: { readonly hostProcess?: boolean };
    readonly appArmorProfile?: { readonly type?: string };
    readonly sysctls?: { readonly name?: string }[];
}

export interface Container {
    readonly name?: string;
    readonly image?: string;
    readonly env?: EnvVar[];
    readonly ports?: { readonly hostPort?: number }[];
    readonly resources?: {
        readonly requests?: Record<string, string | number>;
        readonly limits?: Record<string, string | number>;
    };
    readonly securityContext?: SecurityContext;
    readonly readinessProbe?: Probe;
    readonly livenessProbe?: Probe;
    readonly startupProbe?: Probe;
}

export interface PodSpec {
    readonly hostNetwork?: boolean;
    readonly hostPID?: boolean;
    readonly hostIPC?: boolean;
    readonly automountServiceAccountToken?: boolean;
    readonly securityContext?: SecurityContext;
    readonly volumes?: Record<string, unknown>[];
    readonly initContainers?: Container[];
    readonly containers?: Container[];
    readonly ephemeralContainers?: Container[];
}

export interface ObjectMeta {
    readonly name?: string;
    readonly namespace?: string;
    readonly labels?: Record<string, string>;
}

export interface LabelSelector {
    readonly matchLabels?: Record<string, string>;
    readonly matchExpressions?: { readonly key: string; readonly operator: string; readonly values?: string[] }[];
}

/** A workload kind whose pods the policies inspect, with where its pod template lives. */
export interface Workload {
    readonly kind: string;
    readonly metadata: ObjectMeta;
    readonly replicas?: number;
    readonly selector?: LabelSelector;
    readonly podLabels: Record<string, string>;
    readonly podSpec: PodSpec;
}

export const types = {
    deployment: "kubernetes:apps/v1:Deployment",
    statefulSet: "kubernetes:apps/v1:StatefulSet",
    daemonSet: "kubernetes:apps/v1:DaemonSet",
    replicaSet: "kubernetes:apps/v1:ReplicaSet",
    job: "kubernetes:batch/v1:Job",
    cronJob: "kubernetes:batch/v1:CronJob",
    pod: "kubernetes:core/v1:Pod",
    service: "kubernetes:core/v1:Service",
    secret: "kubernetes:core/v1:Secret",
    pvc: "kubernetes:core/v1:PersistentVolumeClaim",
    networkPolicy: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    pdb: "kubernetes:policy/v1:PodDisruptionBudget",
    hpa: "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
} as const;

type Props = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface PodTemplate {
    readonly metadata?: ObjectMeta;
    readonly spec?: PodSpec;
}

function fromTemplate(kind: string, props: Props, template: PodTemplate | undefined, spec: Props): Workload | undefined {
    if (!template || !template.spec) {
        return undefined;
    }
    return {
        kind,
        metadata: props.metadata ?? {},
        replicas: spec.replicas,
        selector: spec.selector,
        podLabels: template.metadata?.labels ?? {},
        podSpec: template.spec,
    };
}

/** Returns the workload view of a resource, or undefined when the resource runs no pods. */
export function workloadOf(type: string, props: Props): Workload | undefined {
    switch (type) {
        case types.deployment:
        case types.statefulSet:
        case types.daemonSet:
        case types.replicaSet:
        case types.job:
            return fromTemplate(props.kind ?? type.split(":")[2], props, props.spec?.template, props.spec ?? {});
        case types.cronJob: {
            const jobSpec = props.spec?.jobTemplate?.spec ?? {};
            return fromTemplate("CronJob", props, jobSpec.template, jobSpec);
        }
        case types.pod:
            return props.spec
                ? { kind: "Pod", metadata: props.metadata ?? {}, podLabels: props.metadata?.labels ?? {}, podSpec: props.spec }
                : undefined;
        default:
            return undefined;
    }
}

/** Every container of a pod spec, init and ephemeral ones included, with a label for messages. */
export function allContainers(spec: PodSpec): { readonly where: string; readonly container: Container }[] {
    const out: { where: string; container: Container }[] = [];
    for (const [field, list] of [
        ["initContainers", spec.initContainers],
        ["containers", spec.containers],
        ["ephemeralContainers", spec.ephemeralContainers],
    ] as const) {
        for (const container of list ?? []) {
            out.push({ where: `${field}[${container.name ?? "?"}]`, container });
        }
    }
    return out;
}

/** True when a label selector selects a set of pod labels (an empty selector selects every pod). */
export function selectorMatches(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
    if (!selector) {
        return false;
    }
    for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
        if (labels[key] !== value) {
            return false;
        }
    }
    for (const expr of selector.matchExpressions ?? []) {
        const has = Object.prototype.hasOwnProperty.call(labels, expr.key);
        const values = expr.values ?? [];
        switch (expr.operator) {
            case "In":
                if (!has || !values.includes(labels[expr.key])) return false;
                break;
            case "NotIn":
                if (has && values.includes(labels[expr.key])) return false;
                break;
            case "Exists":
                if (!has) return false;
                break;
            case "DoesNotExist":
                if (has) return false;
                break;
            default:
                return false;
        }
    }
    return true;
}

/**
 * Reads a value that may be unknown during a preview (for example a namespace name that is the output
 * of a resource not yet created). Returns `fallback` instead of aborting the whole policy.
 */
export function known<T>(read: () => T, fallback: T): T {
    try {
        return read();
    } catch (e) {
        // @pulumi/policy throws UnknownValueError (not exported in its typings) for preview-unknown values.
        if (e instanceof Error && e.constructor.name === "UnknownValueError") {
            return fallback;
        }
        throw e;
    }
}

/** Namespace key used to group objects; unknown (preview) and unset namespaces group together. */
export function namespaceOf(metadata: ObjectMeta | undefined): string {
    return known(() => metadata?.namespace ?? "", "") || "";
}
