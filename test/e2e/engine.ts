import * as automation from "@pulumi/pulumi/automation";
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";

/**
 * Drives the real Pulumi engine (CLI, language host, provider plugins) through the Automation
 * API on a scratch copy of the project, so the committed Pulumi.<stack>.yaml files are used as
 * they are and never modified. Each copy has its own file backend and passphrase; PULUMI_HOME
 * (where the toolchain registered the plugins) is shared.
 */

export const projectRoot = path.resolve(__dirname, "..", "..");

/**
 * Top-level entries of the project that are not the Pulumi program: the other packages, tests, docs and
 * tooling. Everything else is copied, so a new folder of the program is in the copy without a change
 * here; test/scripts/program-copy.test.ts fails if something the program imports is listed.
 */
export const notProgram: ReadonlySet<string> = new Set([
    ".ci",
    ".env.example",
    ".gitignore",
    ".mocharc.json",
    ".prettierignore",
    ".prettierrc.json",
    "README.md",
    "app",
    "checks",
    "docker-compose.yml",
    "docs",
    "eslint.config.mjs",
    "package-lock.json",
    "policy",
    "scripts",
    "test",
    "tools",
]);

/** The top-level files and folders of the program under `root`: tracked or new (not ignored), minus notProgram. */
export function programEntries(root = projectRoot): string[] {
    const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], { cwd: root, encoding: "utf8" });
    const entries = new Set(files.split("\0").map((file) => file.split("/")[0]));
    return [...entries].filter((entry) => entry !== "" && !notProgram.has(entry) && fs.existsSync(path.join(root, entry))).sort();
}

/**
 * Config values as `pulumi config set-all --json` takes them; keys without a namespace belong to the
 * project. A key that Pulumi.yaml declares as an object or array goes in as that structure, since
 * the engine refuses text for it; its text here is the JSON the engine hands the program. Text that
 * is no JSON goes in as text, for the engine's type check to refuse.
 */
export function configJson(programDir: string, values: Record<string, string>): string {
    const project = parse(fs.readFileSync(path.join(programDir, "Pulumi.yaml"), "utf8")) as {
        name: string;
        config?: Record<string, { type?: string }>;
    };
    const entries = Object.entries(values).map(([key, value]) => {
        const name = key.includes(":") ? key : `${project.name}:${key}`;
        const type = name.startsWith(`${project.name}:`) ? project.config?.[name.slice(project.name.length + 1)]?.type : undefined;
        const structure = type === "object" || type === "array" ? jsonOrUndefined(value) : undefined;
        return [name, structure === undefined ? { value, secret: false } : { value, objectValue: structure, secret: false }];
    });
    return JSON.stringify(Object.fromEntries(entries));
}

function jsonOrUndefined(text: string): unknown {
    try {
        return JSON.parse(text) as unknown;
    } catch {
        return undefined;
    }
}

export interface StepRecord {
    readonly op: string;
    readonly type: string;
    /** Logical name: the last segment of the URN. */
    readonly name: string;
    /** Property paths that change, e.g. `spec.replicas` (from the engine's detailed diff). */
    readonly changedPaths: readonly string[];
}

export interface EngineRun {
    readonly steps: StepRecord[];
    /** Everything the engine printed. */
    readonly output: string;
}

/**
 * A stack file without the checkout's secrets settings. A `pulumi up --stack dev` in the checkout writes
 * its passphrase's salt into Pulumi.dev.yaml; a copy has a passphrase of its own, and the engine would
 * refuse every stack made from that file ("incorrect passphrase").
 */
export function withoutSecretsSettings(stackFile: string): string {
    return stackFile.replace(/^(encryptionsalt|encryptedkey|secretsprovider):.*\n?/gm, "");
}

export class ProjectCopy {
    readonly dir: string;
    readonly stateDir: string;
    /** What the CLI needs to work on this copy's stacks: its backend and passphrase. */
    readonly envVars: Record<string, string>;

    constructor(label: string) {
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `api-stack-e2e-${label}-`));
        this.stateDir = path.join(this.dir, ".state");
        const program = path.join(this.dir, "program");
        fs.mkdirSync(program);
        fs.mkdirSync(this.stateDir);
        for (const entry of programEntries()) {
            fs.cpSync(path.join(projectRoot, entry), path.join(program, entry), { recursive: true });
        }
        fs.symlinkSync(path.join(projectRoot, "node_modules"), path.join(program, "node_modules"), "dir");
        for (const file of fs.readdirSync(program).filter((name) => /^Pulumi\.[^.]+\.yaml$/.test(name))) {
            fs.writeFileSync(path.join(program, file), withoutSecretsSettings(fs.readFileSync(path.join(program, file), "utf8")));
        }
        this.envVars = {
            PULUMI_BACKEND_URL: `file://${this.stateDir}`,
            PULUMI_CONFIG_PASSPHRASE: crypto.randomBytes(24).toString("base64"),
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        };
    }

    get programDir(): string {
        return path.join(this.dir, "program");
    }

    /**
     * Opens stack `name` with the committed config of `configOf` (dev or prod) plus `overrides`
     * (keys without a namespace belong to the project).
     */
    async stack(name: string, configOf: "dev" | "prod", overrides: Record<string, string>): Promise<automation.Stack> {
        if (name !== configOf) {
            fs.copyFileSync(path.join(this.programDir, `Pulumi.${configOf}.yaml`), path.join(this.programDir, `Pulumi.${name}.yaml`));
        }
        const pulumiHome = process.env.PULUMI_HOME;
        if (!pulumiHome) {
            throw new Error("PULUMI_HOME is not set: run the end-to-end tests through `npm run test:e2e` (it sources scripts/env.sh)");
        }
        const workspace = await automation.LocalWorkspace.create({
            workDir: this.programDir,
            pulumiHome,
            envVars: this.envVars,
        });
        const stack = await automation.Stack.createOrSelect(name, workspace);
        await this.setConfig(stack, overrides);
        return stack;
    }

    async setConfig(stack: automation.Stack, values: Record<string, string>): Promise<void> {
        await stack.setAllConfigJson(configJson(this.programDir, values));
    }

    /** Replaces `from` with `to` in a file of the copy: a deliberately changed program. */
    patch(file: string, from: string, to: string): void {
        const target = path.join(this.programDir, file);
        const text = fs.readFileSync(target, "utf8");
        if (!text.includes(from)) {
            throw new Error(`${file} no longer contains the text this test changes: ${from}`);
        }
        fs.writeFileSync(target, text.replace(from, to));
    }

    /** All the text of every file of the state backend, to search for leaked secrets. */
    stateText(): string {
        return readTree(this.stateDir);
    }

    remove(): void {
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}

function readTree(dir: string): string {
    return fs
        .readdirSync(dir, { withFileTypes: true, recursive: true })
        .filter((entry) => entry.isFile())
        .map((entry) => fs.readFileSync(path.join(entry.parentPath, entry.name), "utf8"))
        .join("\n");
}

/** Collects steps and text of one engine operation. */
function recorder(): {
    steps: StepRecord[];
    chunks: string[];
    options: { onOutput: (s: string) => void; onEvent: (e: automation.EngineEvent) => void };
} {
    const steps: StepRecord[] = [];
    const chunks: string[] = [];
    return {
        steps,
        chunks,
        options: {
            onOutput: (text) => chunks.push(text),
            onEvent: (event) => {
                const metadata = event.resourcePreEvent?.metadata;
                if (metadata && metadata.type !== "pulumi:pulumi:Stack") {
                    steps.push({
                        op: metadata.op,
                        type: metadata.type,
                        name: metadata.urn.split("::").pop() ?? "",
                        changedPaths: Object.keys(metadata.detailedDiff ?? {}).sort(),
                    });
                }
            },
        },
    };
}

export async function preview(stack: automation.Stack, extra: automation.PreviewOptions = {}): Promise<EngineRun> {
    const record = recorder();
    await stack.preview({ ...record.options, ...extra, diff: true });
    return { steps: record.steps, output: record.chunks.join("") };
}

export async function up(stack: automation.Stack): Promise<EngineRun & { outputs: automation.OutputMap }> {
    const record = recorder();
    const result = await stack.up({ ...record.options });
    return { steps: record.steps, output: record.chunks.join(""), outputs: result.outputs };
}

export async function destroy(stack: automation.Stack): Promise<EngineRun> {
    const record = recorder();
    await stack.destroy({ ...record.options });
    return { steps: record.steps, output: record.chunks.join("") };
}

/** Steps of `run` by operation, e.g. `{ create: ["kubernetes:apps/v1:Deployment", ...] }`. */
export function byOp(run: EngineRun): Record<string, string[]> {
    const ops: Record<string, string[]> = {};
    for (const step of run.steps) {
        (ops[step.op] ??= []).push(step.type);
    }
    for (const types of Object.values(ops)) {
        types.sort();
    }
    return ops;
}

/** Resource types that a full stack creates, by count. */
export function countTypes(types: readonly string[]): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const type of types) {
        counts[type] = (counts[type] ?? 0) + 1;
    }
    return counts;
}

/** Runs `fn` and returns the error it throws; fails if it does not throw. */
export async function failure(fn: () => Promise<unknown>): Promise<string> {
    try {
        await fn();
    } catch (error) {
        return error instanceof Error ? error.message : String(error);
    }
    throw new Error("expected the operation to fail, but it succeeded");
}
