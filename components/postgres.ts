import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as crypto from "crypto";
import { commonLabels, selectorLabels, WorkloadIdentity } from "./labels";
import { postgresPodTemplate, postgresPort } from "./postgres-pod";
import { ContainerResources } from "./resources";
import { serviceAwaitAnnotations } from "./service-await";

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
    /** Owner of the database; its password is generated. @default "app" */
    readonly user?: string;
    /** Requests and limits of the database container. */
    readonly resources: ContainerResources;
    /** Pod labels of the only clients admitted (the API's selector labels). */
    readonly clientSelector: Record<string, string>;
    /**
     * Protect the data volume and the credentials Secret from `pulumi destroy`, and keep them in
     * the cluster if they are ever removed from the program.
     * @default false
     */
    readonly protect?: boolean;
}

/** What a client needs to reach the database: give it whole to the client's component. */
export interface PostgresConnection {
    /** In-cluster DNS name of the database Service. */
    readonly host: pulumi.Output<string>;
    readonly port: number;
    /** Name of the Secret holding the connection URL. */
    readonly secretName: pulumi.Output<string>;
    /** Key of the connection URL in that Secret. */
    readonly urlKey: string;
    /** A hash of the Secret's content: put it on pod templates so a changed Secret rolls them. */
    readonly secretChecksum: pulumi.Output<string>;
    /** Labels of the database pods, for the client's egress policy. */
    readonly selector: Record<string, string>;
}

/** Key of the connection URL in the credentials Secret. */
const urlKey = "url";

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
    /** How clients reach the database. */
    public readonly connection: PostgresConnection;
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
        const stateful: pulumi.CustomResourceOptions = {
            parent: this,
            protect: args.protect ?? false,
            retainOnDelete: args.protect ?? false,
        };

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
                stringData: { password: pulumi.secret(password.result), [urlKey]: this.connectionUrl },
            },
            stateful,
        );

        const volumeClaim = new k8s.core.v1.PersistentVolumeClaim(
            `${name}-data`,
            {
                metadata: { name: "postgres-data", namespace: args.namespace, labels },
                spec: {
                    accessModes: ["ReadWriteOnce"],
                    storageClassName: args.storageClassName,
                    resources: { requests: { storage: args.storageSize } },
                },
            },
            stateful,
        );
        this.volumeClaimName = volumeClaim.metadata.name;

        new k8s.apps.v1.Deployment(
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
                        image: `${args.imageRepository ?? "postgres"}:${version}${args.imageDigest ? `@${args.imageDigest}` : ""}`,
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

        new k8s.networking.v1.NetworkPolicy(
            `${name}-network-policy`,
            {
                metadata: { name: "postgres-from-api", namespace: args.namespace, labels },
                spec: {
                    podSelector: { matchLabels: selectorLabels(identity) },
                    // Ingress from the clients only; no egress at all (the namespace default denies it).
                    policyTypes: ["Ingress", "Egress"],
                    ingress: [
                        { from: [{ podSelector: { matchLabels: args.clientSelector } }], ports: [{ protocol: "TCP", port: postgresPort }] },
                    ],
                    egress: [],
                },
            },
            { parent: this },
        );

        this.connection = {
            host,
            port: postgresPort,
            secretName: secret.metadata.name,
            urlKey,
            secretChecksum,
            selector: selectorLabels(identity),
        };
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
