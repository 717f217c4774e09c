import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { restrictedPodTemplate, spreadOverNodes, type Toleration } from "./pod";
import { ContainerResources, containerResources, jobResources } from "./resources";

/** The port the app listens on: the contract with `app/` (PORT defaults to it there too). */
export const apiContainerPort = 8000;
/** Where the database URL file appears in the container: the contract with `app/`. */
export const databaseUrlFile = "/var/run/secrets/api-stack/database/url";
const apiUid = 10001; // the numeric user of app/Dockerfile

/** What the API's pod template is made of. */
export interface ApiPodArgs {
    /** The workload's common labels. */
    readonly labels: Record<string, string>;
    /** Its selector labels, for spreading replicas over nodes. */
    readonly selector: Record<string, string>;
    readonly image: pulumi.Input<string>;
    readonly logLevel: string;
    readonly resources: ContainerResources;
    /** The Secret key holding the database URL, and its checksum that rolls the pods. */
    readonly database: {
        readonly secretName: pulumi.Input<string>;
        readonly urlKey: string;
        readonly secretChecksum: pulumi.Input<string>;
    };
    /** The fewest pods that will run: above one, they are spread over nodes. */
    readonly lowestReplicas: number;
    /** Labels a node must carry to run the API. @default any node */
    readonly nodeSelector?: Record<string, string>;
    /** Taints the API's pods may be scheduled despite. @default none */
    readonly tolerations?: readonly Toleration[];
}

/**
 * How the app treats its schema (the app's MIGRATIONS variable): in the cluster the API only checks
 * that the schema is current, since a Job run with the owner role migrates it before the pods start.
 */
const migrationsMode = "check";

/** The database URL file, mounted read-only from one key of a Secret: the API's and the migration Job's. */
function databaseUrlMount(secretName: pulumi.Input<string>, urlKey: string) {
    const directory = databaseUrlFile.replace(/\/[^/]+$/, "");
    return {
        volumeMount: { name: "database-url", mountPath: directory, readOnly: true },
        volume: {
            name: "database-url",
            secret: { secretName, items: [{ key: urlKey, path: databaseUrlFile.replace(/^.*\//, "") }], defaultMode: 0o440 },
        },
    };
}

/** Startup and liveness on /livez, readiness on /readyz: the app's health contract. */
export function apiProbes(): Pick<k8s.types.input.core.v1.Container, "startupProbe" | "livenessProbe" | "readinessProbe"> {
    const get = (path: string) => ({ httpGet: { path, port: "http" }, timeoutSeconds: 2 });
    return {
        // Up to 60 s for a cold start before liveness takes over. Asked every second: the server listens
        // well within a second of starting, and readiness is probed as soon as this one succeeds, so a new
        // pod is Ready within a second of listening (every 2 s held each rollout and scale-up back by up to 2 s).
        startupProbe: { ...get("/livez"), periodSeconds: 1, failureThreshold: 60 },
        livenessProbe: { ...get("/livez"), periodSeconds: 10, failureThreshold: 3 },
        readinessProbe: { ...get("/readyz"), periodSeconds: 5, failureThreshold: 2 },
    };
}

/** The API's pod: the app with its database URL mounted as a file, a writable /tmp and nothing else. */
export function apiPodTemplate(args: ApiPodArgs): k8s.types.input.core.v1.PodTemplateSpec {
    const databaseUrl = databaseUrlMount(args.database.secretName, args.database.urlKey);
    return restrictedPodTemplate({
        labels: args.labels,
        annotations: { "checksum/database-secret": args.database.secretChecksum },
        uid: apiUid,
        affinity: args.lowestReplicas > 1 ? spreadOverNodes(args.selector) : undefined,
        nodeSelector: args.nodeSelector,
        tolerations: args.tolerations,
        // preStop (5 s) + the app's own drain bound (20 s) fit in this.
        terminationGracePeriodSeconds: 30,
        container: {
            name: "api",
            image: args.image,
            ports: [{ name: "http", containerPort: apiContainerPort, protocol: "TCP" }],
            env: [
                { name: "PORT", value: String(apiContainerPort) },
                { name: "LOG_LEVEL", value: args.logLevel },
                { name: "DATABASE_URL_FILE", value: databaseUrlFile },
                { name: "MIGRATIONS", value: migrationsMode },
            ],
            // /tmp (an emptyDir of 64Mi) and the logs the runtime keeps.
            resources: containerResources(args.resources, { request: "32Mi", limit: "128Mi" }),
            ...apiProbes(),
            // Endpoints are removed asynchronously; keep serving while they are. The kubelet's own sleep
            // (Kubernetes >= 1.30): the image is distroless and has no sleep binary to exec.
            lifecycle: { preStop: { sleep: { seconds: 5 } } },
            volumeMounts: [databaseUrl.volumeMount, { name: "tmp", mountPath: "/tmp" }],
        },
        volumes: [databaseUrl.volume, { name: "tmp", emptyDir: { sizeLimit: "64Mi" } }],
    });
}

/** What the migration Job's pod template is made of. */
export interface MigrationPodArgs {
    readonly labels: Record<string, string>;
    readonly image: pulumi.Input<string>;
    /** The owner's Secret and the key of its connection URL. */
    readonly secretName: pulumi.Input<string>;
    readonly urlKey: string;
}

/**
 * The release's migration step: the API's image running its migration entry point once, with the
 * owner's URL in the same file the API reads its own from. It applies what is pending and exits.
 */
export function migrationPodTemplate(args: MigrationPodArgs): k8s.types.input.core.v1.PodTemplateSpec {
    const databaseUrl = databaseUrlMount(args.secretName, args.urlKey);
    return restrictedPodTemplate({
        labels: args.labels,
        uid: apiUid,
        terminationGracePeriodSeconds: 30,
        restartPolicy: "Never",
        container: {
            name: "migrate",
            image: args.image,
            command: ["node", "dist/migrate-job.js"],
            env: [{ name: "DATABASE_URL_FILE", value: databaseUrlFile }],
            resources: jobResources,
            volumeMounts: [databaseUrl.volumeMount, { name: "tmp", mountPath: "/tmp" }],
        },
        volumes: [databaseUrl.volume, { name: "tmp", emptyDir: { sizeLimit: "16Mi" } }],
    });
}
