import { execFileSync } from "child_process";
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

/** Starts the local cluster if it is not up; returns whether this call started it. */
export function ensureLocalCluster(): boolean {
    const script = path.join(projectRoot, "scripts", "cluster.sh");
    try {
        execFileSync("bash", [script, "status"], { stdio: "ignore" });
        return false;
    } catch {
        execFileSync("bash", [script, "up"], { stdio: "inherit" });
        return true;
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
