import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { restrictedPodTemplate } from "./pod";
import { ContainerResources, containerResources } from "./resources";

/** The port PostgreSQL listens on, in the pod and behind the Service. */
export const postgresPort = 5432;
/** The official image's postgres user, which owns the data directory; fsGroup gives it the volume. */
export const postgresUid = 999;
const secretMountPath = "/var/run/secrets/postgres";

/** What the database's pod template is made of. */
export interface PostgresPodArgs {
    /** The workload's common labels. */
    readonly labels: Record<string, string>;
    /** The image reference, `postgres:<tag>[@sha256:...]`. */
    readonly image: string;
    readonly databaseName: string;
    readonly user: string;
    readonly resources: ContainerResources;
    /** The Secret holding `password`, and its checksum that rolls the pod. */
    readonly secretName: pulumi.Input<string>;
    readonly secretChecksum: pulumi.Input<string>;
    /** The PersistentVolumeClaim holding the data. */
    readonly volumeClaimName: pulumi.Input<string>;
}

/**
 * Readiness over TCP as a client would connect; liveness through the local socket and less eager,
 * so that a slow moment unreadies the pod long before it is restarted. The startup probe asks every
 * second, so the server counts as ready within a second of accepting connections (a fixed initial
 * delay held every deploy and restart back by up to 5 s), and it holds liveness off for as long as
 * crash recovery may take.
 */
export function postgresProbes(
    user: string,
    databaseName: string,
): Pick<k8s.types.input.core.v1.Container, "startupProbe" | "readinessProbe" | "livenessProbe"> {
    const port = `--port=${postgresPort}`;
    const overTcp = { exec: { command: ["pg_isready", "--host=127.0.0.1", port, `--username=${user}`, `--dbname=${databaseName}`] } };
    return {
        startupProbe: { ...overTcp, periodSeconds: 1, timeoutSeconds: 3, failureThreshold: 600 },
        readinessProbe: { ...overTcp, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 },
        livenessProbe: {
            // As the owner, into its database: pg_isready's default user (the OS user, postgres) has no role,
            // and the server logged a FATAL for every probe.
            exec: { command: ["pg_isready", "--host=/var/run/postgresql", port, `--username=${user}`, `--dbname=${databaseName}`] },
            periodSeconds: 15,
            timeoutSeconds: 5,
            failureThreshold: 6,
        },
    };
}

/** The database's pod: the official image on its volume, the password read from a mounted file. */
export function postgresPodTemplate(args: PostgresPodArgs): k8s.types.input.core.v1.PodTemplateSpec {
    return restrictedPodTemplate({
        labels: args.labels,
        annotations: { "checksum/credentials": args.secretChecksum },
        uid: postgresUid,
        terminationGracePeriodSeconds: 60,
        container: {
            name: "postgres",
            image: args.image,
            ports: [{ name: "postgres", containerPort: postgresPort, protocol: "TCP" }],
            env: [
                { name: "POSTGRES_USER", value: args.user },
                { name: "POSTGRES_DB", value: args.databaseName },
                // The image reads the password from this file; no literal in the spec.
                { name: "POSTGRES_PASSWORD_FILE", value: `${secretMountPath}/password` },
                // A subdirectory, because a fresh volume's root may hold lost+found.
                { name: "PGDATA", value: "/var/lib/postgresql/data/pgdata" },
            ],
            // The socket and /tmp emptyDirs, and the server's logs.
            resources: containerResources(args.resources, { request: "64Mi", limit: "512Mi" }),
            ...postgresProbes(args.user, args.databaseName),
            volumeMounts: [
                { name: "data", mountPath: "/var/lib/postgresql/data" },
                { name: "run", mountPath: "/var/run/postgresql" },
                { name: "tmp", mountPath: "/tmp" },
                { name: "credentials", mountPath: secretMountPath, readOnly: true },
            ],
        },
        volumes: [
            { name: "data", persistentVolumeClaim: { claimName: args.volumeClaimName } },
            { name: "run", emptyDir: { sizeLimit: "16Mi" } },
            { name: "tmp", emptyDir: { sizeLimit: "256Mi" } },
            {
                name: "credentials",
                secret: { secretName: args.secretName, items: [{ key: "password", path: "password" }], defaultMode: 0o440 },
            },
        ],
    });
}
