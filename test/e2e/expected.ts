/** The resources a full stack creates, by type and count: what `preview` on an empty stack must plan. */
export function expectedCreates(stack: "dev" | "prod"): Record<string, number> {
    return {
        "api-stack:app:Api": 1,
        "api-stack:app:ApiImage": 1,
        "api-stack:database:DatabaseAccess": 1,
        "api-stack:database:Postgres": 1,
        ...(stack === "prod" ? { "api-stack:database:PostgresBackup": 1, "kubernetes:batch/v1:CronJob": 1 } : {}),
        "api-stack:platform:Environment": 1,
        "kubernetes:apps/v1:Deployment": 2,
        // The release's migrations and this rotation's roles.
        "kubernetes:batch/v1:Job": 2,
        "kubernetes:core/v1:Namespace": 1,
        "kubernetes:core/v1:PersistentVolumeClaim": stack === "prod" ? 2 : 1,
        // The owner's, the API's, and this rotation's password.
        "kubernetes:core/v1:Secret": 3,
        "kubernetes:core/v1:Service": 2,
        "kubernetes:networking.k8s.io/v1:NetworkPolicy": stack === "prod" ? 5 : 4,
        ...(stack === "prod" ? { "kubernetes:policy/v1:PodDisruptionBudget": 1 } : {}),
        "pulumi:providers:kubernetes": 1,
        // The engine's built-in provider, which answers the program's read of the stack's own outputs.
        "pulumi:providers:pulumi": 1,
        "pulumi:providers:random": 1,
        "random:index/randomPassword:RandomPassword": 2,
    };
}

/** How many Kubernetes objects a full stack creates. */
export function expectedKubernetesObjects(stack: "dev" | "prod"): number {
    return Object.entries(expectedCreates(stack))
        .filter(([type]) => type.startsWith("kubernetes:") && !type.startsWith("pulumi:"))
        .reduce((sum, [, count]) => sum + count, 0);
}

/**
 * The count in the CLI's summary line `+ N to create` of a preview on an empty stack: every create and
 * the stack itself, but no default provider, which the engine leaves out of the summary (pkg/engine,
 * isInternalStep). Every provider of this program is a default one: it creates none of its own.
 */
export function expectedSummaryCreates(stack: "dev" | "prod"): number {
    const stackResource = 1;
    return Object.entries(expectedCreates(stack))
        .filter(([type]) => !type.startsWith("pulumi:providers:"))
        .reduce((sum, [, count]) => sum + count, stackResource);
}
