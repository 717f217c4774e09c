import * as assert from "assert";

/**
 * How the one container of a rendered pod spec runs, read from the spec itself: user, read-only root,
 * capabilities, environment, volumes, ports, probes, hooks and grace period. The contract tier starts
 * the compiled app from it and the container tier turns it into `docker run` flags, so neither retypes
 * what the program renders; a change in the program changes both runs.
 */
export interface ContainerRun {
    readonly uid: number;
    readonly gid: number;
    /** Supplementary group the pod gives its volumes (fsGroup). */
    readonly fsGroup?: number;
    readonly readOnlyRoot: boolean;
    readonly dropCapabilities: string[];
    readonly noNewPrivileges: boolean;
    /** Plain environment values; a variable from a Secret or field would make this throw. */
    readonly env: Record<string, string>;
    /** emptyDir mounts with their size limit in Docker's notation (`64m`). */
    readonly scratch: { mountPath: string; size?: string }[];
    /** Secret mounts: where, which keys as which file names, and the file mode. */
    readonly secrets: { mountPath: string; items: { key: string; path: string }[]; mode: number }[];
    /** Persistent volume mounts (claims). */
    readonly persistent: { mountPath: string; volume: string }[];
    /** Container ports by name. */
    readonly ports: Record<string, number>;
    readonly command?: string[];
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    readonly startupProbe?: any;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    readonly readinessProbe?: any;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    readonly livenessProbe?: any;
    /** The preStop hook: a command run in the container, or a pause the kubelet takes itself (sleep action). */
    readonly preStop?: { readonly exec: string[] } | { readonly sleepSeconds: number };
    readonly terminationGracePeriodSeconds: number;
}

/** Kubernetes quantity to Docker's tmpfs size notation: 64Mi -> 64m, 1Gi -> 1g. */
function dockerSize(quantity: string): string {
    const match = /^(\d+)(Mi|Gi)$/.exec(quantity);
    assert.ok(match, `sizeLimit "${quantity}" is not in Mi or Gi`);
    return `${match[1]}${match[2] === "Mi" ? "m" : "g"}`;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function preStopOf(hook: any): ContainerRun["preStop"] {
    if (hook === undefined) return undefined;
    if (hook.exec) return { exec: hook.exec.command };
    assert.ok(hook.sleep, `preStop ${JSON.stringify(hook)}: only exec and sleep are supported here`);
    return { sleepSeconds: hook.sleep.seconds };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function containerRun(pod: any): ContainerRun {
    assert.strictEqual(pod.containers.length, 1, "one container per pod");
    const container = pod.containers[0];
    const context = { ...pod.securityContext, ...container.securityContext };
    const env: Record<string, string> = {};
    for (const variable of container.env ?? []) {
        assert.ok(variable.value !== undefined, `${variable.name} is a plain value in the spec`);
        env[variable.name] = variable.value;
    }
    const scratch: ContainerRun["scratch"] = [];
    const secrets: ContainerRun["secrets"] = [];
    const persistent: ContainerRun["persistent"] = [];
    for (const mount of container.volumeMounts ?? []) {
        const volume = pod.volumes.find((candidate: { name: string }) => candidate.name === mount.name);
        assert.ok(volume, `volume ${mount.name} of mount ${mount.mountPath}`);
        if (volume.emptyDir) {
            scratch.push({ mountPath: mount.mountPath, size: volume.emptyDir.sizeLimit && dockerSize(volume.emptyDir.sizeLimit) });
        } else if (volume.secret) {
            secrets.push({ mountPath: mount.mountPath, items: volume.secret.items, mode: volume.secret.defaultMode ?? 0o644 });
        } else if (volume.persistentVolumeClaim) {
            persistent.push({ mountPath: mount.mountPath, volume: mount.name });
        } else {
            assert.fail(`volume ${mount.name}: only emptyDir, secret and persistentVolumeClaim are supported here`);
        }
    }
    return {
        uid: context.runAsUser,
        gid: context.runAsGroup ?? context.runAsUser,
        fsGroup: context.fsGroup,
        readOnlyRoot: context.readOnlyRootFilesystem === true,
        dropCapabilities: context.capabilities?.drop ?? [],
        noNewPrivileges: context.allowPrivilegeEscalation === false,
        env,
        scratch,
        secrets,
        persistent,
        ports: Object.fromEntries(
            (container.ports ?? []).map((port: { name: string; containerPort: number }) => [port.name, port.containerPort]),
        ),
        command: container.command,
        startupProbe: container.startupProbe,
        readinessProbe: container.readinessProbe,
        livenessProbe: container.livenessProbe,
        preStop: preStopOf(container.lifecycle?.preStop),
        terminationGracePeriodSeconds: pod.terminationGracePeriodSeconds ?? 30,
    };
}

/** The container port a probe targets (by name or number). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function probePort(run: ContainerRun, probe: any): number {
    const port = probe.httpGet.port;
    return typeof port === "number" ? port : run.ports[port];
}

/**
 * `docker run` flags for the run. `secretDirs` maps each secret mount path to a host folder holding its
 * files; `volumes` maps each claim's volume name to a Docker volume.
 */
export function dockerRunFlags(run: ContainerRun, secretDirs: Record<string, string>, volumes: Record<string, string>): string[] {
    const flags = ["--user", `${run.uid}:${run.gid}`];
    if (run.fsGroup !== undefined) flags.push("--group-add", String(run.fsGroup));
    if (run.readOnlyRoot) flags.push("--read-only");
    for (const capability of run.dropCapabilities) flags.push("--cap-drop", capability);
    if (run.noNewPrivileges) flags.push("--security-opt", "no-new-privileges");
    for (const [name, value] of Object.entries(run.env)) flags.push("--env", `${name}=${value}`);
    for (const dir of run.scratch) flags.push("--tmpfs", `${dir.mountPath}:rw,exec,mode=1777${dir.size ? `,size=${dir.size}` : ""}`);
    for (const secret of run.secrets) {
        assert.ok(secretDirs[secret.mountPath], `a host folder for the secret mounted at ${secret.mountPath}`);
        flags.push("--volume", `${secretDirs[secret.mountPath]}:${secret.mountPath}:ro`);
    }
    for (const claim of run.persistent) {
        assert.ok(volumes[claim.volume], `a Docker volume for the claim ${claim.volume}`);
        flags.push("--volume", `${volumes[claim.volume]}:${claim.mountPath}`);
    }
    flags.push("--stop-timeout", String(run.terminationGracePeriodSeconds));
    assert.strictEqual(run.command, undefined, "the pod runs the image's own entrypoint and command");
    return flags;
}
