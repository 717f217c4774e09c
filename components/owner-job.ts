import * as k8s from "@pulumi/kubernetes";
import { restrictedPodTemplate } from "./pod";
import type { PostgresServer } from "./postgres";
import { postgresUid } from "./postgres-pod";
import { jobResources } from "./resources";

/** Keys of the owner's password and connection URL in the credentials Secret. */
export const ownerSecretKeys = { password: "password", url: "url" } as const;

/**
 * The libpq environment of a Job that works on the database as its owner (psql, pg_dump): server,
 * database and role by value, the password from the owner's Secret at start, so that the spec holds
 * only the Secret's name.
 * @param settings more libpq variables (a connect timeout), placed before the password
 */
export function ownerClientEnv(
    server: PostgresServer,
    settings: readonly k8s.types.input.core.v1.EnvVar[] = [],
): k8s.types.input.core.v1.EnvVar[] {
    return [
        { name: "PGHOST", value: server.host },
        { name: "PGPORT", value: String(server.port) },
        { name: "PGDATABASE", value: server.databaseName },
        { name: "PGUSER", value: server.ownerUser },
        ...settings,
        { name: "PGPASSWORD", valueFrom: { secretKeyRef: { name: server.ownerSecretName, key: ownerSecretKeys.password } } },
    ];
}

/** What differs between the Jobs that work on the database as its owner. */
export interface OwnerJobPodArgs {
    /** Labels of the pod: the Job's common labels. */
    readonly labels: Record<string, string>;
    /** The database; the container runs the server's own image, so its client tools match the server's major. */
    readonly server: PostgresServer;
    /** Name of the one container. */
    readonly name: string;
    /** What the container runs. */
    readonly command: string[];
    /** The container's whole environment, {@link ownerClientEnv} among it. */
    readonly env: k8s.types.input.core.v1.EnvVar[];
    /** A volume of the Job's own and where it is mounted, besides the scratch /tmp every Job gets. */
    readonly volume?: { readonly mountPath: string; readonly volume: k8s.types.input.core.v1.Volume };
}

/**
 * The pod of a Job that works on the database as its owner: the server's image as its postgres user,
 * with the small bounded resources of one-off Jobs and a scratch /tmp (the root filesystem is read-only).
 */
export function ownerJobPodTemplate(args: OwnerJobPodArgs): k8s.types.input.core.v1.PodTemplateSpec {
    const own = args.volume ? [args.volume] : [];
    return restrictedPodTemplate({
        labels: args.labels,
        uid: postgresUid,
        terminationGracePeriodSeconds: 30,
        restartPolicy: "Never",
        container: {
            name: args.name,
            image: args.server.image,
            command: args.command,
            env: args.env,
            resources: jobResources,
            volumeMounts: [...own.map(({ mountPath, volume }) => ({ name: volume.name, mountPath })), { name: "tmp", mountPath: "/tmp" }],
        },
        volumes: [...own.map(({ volume }) => volume), { name: "tmp", emptyDir: { sizeLimit: "16Mi" } }],
    });
}
