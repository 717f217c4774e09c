import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";

/**
 * Runs the real index.ts under Pulumi's mocks with a stack's real config (Pulumi.yaml defaults
 * overlaid with the committed Pulumi.<stack>.yaml and then any overrides), and records every
 * resource the program registers: type, name, inputs and the options that matter (protect,
 * retainOnDelete, dependsOn).
 */

export const projectRoot = path.resolve(__dirname, "..", "..");
const project = "api-stack";

export interface RecordedResource {
    readonly type: string;
    readonly name: string;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    readonly inputs: any;
    readonly protect: boolean;
    readonly retainOnDelete: boolean;
    /** Names (the last part of the URN) of the resources named in its dependsOn option. */
    readonly dependsOn: string[];
}

export interface ProgramRun {
    readonly resources: RecordedResource[];
    readonly outputs: Record<string, unknown>;
    /** Names of the stack outputs that are marked secret. */
    readonly secretOutputs: string[];
    /** The one resource of a type whose Kubernetes name is `metadataName` . */
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    one(type: string, metadataName?: string): any;
    /** Every resource of a type. */
    all(type: string): RecordedResource[];
}

export const mockPassword = "MockPasswordThatMustNeverLeak0123";
export const mockDigest = `sha256:${"d".repeat(64)}`;

/** Outputs the mocked providers return: inputs echoed, plus what the real provider computes. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function mockState(type: string, inputs: any): Record<string, unknown> {
    if (type === "random:index/randomPassword:RandomPassword") {
        return { ...inputs, result: mockPassword };
    }
    if (type === "docker:index/image:Image") {
        const repository = String(inputs.imageName).replace(/:[^/:]+$/, "");
        return { ...inputs, repoDigest: `${repository}@${mockDigest}` };
    }
    return inputs;
}

/** The stack's config as the engine would hand it to the program: every key as text. */
export function stackConfig(stack: string, overrides: Record<string, string> = {}): Record<string, string> {
    const projectFile = parse(fs.readFileSync(path.join(projectRoot, "Pulumi.yaml"), "utf8"));
    const config: Record<string, string> = {};
    for (const [key, declaration] of Object.entries<{ default?: unknown }>(projectFile.config)) {
        if (declaration.default !== undefined) {
            config[`${project}:${key}`] = configText(declaration.default);
        }
    }
    const stackFile = parse(fs.readFileSync(path.join(projectRoot, `Pulumi.${stack}.yaml`), "utf8"));
    for (const [key, value] of Object.entries<unknown>(stackFile.config ?? {})) {
        config[key] = configText(value);
    }
    for (const [key, value] of Object.entries(overrides)) {
        config[key.includes(":") ? key : `${project}:${key}`] = value;
    }
    return config;
}

/** A config value as the engine hands it over: maps and lists as JSON, everything else as its text. */
function configText(value: unknown): string {
    return typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);
}

/**
 * Runs the program for `stack` and resolves once every resource is registered.
 * @param deployedOutputs the outputs of the stack's last update, as the engine would return them
 */
export async function runProgram(
    stack: string,
    overrides: Record<string, string> = {},
    deployedOutputs: Record<string, unknown> = {},
): Promise<ProgramRun> {
    const resources: RecordedResource[] = [];
    const options = new Map<string, { protect: boolean; retainOnDelete: boolean; dependsOn: pulumi.Resource[] }>();
    pulumi.runtime.setAllConfig(stackConfig(stack, overrides));
    await pulumi.runtime.setMocks(
        {
            newResource(args) {
                const state = mockState(args.type, args.inputs);
                const { protect, retainOnDelete } = options.get(`${args.type}::${args.name}`) ?? { protect: false, retainOnDelete: false };
                resources.push({ type: args.type, name: args.name, inputs: args.inputs, protect, retainOnDelete, dependsOn: [] });
                return { id: `${args.name}-id`, state };
            },
            call: (args) =>
                args.token === "pulumi:pulumi:readStackOutputs" ? { name: args.inputs.name, outputs: deployedOutputs } : args.inputs,
        },
        project,
        stack,
        false,
        // What a self-managed backend calls every organization.
        "organization",
    );
    forgetProgramModules();
    const secretOutputs: string[] = [];
    const outputs = await new Promise<Record<string, unknown>>((resolve, reject) => {
        pulumi.runtime
            .runInPulumiStack(async () => {
                // Resource options are not passed to mocks; a stack transformation sees them.
                pulumi.runtime.registerStackTransformation((args) => {
                    const dependsOn = args.opts.dependsOn;
                    options.set(`${args.type}::${args.name}`, {
                        protect: args.opts.protect === true,
                        retainOnDelete: args.opts.retainOnDelete === true,
                        dependsOn: (Array.isArray(dependsOn) ? dependsOn : dependsOn ? [dependsOn] : []) as pulumi.Resource[],
                    });
                    return undefined;
                });
                const program: { default: () => Promise<Record<string, unknown>> } = await import(path.join(projectRoot, "index.ts"));
                const exported = await program.default();
                const resolved: Record<string, unknown> = {};
                for (const [key, value] of Object.entries(exported)) {
                    resolved[key] = await promiseOf(value);
                    if (pulumi.Output.isInstance(value) && (await pulumi.isSecret(value))) {
                        secretOutputs.push(key);
                    }
                }
                resolve(resolved);
                return undefined;
            })
            .catch((error: unknown) => reject(new ProgramError(error, resources)));
    });
    await settle(() => resources.length);
    for (const resource of resources) {
        for (const dependency of options.get(`${resource.type}::${resource.name}`)?.dependsOn ?? []) {
            resource.dependsOn.push((await promiseOf(dependency.urn)).replace(/^.*::/, ""));
        }
    }
    return {
        resources,
        outputs,
        secretOutputs,
        all: (type) => resources.filter((resource) => resource.type === type),
        one(type, metadataName) {
            const matches = resources.filter(
                (resource) => resource.type === type && (metadataName === undefined || resource.inputs?.metadata?.name === metadataName),
            );
            if (matches.length !== 1) {
                throw new Error(`expected one ${type} ${metadataName ?? ""}, found ${matches.length}`);
            }
            return matches[0].inputs;
        },
    };
}

/** The program failed; `registered` lists what it had registered by then. */
export class ProgramError extends Error {
    constructor(
        readonly cause: unknown,
        readonly registered: readonly RecordedResource[],
    ) {
        super(cause instanceof Error ? cause.message : String(cause));
    }
}

/** The value of an Output (or plain value) as a promise, so tests read as plain asserts. */
export function promiseOf<T>(value: pulumi.Input<T>): Promise<T> {
    return new Promise((resolve) => pulumi.output(value).apply((resolved) => resolve(resolved as T)));
}

function forgetProgramModules() {
    for (const file of Object.keys(require.cache)) {
        if (
            file.startsWith(projectRoot) &&
            !file.includes(`${path.sep}node_modules${path.sep}`) &&
            !file.includes(`${path.sep}test${path.sep}`)
        ) {
            delete require.cache[file];
        }
    }
}

/** Waits until the number of registered resources stops growing (registration is asynchronous). */
async function settle(count: () => number) {
    let last = -1;
    let stableTicks = 0;
    while (stableTicks < 5) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        stableTicks = count() === last ? stableTicks + 1 : 0;
        last = count();
    }
}
