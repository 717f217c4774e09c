import type { serviceTypes } from "./api";

/** The provider's documented opt-out of its await logic for one object. */
export const skipAwaitAnnotation = { "pulumi.com/skipAwait": "true" } as const;

/**
 * The annotations that decide whether the Kubernetes provider awaits a Service, or undefined when
 * it should.
 *
 * Why ClusterIP and NodePort Services are not awaited: for them the provider (v4.25,
 * pkg/await/service.go) counts the Service ready at once, then restarts a fixed 10 s "settle" timer
 * on every event of its Endpoints and succeeds when the timer fires with no not-ready address. It
 * never asks for a ready address, so a selector that matches nothing passes after the same 10 s.
 * What it can see is weaker than what the Deployment await behind each Service already proves
 * (every replica of the new revision available, that is passing its readiness probe), and the
 * selector matching those pods is proven by the unit tests ("selectors match their pods"). The
 * await added 10 s to every create and proved nothing more, so only the Deployments are awaited.
 *
 * A LoadBalancer Service is awaited for its address, which nothing else proves, unless the cluster
 * cannot assign one (`awaitAddress` false: the local simulated cluster).
 */
export function serviceAwaitAnnotations(
    type: (typeof serviceTypes)[number],
    awaitAddress: boolean,
): typeof skipAwaitAnnotation | undefined {
    return type === "LoadBalancer" && awaitAddress ? undefined : skipAwaitAnnotation;
}
