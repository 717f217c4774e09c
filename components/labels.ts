/**
 * The one source of Kubernetes labels and selectors. Selectors use only the three labels that
 * identify a workload and never change on an ordinary update: a Deployment's selector is
 * immutable, so a label that varies (a version, a hash) would force a replace.
 */

/** Value of `app.kubernetes.io/part-of` on everything this project creates. */
const partOf = "api-stack";

export interface WorkloadIdentity {
    /** `app.kubernetes.io/name`: what the workload is, e.g. `api` or `postgres`. */
    readonly name: string;
    /** `app.kubernetes.io/instance`: which deployment of it, e.g. the stack name. */
    readonly instance: string;
    /** `app.kubernetes.io/component`: its role in the system, e.g. `server` or `database`. */
    readonly component: string;
}

/** Labels that select the workload's pods. */
export function selectorLabels(identity: WorkloadIdentity): Record<string, string> {
    return {
        "app.kubernetes.io/name": identity.name,
        "app.kubernetes.io/instance": identity.instance,
        "app.kubernetes.io/component": identity.component,
    };
}

/** Labels that say who owns an object: on every object, workload or not (the namespace too). */
export function ownershipLabels(): Record<string, string> {
    return { "app.kubernetes.io/part-of": partOf, "app.kubernetes.io/managed-by": "pulumi" };
}

/** Labels for every object of the workload: the selector labels plus ownership. */
export function commonLabels(identity: WorkloadIdentity): Record<string, string> {
    return { ...selectorLabels(identity), ...ownershipLabels() };
}
