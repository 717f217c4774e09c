import { spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { projectRoot } from "./engine";

/**
 * A throwaway Pulumi project for the language host's end-to-end tests: its own folder under the
 * OS temp dir, its own file backend and passphrase, the clone's node_modules linked in, and the
 * `pulumi` CLI run as a user runs it (so Ctrl-C can be sent to it).
 */
export class ScratchProject {
    readonly dir: string;
    readonly programDir: string;
    readonly stateDir: string;
    readonly env: Record<string, string>;

    constructor(label: string, files: Record<string, string>, options: { linkNodeModules?: boolean } = {}) {
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `api-stack-langhost-${label}-`));
        this.programDir = path.join(this.dir, "program");
        this.stateDir = path.join(this.dir, "state");
        fs.mkdirSync(this.stateDir);
        fs.mkdirSync(this.programDir);
        if (options.linkNodeModules ?? true) {
            fs.symlinkSync(path.join(projectRoot, "node_modules"), path.join(this.programDir, "node_modules"), "dir");
        }
        this.write(files);
        const pulumiHome = process.env.PULUMI_HOME;
        if (!pulumiHome) {
            throw new Error(
                "PULUMI_HOME is not set: run the end-to-end tests through `npm run test:e2e:langhost` (it sources scripts/env.sh)",
            );
        }
        this.env = {
            ...(process.env as Record<string, string>),
            PULUMI_HOME: pulumiHome,
            PULUMI_BACKEND_URL: `file://${this.stateDir}`,
            PULUMI_CONFIG_PASSPHRASE: crypto.randomBytes(24).toString("base64"),
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
            MARKER_DIR: this.dir,
        };
        delete this.env.PULUMI_CONFIG_PASSPHRASE_FILE;
    }

    /** Writes files relative to the project folder (`program/...` for the program itself). */
    write(files: Record<string, string>): void {
        for (const [name, text] of Object.entries(files)) {
            const target = path.join(this.dir, name);
            fs.mkdirSync(path.dirname(target), { recursive: true });
            fs.writeFileSync(target, text);
        }
    }

    /**
     * Runs `pulumi args...` in the program folder. With `interruptAfter`, sends SIGINT (Ctrl-C)
     * `interrupts` times, 0.5 s apart, once that file exists in the project folder.
     */
    run(args: string[], options: { interruptAfter?: string; interrupts?: number; extraPath?: string } = {}): Promise<CliRun> {
        const env = { ...this.env };
        if (options.extraPath) {
            env.PATH = `${env.PATH}:${options.extraPath}`;
        }
        return new Promise((resolve, reject) => {
            const child = spawn("pulumi", [...args, "--non-interactive"], { cwd: this.programDir, env });
            const chunks: string[] = [];
            child.stdout.on("data", (d: Buffer) => chunks.push(d.toString()));
            child.stderr.on("data", (d: Buffer) => chunks.push(d.toString()));
            let poll: NodeJS.Timeout | undefined;
            if (options.interruptAfter) {
                const marker = path.join(this.dir, options.interruptAfter);
                poll = setInterval(() => {
                    if (fs.existsSync(marker)) {
                        clearInterval(poll);
                        for (let i = 0; i < (options.interrupts ?? 1); i++) {
                            setTimeout(() => child.kill("SIGINT"), 500 * i);
                        }
                    }
                }, 100);
            }
            child.on("error", reject);
            child.on("close", (code) => {
                clearInterval(poll);
                resolve({ code: code ?? -1, output: chunks.join("") });
            });
        });
    }

    async init(stack = "test"): Promise<void> {
        const result = await this.run(["stack", "init", stack]);
        if (result.code !== 0) {
            throw new Error(`pulumi stack init failed: ${result.output}`);
        }
    }

    exists(name: string): boolean {
        return fs.existsSync(path.join(this.dir, name));
    }

    /** The stack's checkpoint file as text ("" before the first update). */
    checkpoint(stack = "test"): string {
        const file = path.join(this.stateDir, ".pulumi", "stacks", readProjectName(this.programDir), `${stack}.json`);
        return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
    }

    remove(): void {
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}

export interface CliRun {
    readonly code: number;
    readonly output: string;
}

function readProjectName(programDir: string): string {
    const match = /^name:\s*(\S+)/m.exec(fs.readFileSync(path.join(programDir, "Pulumi.yaml"), "utf8"));
    if (!match) {
        throw new Error(`no project name in ${programDir}/Pulumi.yaml`);
    }
    return match[1];
}

/** Asserts a CLI run succeeded, showing its output when it did not. */
export function succeeded(run: CliRun): string {
    if (run.code !== 0) {
        throw new Error(`pulumi exited ${run.code}:\n${run.output}`);
    }
    return run.output;
}
