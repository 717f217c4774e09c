import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as crypto from "crypto";
import { commonLabels, selectorLabels, WorkloadIdentity } from "./labels";
import { ownerSecretKeys } from "./owner-job";
import { BackupPolicy, backupIdentity, PostgresBackup } from "./postgres-backup";
import { postgresPodTemplate, postgresPort } from "./postgres-pod";
import { ContainerResources } from "./resources";
import { serviceAwaitAnnotations } from "./service-await";
import { persistentVolumeClaim, statefulOptions } from "./volume-claim";

/**
 * PostgreSQL majors this program runs. 13 and 14 are past their end of life; 18 moved the
 * official image's data directory and volume (to /var/lib/postgresql), which the mounts here
 * have not been tried with.
 */
export const supportedPostgresMajors = ["15", "16", "17"] as const;

/** The major version of an image tag: `15` of `15.10-bookworm`. */
export function postgresMajor(tag: string): string {
    return tag.replace(/[.-].*$/, "");
}

/** Arguments of {@link Postgres}. */
export interface PostgresArgs {
    /** Namespace to create everything in. */
    readonly namespace: pulumi.Input<string>;
    /** `app.kubernetes.io/instance` of the database objects, usually the stack name. */
    readonly instance: string;
    /** Image name without tag: the official `postgres`, a mirror of it, or a stand-in keeping its contract. @default "postgres" */
    readonly imageRepository?: string;
    /** Tag of the official `postgres` image, of a supported major. @default "15" */
    readonly version?: string;
    /** Digest (`sha256:...`) to pin the image by; the tag alone when omitted. */
    readonly imageDigest?: string;
    /** Size of the data volume. */
    readonly storageSize: string;
    /** StorageClass of the data volume; the cluster's default when omitted. */
    readonly storageClassName?: string;
    /** Database created at first start. @default "app" */
    readonly databaseName?: string;
    /**
     * The owner: the image's bootstrap superuser, which owns the database, runs the migrations and
     * manages the API's roles. Only Jobs use it; its password is generated and never rotated here.
     * @default "app"
     */
    readonly user?: string;
    /** Requests and limits of the database container. */
    readonly resources: ContainerResources;
    /** Pod labels of each kind of client admitted (the API's, its Jobs'); the backup pods are added here. */
    readonly clientSelectors: readonly Record<string, string>[];
    /** Scheduled backups into a volume of their own; none when omitted. */
    readonly backup?: BackupPolicy;
    /**
     * Protect the data volume and the credentials Secret from `pulumi destroy`, and keep them in
     * the cluster if they are ever removed from the program.
     * @default false
     */
    readonly protect?: boolean;
}

/**
 * What a Job needs to administer the database as its owner: give it whole to the component that
 * runs migrations, role changes or backups.
 */
export interface PostgresServer {
    /** In-cluster DNS name of the database Service. */
    readonly host: pulumi.Output<string>;
    readonly port: number;
    readonly databaseName: string;
    /** The owner (superuser) role. */
    readonly ownerUser: string;
    /** The Secret holding the owner's `password` and connection `url`. */
    readonly ownerSecretName: pulumi.Output<string>;
    /** The server's own image: its client tools (psql, pg_dump) match the server's major. */
    readonly image: string;
    /** Labels of the database pods, for a client's egress policy. */
    readonly selector: Record<string, string>;
    /** The server's Deployment: a Job that needs the server running waits for it. */
    readonly deployment: pulumi.Resource;
}

/** The identity of the database pods. */
function postgresIdentity(instance: string): WorkloadIdentity {
    return { name: "postgres", instance, component: "database" };
}

/**
 * PostgreSQL with a persistent volume and a generated password.
 *
 * Why a Deployment with `Recreate` and a separate PVC rather than a StatefulSet: the PVC is then a
 * resource of this program, so it can carry `protect` and `retainOnDelete`, its uid can be checked
 * across updates, and its size can be changed in place; a StatefulSet's volumeClaimTemplates are
 * immutable and invisible to Pulumi. One replica and `Recreate` guarantee that the old server has
 * stopped before a new one opens the same ReadWriteOnce volume.
 */
export class Postgres extends pulumi.ComponentResource {
    /** How Jobs reach the database as its owner. */
    public readonly server: PostgresServer;
    /** In-cluster DNS name of the database Service. */
    public readonly host: pulumi.Output<string>;
    /** Name of the owner's credentials Secret. */
    public readonly ownerSecretName: pulumi.Output<string>;
    public readonly database: pulumi.Output<string>;
    public readonly user: pulumi.Output<string>;
    /** The major version the data directory is written in. */
    public readonly major: string;
    /** Full connection URL, a secret. */
    public readonly connectionUrl: pulumi.Output<string>;
    /** Name of the PersistentVolumeClaim holding the data. */
    public readonly volumeClaimName: pulumi.Output<string>;

    constructor(name: string, args: PostgresArgs, opts?: pulumi.ComponentResourceOptions) {
        super("api-stack:database:Postgres", name, {}, opts);
        const version = args.version ?? "15";
        this.major = postgresMajor(version);
        if (!(supportedPostgresMajors as readonly string[]).includes(this.major)) {
            throw new pulumi.ResourceError(
                `Postgres ${name}: args.version "${version}" is of major ${this.major}; supported majors: ${supportedPostgresMajors.join(", ")}`,
                this,
            );
        }
        const identity = postgresIdentity(args.instance);
        const labels = commonLabels(identity);
        const databaseName = args.databaseName ?? "app";
        const user = args.user ?? "app";

        // Letters and digits only, so the password needs no escaping inside the URL.
        const password = new random.RandomPassword(`${name}-password`, { length: 32, special: false }, { parent: this });
        const serviceName = "postgres";
        const host = pulumi.interpolate`${serviceName}.${args.namespace}.svc.cluster.local`;
        this.database = pulumi.output(databaseName);
        this.user = pulumi.output(user);
        this.connectionUrl = pulumi.secret(
            pulumi.interpolate`postgresql://${user}:${password.result}@${host}:${postgresPort}/${databaseName}`,
        );
        // The checksum of a secret is not itself secret: a one-way hash of a random password.
        const secretChecksum = pulumi.unsecret(this.connectionUrl.apply((url) => crypto.createHash("sha256").update(url).digest("hex")));

        const secret = new k8s.core.v1.Secret(
            `${name}-credentials`,
            {
                metadata: { name: "postgres-credentials", namespace: args.namespace, labels },
                type: "Opaque",
                stringData: { [ownerSecretKeys.password]: pulumi.secret(password.result), [ownerSecretKeys.url]: this.connectionUrl },
            },
            statefulOptions(this, args.protect),
        );

        const volumeClaim = persistentVolumeClaim(`${name}-data`, { name: "postgres-data", labels }, args, this);
        this.volumeClaimName = volumeClaim.metadata.name;

        const image = `${args.imageRepository ?? "postgres"}:${version}${args.imageDigest ? `@${args.imageDigest}` : ""}`;
        const deployment = new k8s.apps.v1.Deployment(
            `${name}-deployment`,
            {
                metadata: { name: "postgres", namespace: args.namespace, labels },
                spec: {
                    replicas: 1,
                    strategy: { type: "Recreate" },
                    revisionHistoryLimit: 3,
                    selector: { matchLabels: selectorLabels(identity) },
                    template: postgresPodTemplate({
                        labels,
                        image,
                        databaseName,
                        user,
                        resources: args.resources,
                        secretName: secret.metadata.name,
                        secretChecksum,
                        volumeClaimName: volumeClaim.metadata.name,
                    }),
                },
            },
            { parent: this },
        );

        new k8s.core.v1.Service(
            `${name}-service`,
            {
                metadata: { name: serviceName, namespace: args.namespace, labels, annotations: serviceAwaitAnnotations("ClusterIP", true) },
                spec: {
                    type: "ClusterIP",
                    selector: selectorLabels(identity),
                    ports: [{ name: "postgres", port: postgresPort, targetPort: "postgres", protocol: "TCP" }],
                },
            },
            { parent: this },
        );

        this.host = host;
        this.ownerSecretName = secret.metadata.name;
        this.server = {
            host,
            port: postgresPort,
            databaseName,
            ownerUser: user,
            ownerSecretName: secret.metadata.name,
            image,
            selector: selectorLabels(identity),
            deployment,
        };
        const clientSelectors = [...args.clientSelectors];
        if (args.backup) {
            new PostgresBackup(
                `${name}-backup`,
                { ...args.backup, namespace: args.namespace, instance: args.instance, server: this.server, protect: args.protect },
                { parent: this },
            );
            clientSelectors.push(selectorLabels(backupIdentity(args.instance)));
        }

        new k8s.networking.v1.NetworkPolicy(
            `${name}-network-policy`,
            {
                metadata: { name: "postgres-from-api", namespace: args.namespace, labels },
                spec: {
                    podSelector: { matchLabels: selectorLabels(identity) },
                    // Ingress from the clients only; no egress at all (the namespace default denies it).
                    policyTypes: ["Ingress", "Egress"],
                    ingress: [
                        {
                            from: clientSelectors.map((matchLabels) => ({ podSelector: { matchLabels } })),
                            ports: [{ protocol: "TCP", port: postgresPort }],
                        },
                    ],
                    egress: [],
                },
            },
            { parent: this },
        );

        this.registerOutputs({
            host,
            port: postgresPort,
            database: this.database,
            user: this.user,
            major: this.major,
            connectionUrl: this.connectionUrl,
            secretName: secret.metadata.name,
            secretChecksum,
            volumeClaimName: this.volumeClaimName,
        });
    }
}
