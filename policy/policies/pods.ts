import { ReportViolation, ResourceValidation, ResourceValidationPolicy } from "@pulumi/policy";
import { allContainers, Container, PodSpec, workloadOf } from "../lib/k8s";
import { isDeepStrictEqual } from "util";

/** A resource check that looks at each container of a pod-running resource on its own. */
function eachContainer(check: (where: string, container: Container, reportViolation: ReportViolation) => void): ResourceValidation {
    return (args, reportViolation) => {
        const workload = workloadOf(args.type, args.props);
        for (const { where, container } of workload ? allContainers(workload.podSpec) : []) {
            check(where, container, reportViolation);
        }
    };
}

export const containerResources: ResourceValidationPolicy = {
    name: "container-resources",
    description: "Every container sets CPU and memory requests and limits.",
    enforcementLevel: "mandatory",
    validateResource: eachContainer((where, container, reportViolation) => {
        const missing: string[] = [];
        for (const kind of ["requests", "limits"] as const) {
            for (const resource of ["cpu", "memory"]) {
                const value = container.resources?.[kind]?.[resource];
                if (value === undefined || value === null || value === "") {
                    missing.push(`resources.${kind}.${resource}`);
                }
            }
        }
        if (missing.length > 0) {
            reportViolation(`${where} is missing ${missing.join(", ")}: set them (for example cpu "100m", memory "128Mi").`);
        }
    }),
};

// Volume types the Pod Security `restricted` profile allows.
const restrictedVolumeTypes = new Set([
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
]);

const allowedSeccomp = new Set(["RuntimeDefault", "Localhost"]);
const allowedSeLinuxTypes = new Set(["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"]);
const safeSysctls = new Set([
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
]);

/** The Pod Security `restricted` profile (v1.30+) plus read-only root filesystems and no service-account token. */
export function podSecurityViolations(spec: PodSpec): string[] {
    const out: string[] = [];
    const pod = spec.securityContext ?? {};
    if (spec.hostNetwork || spec.hostPID || spec.hostIPC) {
        out.push("pod shares host namespaces: remove hostNetwork, hostPID and hostIPC.");
    }
    if (spec.automountServiceAccountToken !== false) {
        out.push("pod mounts a service-account token: set spec.automountServiceAccountToken to false.");
    }
    for (const volume of spec.volumes ?? []) {
        const kinds = Object.keys(volume).filter((k) => k !== "name");
        const forbidden = kinds.filter((k) => !restrictedVolumeTypes.has(k));
        if (forbidden.length > 0) {
            out.push(
                `volume ${String(volume.name)} is of type ${forbidden.join(", ")}: use emptyDir, configMap, secret, ` +
                    "projected, downwardAPI, csi, ephemeral or persistentVolumeClaim.",
            );
        }
    }
    for (const sysctl of pod.sysctls ?? []) {
        if (!safeSysctls.has(sysctl.name ?? "")) {
            out.push(`sysctl ${sysctl.name} is not in the safe set: remove it from securityContext.sysctls.`);
        }
    }
    if (pod.runAsUser === 0) {
        out.push("pod securityContext.runAsUser is 0: run as a numeric non-root uid (for example 10001).");
    }
    if (pod.seLinuxOptions && !allowedSeLinuxTypes.has(pod.seLinuxOptions.type ?? "")) {
        out.push("pod seLinuxOptions.type is not allowed: remove it or use container_t.");
    }
    if (pod.seLinuxOptions?.user || pod.seLinuxOptions?.role) {
        out.push("pod seLinuxOptions sets user or role: remove them.");
    }
    if (pod.windowsOptions?.hostProcess) {
        out.push("pod is a Windows host process: remove windowsOptions.hostProcess.");
    }
    if (pod.appArmorProfile && pod.appArmorProfile.type === "Unconfined") {
        out.push("pod appArmorProfile is Unconfined: use RuntimeDefault.");
    }
    for (const { where, container } of allContainers(spec)) {
        out.push(...containerSecurityViolations(where, container, pod));
    }
    return out;
}

function containerSecurityViolations(where: string, container: Container, pod: PodSpec["securityContext"] & object): string[] {
    const out: string[] = [];
    const sc = container.securityContext ?? {};
    if (sc.privileged) {
        out.push(`${where} is privileged: set securityContext.privileged to false.`);
    }
    if (sc.allowPrivilegeEscalation !== false) {
        out.push(`${where} may escalate privileges: set securityContext.allowPrivilegeEscalation to false.`);
    }
    const runAsNonRoot = sc.runAsNonRoot ?? pod.runAsNonRoot;
    if (runAsNonRoot !== true) {
        out.push(`${where} may run as root: set securityContext.runAsNonRoot to true (pod or container).`);
    }
    if (sc.runAsUser === 0 || (sc.runAsUser === undefined && pod.runAsUser === undefined)) {
        out.push(
            `${where} has ${sc.runAsUser === 0 ? "runAsUser 0" : "no numeric runAsUser"}: set securityContext.runAsUser ` +
                "to a non-zero uid so the kubelet can verify runAsNonRoot.",
        );
    }
    const seccomp = sc.seccompProfile?.type ?? pod.seccompProfile?.type;
    if (!seccomp || !allowedSeccomp.has(seccomp)) {
        out.push(`${where} has seccomp profile ${seccomp ?? "unset"}: set securityContext.seccompProfile.type to RuntimeDefault.`);
    }
    const drop = sc.capabilities?.drop ?? [];
    if (!drop.includes("ALL")) {
        out.push(`${where} keeps Linux capabilities: set securityContext.capabilities.drop to ["ALL"].`);
    }
    const added = (sc.capabilities?.add ?? []).filter((c) => c !== "NET_BIND_SERVICE");
    if (added.length > 0) {
        out.push(`${where} adds capabilities ${added.join(", ")}: only NET_BIND_SERVICE may be added.`);
    }
    if (sc.procMount && sc.procMount !== "Default") {
        out.push(`${where} sets procMount ${sc.procMount}: remove it.`);
    }
    if (sc.seLinuxOptions && !allowedSeLinuxTypes.has(sc.seLinuxOptions.type ?? "")) {
        out.push(`${where} seLinuxOptions.type is not allowed: remove it or use container_t.`);
    }
    if (sc.windowsOptions?.hostProcess) {
        out.push(`${where} is a Windows host process: remove windowsOptions.hostProcess.`);
    }
    if (sc.appArmorProfile?.type === "Unconfined") {
        out.push(`${where} appArmorProfile is Unconfined: use RuntimeDefault.`);
    }
    for (const port of container.ports ?? []) {
        if (port.hostPort) {
            out.push(`${where} uses hostPort ${port.hostPort}: remove it and expose the port through a Service.`);
        }
    }
    if (sc.readOnlyRootFilesystem !== true) {
        out.push(
            `${where} has a writable root filesystem: set securityContext.readOnlyRootFilesystem to true ` +
                "and mount an emptyDir where the process must write.",
        );
    }
    return out;
}

export const podSecurityRestricted: ResourceValidationPolicy = {
    name: "pod-security-restricted",
    description: "Every pod template passes Pod Security `restricted`, with a read-only root filesystem and no service-account token.",
    enforcementLevel: "mandatory",
    validateResource: (args, reportViolation) => {
        const workload = workloadOf(args.type, args.props);
        if (!workload) {
            return;
        }
        for (const message of podSecurityViolations(workload.podSpec)) {
            reportViolation(message);
        }
    },
};

const probedKinds = new Set(["Deployment", "StatefulSet"]);

export const workloadProbes: ResourceValidationPolicy = {
    name: "workload-probes",
    description: "Every container of a Deployment or StatefulSet has readiness and liveness probes, and they differ.",
    enforcementLevel: "mandatory",
    validateResource: (args, reportViolation) => {
        const workload = workloadOf(args.type, args.props);
        if (!workload || !probedKinds.has(workload.kind)) {
            return;
        }
        for (const container of workload.podSpec.containers ?? []) {
            const where = `containers[${container.name ?? "?"}]`;
            if (!container.readinessProbe || !container.livenessProbe) {
                const missing = [!container.readinessProbe && "readinessProbe", !container.livenessProbe && "livenessProbe"];
                reportViolation(`${where} has no ${missing.filter(Boolean).join(" or ")}: add both probes.`);
            } else if (isDeepStrictEqual(container.readinessProbe, container.livenessProbe)) {
                reportViolation(
                    `${where} has identical readiness and liveness probes: a failing dependency would restart the pod; ` +
                        "point liveness at a process-only check (for example /livez) and readiness at /readyz.",
                );
            }
        }
    },
};

// Names whose literal value is a secret, and connection strings that carry credentials.
const secretName = /(PASSW(OR)?D|PWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|DATABASE_URL|DB_URL|DSN|CONNECTION_?STRING)$/i;
const connectionUrl = /^[a-z][a-z0-9+.-]*:\/\/[^/\s]*@/i;
const databaseUrl = /^(postgres(ql)?|mysql|mariadb|mongodb(\+srv)?|redis|rediss|amqps?):\/\//i;

export const noSecretLiterals: ResourceValidationPolicy = {
    name: "no-secret-literals",
    description: "No password, token or connection URL as a literal env value.",
    enforcementLevel: "mandatory",
    validateResource: eachContainer((where, container, reportViolation) => {
        for (const env of container.env ?? []) {
            const value = env.value;
            if (value === undefined || value === "") {
                continue;
            }
            const name = env.name ?? "";
            if (secretName.test(name) || connectionUrl.test(value) || databaseUrl.test(value)) {
                reportViolation(
                    `${where} env ${name} holds a literal secret or connection URL: read it from a Secret ` +
                        "(valueFrom.secretKeyRef) or mount the Secret and pass its path (for example DATABASE_URL_FILE).",
                );
            }
        }
    }),
};
