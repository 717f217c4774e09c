import { spawnSync } from "child_process";

/** Progress and diagnostics of bench:deploy, on stderr; the table goes to stdout. */
export function log(message: string): void {
    console.error(`bench:deploy: ${message}`);
}

/** Runs a command; throws with the end of its output when it fails. */
export function run(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
    const result = spawnSync(command, args, { ...options, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
    if (result.status !== 0) {
        throw new Error(
            `${command} ${args.join(" ")} failed (${result.error?.message ?? `exit ${result.status}`}):\n${output.slice(-3000)}`,
        );
    }
    return output;
}
