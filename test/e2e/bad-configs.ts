/**
 * Bad configurations that the real engine must refuse at `preview`, shared by the render-mode
 * and the cluster tiers. Each names the key its error message must mention.
 */
export const badConfigs: { title: string; overrides: Record<string, string>; key: string }[] = [
    { title: "replicas spelled out", overrides: { apiReplicas: "three" }, key: "apiReplicas" },
    { title: "memory limit below request", overrides: { apiMemoryRequest: "512Mi", apiMemoryLimit: "256Mi" }, key: "apiMemoryLimit" },
    { title: "unknown service type", overrides: { apiServiceType: "Ingress" }, key: "apiServiceType" },
    { title: "storage 0Gi", overrides: { postgresStorageSize: "0Gi" }, key: "postgresStorageSize" },
    { title: "latest image", overrides: { imageRef: "registry.example.com/api:latest" }, key: "imageRef" },
    { title: "namespace not a DNS label", overrides: { namespace: "Prod_Namespace" }, key: "namespace" },
];
