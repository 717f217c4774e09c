import * as k8s from "@pulumi/kubernetes";

/**
 * Security settings every pod of this project uses, so that each passes Pod Security
 * `restricted` plus a read-only root filesystem and no service-account token.
 */

/** Pod-level security context for a process running as `uid`, owning its volumes via `fsGroup`. */
export function restrictedPodSecurityContext(uid: number): k8s.types.input.core.v1.PodSecurityContext {
    return {
        runAsNonRoot: true,
        runAsUser: uid,
        runAsGroup: uid,
        fsGroup: uid,
        seccompProfile: { type: "RuntimeDefault" },
    };
}

/** Container-level security context: no privilege escalation, no capabilities, read-only root. */
export const restrictedContainerSecurityContext: k8s.types.input.core.v1.SecurityContext = {
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
};
