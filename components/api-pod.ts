import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { restrictedPodTemplate, spreadOverNodes } from "./pod";
import { ContainerResources, containerResources } from "./resources";

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
}

/** Startup and liveness on /livez, readiness on /readyz: the app's health contract. */
export function apiProbes(): Pick<k8s.types.input.core.v1.Container, "startupProbe" | "livenessProbe" | "readinessProbe"> {
    const get = (path: string) => ({ httpGet: { path, port: "http" }, timeoutSeconds: 2 });
    return {
        // Up to 60 s for a cold start before liveness takes over.
        startupProbe: { ...get("/livez"), periodSeconds: 2, failureThreshold: 30 },
        livenessProbe: { ...get("/livez"), periodSeconds: 10, failureThreshold: 3 },
        readinessProbe: { ...get("/readyz"), periodSeconds: 5, failureThreshold: 2 },
    };
}

/** The API's pod: the app with its database URL mounted as a file, a writable /tmp and nothing else. */
export function apiPodTemplate(args: ApiPodArgs): k8s.types.input.core.v1.PodTemplateSpec {
    return restrictedPodTemplate({
        labels: args.labels,
        annotations: { "checksum/database-secret": args.database.secretChecksum },
        uid: apiUid,
        affinity: args.lowestReplicas > 1 ? spreadOverNodes(args.selector) : undefined,
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
            ],
            // /tmp (an emptyDir of 64Mi) and the logs the runtime keeps.
            resources: containerResources(args.resources, { request: "32Mi", limit: "128Mi" }),
            ...apiProbes(),
            // Endpoints are removed asynchronously; keep serving while they are. The kubelet's own sleep
            // (Kubernetes >= 1.30): the image is distroless and has no sleep binary to exec.
            lifecycle: { preStop: { sleep: { seconds: 5 } } },
            volumeMounts: [
                { name: "database-url", mountPath: databaseUrlFile.replace(/\/[^/]+$/, ""), readOnly: true },
                { name: "tmp", mountPath: "/tmp" },
            ],
        },
        volumes: [
            {
                name: "database-url",
                secret: {
                    secretName: args.database.secretName,
                    items: [{ key: args.database.urlKey, path: databaseUrlFile.replace(/^.*\//, "") }],
                    defaultMode: 0o440,
                },
            },
            { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
        ],
    });
}
