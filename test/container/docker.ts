import { execFileSync, spawnSync } from "child_process";

/** Helpers of the container tier: the engine is the one scripts/env.sh names (DOCKER_HOST). */

/** Runs the docker CLI and returns its trimmed stdout; throws with its stderr on failure. */
export function docker(...args: string[]): string {
    const run = spawnSync("docker", args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, env: { ...process.env, DOCKER_BUILDKIT: "0" } });
    if (run.status !== 0) {
        throw new Error(`docker ${args.join(" ")} failed (exit ${run.status}):\n${run.stderr}${run.stdout}`);
    }
    return run.stdout.trim();
}

/** Like {@link docker}, for commands whose failure is part of the test: exit status and output. */
export function dockerStatus(...args: string[]): { status: number; output: string } {
    const run = spawnSync("docker", args, { encoding: "utf8", env: { ...process.env, DOCKER_BUILDKIT: "0" } });
    return { status: run.status ?? -1, output: `${run.stdout}${run.stderr}` };
}

/** Removes containers, networks and volumes by name, ignoring the ones that do not exist. */
export function removeAll(containers: string[], networks: string[] = [], volumes: string[] = []): void {
    for (const [kind, names] of [
        ["container", containers],
        ["network", networks],
        ["volume", volumes],
    ] as const) {
        for (const name of names) {
            spawnSync("docker", kind === "container" ? ["rm", "-f", "-v", name] : [kind, "rm", name], { stdio: "ignore" });
        }
    }
}

/** The host port Docker published for a container port. */
export function publishedPort(container: string, port: number): number {
    const mapping = docker("port", container, `${port}/tcp`).split("\n")[0];
    return Number(mapping.slice(mapping.lastIndexOf(":") + 1));
}

/** Waits until `check` holds, polling; fails naming what did not happen. */
export async function until(what: string, seconds: number, check: () => boolean | Promise<boolean>): Promise<void> {
    const deadline = Date.now() + seconds * 1000;
    while (!(await check())) {
        if (Date.now() > deadline) {
            throw new Error(`${what} within ${seconds}s`);
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
    }
}

/** The image's size in MB (10^6 bytes, as `docker image ls` counts). */
export function imageSizeMb(ref: string): number {
    return Number(execFileSync("docker", ["image", "inspect", "--format", "{{.Size}}", ref], { encoding: "utf8" })) / 1e6;
}
