import { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { currentStack, EnvironmentConfig, environmentSchema, isProd } from "../lib/environment";
import { known, namespaceOf, selectorMatches, types, workloadOf } from "../lib/k8s";

export const networkPolicyCoverage: StackValidationPolicy = {
    name: "network-policy-coverage",
    description: "A NetworkPolicy selects every pod the stack runs.",
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
        const policies = args.resources
            .filter((r) => r.type === types.networkPolicy)
            .map((r) => ({
                namespace: namespaceOf(r.props.metadata),
                // A missing podSelector is invalid; `{}` selects every pod of the namespace.
                selector: known(() => r.props.spec?.podSelector, undefined),
            }));
        for (const resource of args.resources) {
            const workload = workloadOf(resource.type, resource.props);
            if (!workload) {
                continue;
            }
            const namespace = namespaceOf(workload.metadata);
            if (!policies.some((p) => p.namespace === namespace && selectorMatches(p.selector, workload.podLabels))) {
                const name = known(() => workload.metadata.name, undefined) ?? resource.name;
                reportViolation(
                    `${workload.kind} ${name}: no NetworkPolicy selects its pods: add a default-deny policy ` +
                        "(podSelector: {}) in its namespace and allow only the traffic it needs.",
                    resource.urn,
                );
            }
        }
    },
};

export interface LoadBalancerConfig extends EnvironmentConfig {
    /** Whether Services of type LoadBalancer are allowed; when unset, only in prod. */
    readonly allowLoadBalancer?: boolean;
}

export const loadBalancerAllowed: ResourceValidationPolicy = {
    name: "loadbalancer-allowed",
    description: "Services of type LoadBalancer only where the stack's settings allow it (by default only prod).",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            ...environmentSchema.properties,
            allowLoadBalancer: {
                type: "boolean",
                description: "Allow Services of type LoadBalancer; when unset, allowed only in prod.",
            },
        },
    },
    validateResource: (args, reportViolation) => {
        if (args.type !== types.service) {
            return;
        }
        const serviceType = known(() => args.props.spec?.type, undefined);
        if (serviceType !== "LoadBalancer") {
            return;
        }
        const config = args.getConfig<LoadBalancerConfig>();
        const allowed = config.allowLoadBalancer ?? isProd(config);
        if (!allowed) {
            reportViolation(
                `Service ${args.name} is of type LoadBalancer in stack "${currentStack() || "?"}", where it is not allowed: ` +
                    "use type ClusterIP (reach it with kubectl port-forward or an Ingress), or allow it in the policy config.",
            );
        }
    },
};
