import * as fs from "fs";
import * as path from "path";
import { parseAllDocuments } from "yaml";

/** What the kubectl row applies and then waits for. */
export interface RenderedStack {
    /** Every object the program rendered, as one YAML stream: Namespaces first, so one `kubectl apply` takes it. */
    readonly yaml: string;
    readonly namespaces: readonly string[];
    /** `namespace/name` of each Deployment (rollout status). */
    readonly deployments: readonly string[];
    /** `namespace/name` of each Service with a selector (ready endpoints). */
    readonly services: readonly string[];
}

interface KubeObject {
    readonly kind?: string;
    readonly metadata?: { readonly name?: string; readonly namespace?: string };
    readonly spec?: { readonly selector?: Record<string, unknown> };
}

/** Reads what the Kubernetes provider's render mode wrote under `renderDir` (0-crd/, 1-manifest/). */
export function readRendered(renderDir: string): RenderedStack {
    const files = fs
        .readdirSync(renderDir, { recursive: true, withFileTypes: true })
        .filter((entry) => entry.isFile() && entry.name.endsWith(".yaml"))
        .map((entry) => path.join(entry.parentPath, entry.name))
        .sort();
    const objects: { text: string; object: KubeObject }[] = [];
    for (const file of files) {
        for (const document of parseAllDocuments(fs.readFileSync(file, "utf8"))) {
            const object = document.toJS() as KubeObject | null;
            if (object?.kind) {
                objects.push({ text: document.toString(), object });
            }
        }
    }
    if (objects.length === 0) {
        throw new Error(`${renderDir} holds no rendered objects: did the render-mode up succeed?`);
    }
    const ofKind = (kind: string) => objects.filter(({ object }) => object.kind === kind).map(({ object }) => object);
    const qualified = (object: KubeObject) => `${object.metadata?.namespace ?? "default"}/${object.metadata?.name}`;
    const ordered = [
        ...objects.filter(({ object }) => object.kind === "Namespace"),
        ...objects.filter(({ object }) => object.kind !== "Namespace"),
    ];
    return {
        yaml: ordered.map(({ text }) => `---\n${text}`).join(""),
        namespaces: ofKind("Namespace").map((object) => String(object.metadata?.name)),
        deployments: ofKind("Deployment").map(qualified),
        services: ofKind("Service")
            .filter((object) => Object.keys(object.spec?.selector ?? {}).length > 0)
            .map(qualified),
    };
}

/** What `kubectl get endpointslices -o json` returns, the fields read here. */
export interface EndpointSliceList {
    readonly items: readonly EndpointSlice[];
}

interface EndpointSlice {
    readonly metadata: { readonly labels?: Record<string, string> };
    readonly endpoints?: readonly { readonly conditions?: { readonly ready?: boolean } }[] | null;
}

/**
 * The Services (names, in one namespace) that have no ready endpoint yet, from the namespace's
 * EndpointSlices (`kubectl get endpointslices -o json`).
 */
export function servicesWithoutReadyEndpoints(services: readonly string[], slices: EndpointSliceList): string[] {
    return services.filter(
        (service) =>
            !slices.items.some(
                (slice) =>
                    slice.metadata.labels?.["kubernetes.io/service-name"] === service &&
                    (slice.endpoints ?? []).some((endpoint) => endpoint.conditions?.ready === true),
            ),
    );
}
