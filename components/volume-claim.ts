import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

/**
 * The options of a stateful child (a volume, the database's credentials): when asked to, it is
 * protected from `pulumi destroy` and kept in the cluster if the program ever drops it.
 */
export function statefulOptions(parent: pulumi.Resource, protect: boolean | undefined): pulumi.CustomResourceOptions {
    return { parent, protect: protect ?? false, retainOnDelete: protect ?? false };
}

/**
 * What a volume takes from its component's arguments: a component whose Args have these fields
 * passes them whole.
 */
export interface VolumeClaimArgs {
    /** Namespace of the claim. */
    readonly namespace: pulumi.Input<string>;
    /** Size of the volume. */
    readonly storageSize: string;
    /** StorageClass of the volume; the cluster's default when omitted. */
    readonly storageClassName?: string;
    /** Protect and retain the claim (see {@link statefulOptions}). @default false */
    readonly protect?: boolean;
}

/**
 * A single-writer volume of a component, as its child. A claim of its own rather than a
 * StatefulSet's template, so that it can carry `protect` and `retainOnDelete` (see Postgres).
 * @param metadata the claim's name in the cluster and its labels (the owning component's)
 */
export function persistentVolumeClaim(
    resourceName: string,
    metadata: { readonly name: string; readonly labels: Record<string, string> },
    args: VolumeClaimArgs,
    parent: pulumi.Resource,
): k8s.core.v1.PersistentVolumeClaim {
    return new k8s.core.v1.PersistentVolumeClaim(
        resourceName,
        {
            metadata: { name: metadata.name, namespace: args.namespace, labels: metadata.labels },
            spec: {
                accessModes: ["ReadWriteOnce"],
                storageClassName: args.storageClassName,
                resources: { requests: { storage: args.storageSize } },
            },
        },
        statefulOptions(parent, args.protect),
    );
}
