import { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { EnvironmentConfig, environmentSchema, isProd } from "../lib/environment";
import { known, namespaceOf, ObjectMeta, selectorMatches, types, Workload, workloadOf } from "../lib/k8s";

const componentLabel = "app.kubernetes.io/component";

interface Autoscaler {
    readonly namespace: string;
    readonly kind: string;
    readonly name: string;
    readonly minReplicas: number;
    readonly maxReplicas: number;
}

function autoscalersOf(resources: PolicyResource[]): Autoscaler[] {
    return resources
        .filter((r) => r.type === types.hpa)
        .map((r) => ({
            namespace: namespaceOf(r.props.metadata),
            kind: known(() => r.props.spec?.scaleTargetRef?.kind ?? "", ""),
            name: known(() => r.props.spec?.scaleTargetRef?.name ?? "", ""),
            minReplicas: known(() => r.props.spec?.minReplicas ?? 1, 1),
            maxReplicas: known(() => r.props.spec?.maxReplicas ?? 1, 1),
        }));
}

function autoscalerFor(workload: Workload, autoscalers: Autoscaler[]): Autoscaler | undefined {
    const name = known(() => workload.metadata.name ?? "", "");
    return autoscalers.find(
        (a) => a.kind === workload.kind && a.namespace === namespaceOf(workload.metadata) && (a.name === name || a.name === ""),
    );
}

function describe(workload: Workload, resource: PolicyResource): string {
    return `${workload.kind} ${known(() => workload.metadata.name, undefined) ?? resource.name}`;
}

export interface ApiReplicasConfig extends EnvironmentConfig {
    /** Value of the app.kubernetes.io/component label that marks the API workload. @default "server" */
    readonly apiComponent?: string;
    /** Minimum replicas (or autoscaler minReplicas) for the API in prod. @default 2 */
    readonly minReplicas?: number;
}

export const prodApiReplicas: StackValidationPolicy = {
    name: "prod-api-replicas",
    description: "In prod the API runs at least 2 replicas, or an autoscaler keeps at least 2.",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            ...environmentSchema.properties,
            apiComponent: { type: "string", default: "server", description: "Component label value of the API." },
            minReplicas: { type: "integer", default: 2, minimum: 1, description: "Minimum API replicas in prod." },
        },
    },
    validateStack: (args, reportViolation) => {
        const config = args.getConfig<ApiReplicasConfig>();
        if (!isProd(config)) {
            return;
        }
        const component = config.apiComponent ?? "server";
        const minimum = config.minReplicas ?? 2;
        const autoscalers = autoscalersOf(args.resources);
        let found = false;
        for (const resource of args.resources) {
            const workload = workloadOf(resource.type, resource.props);
            if (!workload || workload.podLabels[componentLabel] !== component) {
                continue;
            }
            found = true;
            const autoscaler = autoscalerFor(workload, autoscalers);
            const replicas = autoscaler ? autoscaler.minReplicas : known(() => workload.replicas ?? 1, minimum);
            if (replicas < minimum) {
                reportViolation(
                    `${describe(workload, resource)} runs ${replicas} replica(s) in prod: set replicas >= ${minimum} ` +
                        `or an autoscaler with minReplicas >= ${minimum} so one pod failure or a drain does not stop the API.`,
                    resource.urn,
                );
            }
        }
        if (!found) {
            reportViolation(
                `no workload labelled ${componentLabel}=${component} was found: label the API pod template so this policy can check it.`,
            );
        }
    },
};

export const prodDisruptionBudgets: StackValidationPolicy = {
    name: "prod-disruption-budgets",
    description: "In prod every workload that can run more than one replica has a PodDisruptionBudget.",
    enforcementLevel: "mandatory",
    configSchema: environmentSchema,
    validateStack: (args, reportViolation) => {
        if (!isProd(args.getConfig<EnvironmentConfig>())) {
            return;
        }
        const autoscalers = autoscalersOf(args.resources);
        const budgets = args.resources
            .filter((r) => r.type === types.pdb)
            .map((r) => ({ namespace: namespaceOf(r.props.metadata), selector: known(() => r.props.spec?.selector, undefined) }));
        for (const resource of args.resources) {
            if (resource.type !== types.deployment && resource.type !== types.statefulSet) {
                continue;
            }
            const workload = workloadOf(resource.type, resource.props);
            if (!workload) {
                continue;
            }
            const autoscaler = autoscalerFor(workload, autoscalers);
            const replicas = autoscaler ? autoscaler.maxReplicas : known(() => workload.replicas ?? 1, 2);
            if (replicas <= 1) {
                continue;
            }
            const namespace = namespaceOf(workload.metadata);
            const covered = budgets.some((b) => b.namespace === namespace && selectorMatches(b.selector, workload.podLabels));
            if (!covered) {
                reportViolation(
                    `${describe(workload, resource)} runs up to ${replicas} replicas without a PodDisruptionBudget: add one ` +
                        "whose selector matches its pod labels (for example maxUnavailable 1).",
                    resource.urn,
                );
            }
        }
    },
};

export interface ProtectConfig extends EnvironmentConfig {
    /** Component label values whose Secrets hold state that must survive. @default ["database"] */
    readonly secretComponents?: string[];
}

export const prodProtectState: ResourceValidationPolicy = {
    name: "prod-protect-state",
    description: "In prod the database volume and Secret are protected from deletion (Pulumi `protect`).",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            ...environmentSchema.properties,
            secretComponents: {
                type: "array",
                items: { type: "string" },
                default: ["database"],
                description: "Component label values of Secrets that must be protected in prod.",
            },
        },
    },
    validateResource: (args, reportViolation) => {
        if (args.type !== types.pvc && args.type !== types.secret) {
            return;
        }
        const config = args.getConfig<ProtectConfig>();
        if (!isProd(config)) {
            return;
        }
        if (args.type === types.secret) {
            const metadata: ObjectMeta = args.props.metadata ?? {};
            const component = known(() => metadata.labels?.[componentLabel], undefined);
            if (component === undefined || !(config.secretComponents ?? ["database"]).includes(component)) {
                return;
            }
        }
        if (!args.opts.protect) {
            const kind = args.type === types.pvc ? "PersistentVolumeClaim" : "Secret";
            reportViolation(
                `${kind} ${args.name} is not protected in prod: create it with the resource option { protect: true } ` +
                    "(and retainOnDelete) so a replace or destroy cannot delete the database's data or password.",
            );
        }
    },
};
