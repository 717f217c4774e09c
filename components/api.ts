import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { apiContainerPort, apiPodTemplate } from "./api-pod";
import type { PostgresConnection } from "./database-access";
import { commonLabels, selectorLabels, WorkloadIdentity } from "./labels";
import { databaseClientEgress } from "./network";
import type { Toleration } from "./pod";
import { ContainerResources } from "./resources";
import { serviceAwaitAnnotations } from "./service-await";

export const serviceTypes = ["ClusterIP", "NodePort", "LoadBalancer"] as const;
/** The app's LOG_LEVEL values (pino's). */
export const logLevels = ["fatal", "error", "warn", "info", "debug", "trace"] as const;

/** Autoscaling bounds for the API. */
export interface ApiAutoscalingArgs {
    readonly minReplicas: number;
    readonly maxReplicas: number;
    /** Target average CPU utilisation, percent of the request. */
    readonly targetCpuPercent: number;
}

/** Arguments of {@link Api}. */
export interface ApiArgs {
    /** Namespace to create everything in. */
    readonly namespace: pulumi.Input<string>;
    /** `app.kubernetes.io/instance` of the API objects, usually the stack name. */
    readonly instance: string;
    /** Image reference to run (tagged by content or pinned by digest). */
    readonly image: pulumi.Input<string>;
    /** Pods to run when `autoscaling` is not set. @default 1 */
    readonly replicas?: number;
    /** Requests and limits of the API container. */
    readonly resources: ContainerResources;
    /** The app's LOG_LEVEL. @default "info" */
    readonly logLevel?: (typeof logLevels)[number];
    /**
     * The database to use: its URL Secret, the pods and port the API may reach (besides DNS), and
     * the Jobs (migrations) that must have succeeded before the pods change.
     */
    readonly database: PostgresConnection;
    /** Service type. @default "ClusterIP" */
    readonly serviceType?: (typeof serviceTypes)[number];
    /** Port the Service listens on. @default 80 */
    readonly servicePort?: number;
    /**
     * Wait for a LoadBalancer Service to get an address. Only a cluster that cannot provision
     * load balancers (the local simulated one) should turn this off.
     * @default true
     */
    readonly awaitServiceAddress?: boolean;
    /** Add a HorizontalPodAutoscaler; `replicas` is then left to it. */
    readonly autoscaling?: ApiAutoscalingArgs;
    /**
     * Node labels the API's pods require (the pod's `nodeSelector`), e.g. a node pool. The database
     * is not affected. @default any node
     */
    readonly nodeSelector?: Record<string, string>;
    /** Taints the API's pods tolerate, e.g. of a dedicated node pool. @default none */
    readonly tolerations?: readonly Toleration[];
}

/** The identity of the API's pods, exported so that the database can admit exactly them. */
export function apiIdentity(instance: string): WorkloadIdentity {
    return { name: "api", instance, component: "server" };
}

/**
 * The API: a Deployment that rolls without losing capacity, its Service, a NetworkPolicy that
 * admits HTTP, a PodDisruptionBudget when there is more than one pod and an optional autoscaler.
 */
export class Api extends pulumi.ComponentResource {
    public readonly serviceName: pulumi.Output<string>;
    /** In-cluster URL of the Service. */
    public readonly internalUrl: pulumi.Output<string>;
    /** Address outside the cluster (LoadBalancer ingress), or why there is none. */
    public readonly externalEndpoint: pulumi.Output<string>;
    public readonly deploymentName: pulumi.Output<string>;

    constructor(name: string, args: ApiArgs, opts?: pulumi.ComponentResourceOptions) {
        super("api-stack:app:Api", name, {}, opts);
        const replicas = args.replicas ?? 1;
        if (!Number.isInteger(replicas) || replicas < 1) {
            throw new pulumi.ResourceError(`Api ${name}: args.replicas must be an integer >= 1, got ${replicas}`, this);
        }
        if (args.autoscaling && args.autoscaling.maxReplicas < args.autoscaling.minReplicas) {
            const { minReplicas, maxReplicas } = args.autoscaling;
            throw new pulumi.ResourceError(
                `Api ${name}: args.autoscaling.maxReplicas (${maxReplicas}) must be >= args.autoscaling.minReplicas (${minReplicas})`,
                this,
            );
        }
        const identity = apiIdentity(args.instance);
        const labels = commonLabels(identity);
        const serviceType = args.serviceType ?? "ClusterIP";
        const servicePort = args.servicePort ?? 80;
        const lowestReplicas = args.autoscaling ? args.autoscaling.minReplicas : replicas;

        const deployment = new k8s.apps.v1.Deployment(
            `${name}-deployment`,
            {
                metadata: { name: "api", namespace: args.namespace, labels },
                spec: {
                    // With an autoscaler the field is left unset, so `pulumi up` never resets its count.
                    replicas: args.autoscaling ? undefined : replicas,
                    revisionHistoryLimit: 5,
                    selector: { matchLabels: selectorLabels(identity) },
                    strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
                    template: apiPodTemplate({
                        labels,
                        selector: selectorLabels(identity),
                        image: args.image,
                        logLevel: args.logLevel ?? "info",
                        resources: args.resources,
                        database: args.database,
                        lowestReplicas,
                        nodeSelector: args.nodeSelector,
                        tolerations: args.tolerations,
                    }),
                },
            },
            { parent: this, dependsOn: [...args.database.prerequisites] },
        );
        this.deploymentName = deployment.metadata.name;

        const service = new k8s.core.v1.Service(
            `${name}-service`,
            {
                metadata: {
                    name: "api",
                    namespace: args.namespace,
                    labels,
                    annotations: serviceAwaitAnnotations(serviceType, args.awaitServiceAddress ?? true),
                },
                spec: {
                    type: serviceType,
                    selector: selectorLabels(identity),
                    ports: [{ name: "http", port: servicePort, targetPort: "http", protocol: "TCP" }],
                },
            },
            { parent: this },
        );
        this.serviceName = service.metadata.name;
        this.internalUrl = pulumi.interpolate`http://${service.metadata.name}.${args.namespace}.svc.cluster.local:${servicePort}`;
        // Always a value, so that `pulumi stack output` says why there is no address.
        this.externalEndpoint = service.status.apply((status) => {
            const ingress = status?.loadBalancer?.ingress?.[0];
            const host = ingress?.hostname || ingress?.ip;
            if (host) {
                return `http://${host}:${servicePort}`;
            }
            return serviceType === "LoadBalancer"
                ? "pending: the cluster has not assigned a load balancer address"
                : `none: Service type ${serviceType}; use kubectl port-forward service/api ${servicePort}`;
        });

        new k8s.networking.v1.NetworkPolicy(
            `${name}-network-policy`,
            {
                metadata: { name: "api-http", namespace: args.namespace, labels },
                spec: {
                    podSelector: { matchLabels: selectorLabels(identity) },
                    policyTypes: ["Ingress", "Egress"],
                    ingress: [{ ports: [{ protocol: "TCP", port: apiContainerPort }] }],
                    egress: databaseClientEgress(args.database),
                },
            },
            { parent: this },
        );

        if (lowestReplicas > 1) {
            new k8s.policy.v1.PodDisruptionBudget(
                `${name}-pdb`,
                {
                    metadata: { name: "api", namespace: args.namespace, labels },
                    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(identity) } },
                },
                { parent: this },
            );
        }

        if (args.autoscaling) {
            new k8s.autoscaling.v2.HorizontalPodAutoscaler(
                `${name}-hpa`,
                {
                    metadata: { name: "api", namespace: args.namespace, labels },
                    spec: {
                        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: deployment.metadata.name },
                        minReplicas: args.autoscaling.minReplicas,
                        maxReplicas: args.autoscaling.maxReplicas,
                        metrics: [
                            {
                                type: "Resource",
                                resource: {
                                    name: "cpu",
                                    target: { type: "Utilization", averageUtilization: args.autoscaling.targetCpuPercent },
                                },
                            },
                        ],
                    },
                },
                { parent: this },
            );
        }

        this.registerOutputs({
            serviceName: this.serviceName,
            internalUrl: this.internalUrl,
            externalEndpoint: this.externalEndpoint,
            deploymentName: this.deploymentName,
        });
    }
}
