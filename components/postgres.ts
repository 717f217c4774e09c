import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as crypto from "crypto";
import { commonLabels, selectorLabels, WorkloadIdentity } from "./labels";
import { ContainerResources, containerResources, EphemeralStorage } from "./resources";
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from "./security";

/** Arguments of {@link Postgres}. */
export interface PostgresArgs {
    /** Namespace to create everything in. */
    readonly namespace: pulumi.Input<string>;
    /** `app.kubernetes.io/instance` of the database objects, usually the stack name. */
    readonly instance: string;
    /** Image name without tag: the official `postgres`, a mirror of it, or a stand-in keeping its contract. @default "postgres" */
    readonly imageRepository?: string;
    /** Tag of the image. @default "15" */
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
    /** Pod labels of the only clients admitted on 5432 (the API's selector labels). */
    readonly clientSelector: Record<string, string>;
    /**
     * Protect the data volume and the credentials Secret from `pulumi destroy`, and keep them in
     * the cluster if they are ever removed from the program.
     * @default false
     */
    readonly protect?: boolean;
}

/** The identity of the database pods, exported so that the API's egress policy can name them. */
export function postgresIdentity(instance: string): WorkloadIdentity {
    return { name: "postgres", instance, component: "database" };
}

/** Scratch space of the database container: the socket and /tmp emptyDirs, and its logs. */
const ephemeralStorage: EphemeralStorage = { request: "64Mi", limit: "512Mi" };
const postgresUid = 999; // the official image's postgres user; fsGroup gives it the volume
const port = 5432;
const secretMountPath = "/var/run/secrets/postgres";

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
    /** In-cluster DNS name of the database Service. */
    public readonly host: pulumi.Output<string>;
    public readonly port: pulumi.Output<number>;
    public readonly database: pulumi.Output<string>;
    public readonly user: pulumi.Output<string>;
    /** Full connection URL, a secret. */
    public readonly connectionUrl: pulumi.Output<string>;
    /** Name of the Secret holding `password` and `url`. */
    public readonly secretName: pulumi.Output<string>;
    /** Key of the connection URL in that Secret. */
    public readonly urlKey = "url";
    /** A hash of the Secret's content: put it on pod templates so a changed Secret rolls them. */
    public readonly secretChecksum: pulumi.Output<string>;
    /** Name of the PersistentVolumeClaim holding the data. */
    public readonly volumeClaimName: pulumi.Output<string>;

    constructor(name: string, args: PostgresArgs, opts?: pulumi.ComponentResourceOptions) {
        super("api-stack:database:Postgres", name, {}, opts);
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
        this.host = pulumi.interpolate`${serviceName}.${args.namespace}.svc.cluster.local`;
        this.port = pulumi.output(port);
        this.database = pulumi.output(databaseName);
        this.user = pulumi.output(user);
        this.connectionUrl = pulumi.secret(
            pulumi.interpolate`postgresql://${user}:${password.result}@${this.host}:${port}/${databaseName}`,
        );
        // The checksum of a secret is not itself secret: a one-way hash of a random password.
        this.secretChecksum = pulumi.unsecret(this.connectionUrl.apply((url) => crypto.createHash("sha256").update(url).digest("hex")));

        const secret = new k8s.core.v1.Secret(
            `${name}-credentials`,
            {
                metadata: { name: "postgres-credentials", namespace: args.namespace, labels },
                type: "Opaque",
                stringData: { password: pulumi.secret(password.result), url: this.connectionUrl },
            },
            stateful,
        );
        this.secretName = secret.metadata.name;

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

        const isReady = ["pg_isready", "--host=127.0.0.1", `--port=${port}`, `--username=${user}`, `--dbname=${databaseName}`];
        new k8s.apps.v1.Deployment(
            `${name}-deployment`,
            {
                metadata: { name: "postgres", namespace: args.namespace, labels },
                spec: {
                    replicas: 1,
                    strategy: { type: "Recreate" },
                    revisionHistoryLimit: 3,
                    selector: { matchLabels: selectorLabels(identity) },
                    template: {
                        metadata: { labels, annotations: { "checksum/credentials": this.secretChecksum } },
                        spec: {
                            automountServiceAccountToken: false,
                            enableServiceLinks: false,
                            securityContext: restrictedPodSecurityContext(postgresUid),
                            terminationGracePeriodSeconds: 60,
                            containers: [
                                {
                                    name: "postgres",
                                    image: `${args.imageRepository ?? "postgres"}:${args.version ?? "15"}${args.imageDigest ? `@${args.imageDigest}` : ""}`,
                                    imagePullPolicy: "IfNotPresent",
                                    ports: [{ name: "postgres", containerPort: port, protocol: "TCP" }],
                                    env: [
                                        { name: "POSTGRES_USER", value: user },
                                        { name: "POSTGRES_DB", value: databaseName },
                                        // The image reads the password from this file; no literal in the spec.
                                        { name: "POSTGRES_PASSWORD_FILE", value: `${secretMountPath}/password` },
                                        // A subdirectory, because a fresh volume's root may hold lost+found.
                                        { name: "PGDATA", value: "/var/lib/postgresql/data/pgdata" },
                                    ],
                                    resources: containerResources(args.resources, ephemeralStorage),
                                    securityContext: restrictedContainerSecurityContext,
                                    readinessProbe: {
                                        exec: { command: isReady },
                                        initialDelaySeconds: 5,
                                        periodSeconds: 5,
                                        timeoutSeconds: 3,
                                        failureThreshold: 3,
                                    },
                                    // Through the local socket and less eager than readiness, so that a
                                    // slow moment unreadies the pod long before it is restarted.
                                    livenessProbe: {
                                        exec: { command: ["pg_isready", "--host=/var/run/postgresql", `--port=${port}`] },
                                        initialDelaySeconds: 30,
                                        periodSeconds: 15,
                                        timeoutSeconds: 5,
                                        failureThreshold: 6,
                                    },
                                    volumeMounts: [
                                        { name: "data", mountPath: "/var/lib/postgresql/data" },
                                        { name: "run", mountPath: "/var/run/postgresql" },
                                        { name: "tmp", mountPath: "/tmp" },
                                        { name: "credentials", mountPath: secretMountPath, readOnly: true },
                                    ],
                                },
                            ],
                            volumes: [
                                { name: "data", persistentVolumeClaim: { claimName: volumeClaim.metadata.name } },
                                { name: "run", emptyDir: { sizeLimit: "16Mi" } },
                                { name: "tmp", emptyDir: { sizeLimit: "256Mi" } },
                                {
                                    name: "credentials",
                                    secret: {
                                        secretName: secret.metadata.name,
                                        items: [{ key: "password", path: "password" }],
                                        defaultMode: 0o440,
                                    },
                                },
                            ],
                        },
                    },
                },
            },
            { parent: this },
        );

        new k8s.core.v1.Service(
            `${name}-service`,
            {
                metadata: { name: serviceName, namespace: args.namespace, labels },
                spec: {
                    type: "ClusterIP",
                    selector: selectorLabels(identity),
                    ports: [{ name: "postgres", port, targetPort: "postgres", protocol: "TCP" }],
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
                    // Ingress from the API only; no egress at all (the namespace default denies it).
                    policyTypes: ["Ingress", "Egress"],
                    ingress: [{ from: [{ podSelector: { matchLabels: args.clientSelector } }], ports: [{ protocol: "TCP", port }] }],
                    egress: [],
                },
            },
            { parent: this },
        );

        this.registerOutputs({
            host: this.host,
            port: this.port,
            database: this.database,
            user: this.user,
            connectionUrl: this.connectionUrl,
            secretName: this.secretName,
            secretChecksum: this.secretChecksum,
            volumeClaimName: this.volumeClaimName,
        });
    }
}
