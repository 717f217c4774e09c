import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { projectRoot } from "./engine";

/** kubectl against the local cluster that scripts/cluster.sh runs. */

export function localKubeconfig(): string {
    const kubeconfig = process.env.API_STACK_KUBECONFIG;
    if (!kubeconfig) {
        throw new Error("API_STACK_KUBECONFIG is not set: run the end-to-end tests through `npm run test:e2e` (it sources scripts/env.sh)");
    }
    return kubeconfig;
}

export function kubectl(...args: string[]): string {
    return execFileSync("kubectl", ["--kubeconfig", localKubeconfig(), ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function kubectlJson(...args: string[]): any {
    return JSON.parse(kubectl(...args, "-o", "json"));
}

/** Whether an object exists (kubectl get succeeds). */
export function exists(...args: string[]): boolean {
    try {
        kubectl("get", ...args);
        return true;
    } catch {
        return false;
    }
}

/**
 * Starts the local cluster if it is not up, or brings a running one up to date (`up` is idempotent and
 * makes the volumes that earlier stacks released Available again); returns whether this call started it.
 */
export function ensureLocalCluster(): boolean {
    const script = path.join(projectRoot, "scripts", "cluster.sh");
    let running = true;
    try {
        execFileSync("bash", [script, "status"], { stdio: "ignore" });
    } catch {
        running = false;
    }
    execFileSync("bash", [script, "up"], { stdio: "inherit" });
    return !running;
}

/** Image references on the real node: the API image, a second tag of it for rollouts, and PostgreSQL's. */
export interface NodeImages {
    readonly api: string;
    readonly apiNext: string;
    readonly postgres: string;
}

/** Whether {@link loadImagesIntoNode} started a Docker engine, which {@link stopDockerIfStarted} stops. */
let startedDocker = false;

/** Builds the images (scripts/cluster-images.sh) and loads them, and a second tag of the API image, into the node. */
export function loadImagesIntoNode(): NodeImages {
    startedDocker = spawnSync("bash", [path.join(projectRoot, "scripts", "docker.sh"), "status"], { stdio: "ignore" }).status !== 0;
    const printed = execFileSync("bash", [path.join(projectRoot, "scripts", "cluster-images.sh")], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
    });
    const value = (name: string) => {
        const match = new RegExp(`^${name}=(.+)$`, "m").exec(printed);
        if (!match) {
            throw new Error(`scripts/cluster-images.sh printed no ${name}: ${printed}`);
        }
        return match[1];
    };
    const api = value("API_IMAGE");
    const apiNext = `${api.slice(0, api.lastIndexOf(":"))}:e2e-rollout-2`;
    execFileSync("docker", ["tag", api, apiNext], { env: dockerEnv() });
    execFileSync("bash", [path.join(projectRoot, "scripts", "cluster.sh"), "load-images", apiNext], { stdio: "inherit" });
    return { api, apiNext, postgres: value("POSTGRES_IMAGE") };
}

/** The environment of `docker` commands: the engine may have been started after this process read scripts/env.sh. */
export function dockerEnv(): NodeJS.ProcessEnv {
    const socket = path.join(process.env.API_STACK_DOCKER_DIR ?? "", "docker.sock");
    return fs.existsSync(socket) ? { ...process.env, DOCKER_HOST: `unix://${socket}` } : process.env;
}

/** Stops the Docker engine that {@link loadImagesIntoNode} started (its bridge and rules go with it), if it did. */
export function stopDockerIfStarted(): void {
    if (startedDocker) {
        execFileSync("bash", [path.join(projectRoot, "scripts", "docker.sh"), "down"], { stdio: "inherit" });
        startedDocker = false;
    }
}

export function stopLocalCluster(): void {
    execFileSync("bash", [path.join(projectRoot, "scripts", "cluster.sh"), "down"], { stdio: "inherit" });
}

/** Polls `check` until it returns true or `timeoutMs` passes; throws with `what` on timeout. */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
        if (Date.now() > deadline) {
            throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
    }
}

/**
 * A second checkout of the project's scripts and tool definitions (tracked and new files, as git lists
 * them) in a temporary folder: another user's clone on the same machine. The caller removes it.
 */
export function secondCheckout(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "api-stack-second-checkout-"));
    const files = execFileSync(
        "git",
        ["ls-files", "--cached", "--others", "--exclude-standard", "-z", "scripts", "tools", "package.json"],
        {
            cwd: projectRoot,
            encoding: "utf8",
        },
    );
    for (const file of files.split("\0").filter(Boolean)) {
        fs.mkdirSync(path.join(dir, path.dirname(file)), { recursive: true });
        fs.copyFileSync(path.join(projectRoot, file), path.join(dir, file));
    }
    return dir;
}
