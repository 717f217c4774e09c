/**
 * Deployment benchmark (not a test): identical work done by kubectl and by Pulumi on one cluster.
 * The kubectl row applies the very manifests the program renders for the stack (render mode), then
 * waits for every rollout and for every Service to have a ready endpoint; the Pulumi rows run the
 * same program with the same config through the `pulumi` CLI, as a user would. Usage: see --help
 * (scripts/bench-deploy/args.ts). Needs a running cluster; never starts one.
 */
import * as automation from "@pulumi/pulumi/automation";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { contentTag } from "../components/build-context";
import { postgresImageConfig } from "../stacks/local-cluster";
import { configJson, ProjectCopy, projectRoot } from "../test/e2e/engine";
import { BenchOptions, parseArgs, usage, UsageError } from "./bench-deploy/args";
import { Cluster } from "./bench-deploy/cluster";
import { readRendered } from "./bench-deploy/manifests";
import { formatTable, formatTargets, Row, RowName } from "./bench-deploy/report";
import { log, run } from "./bench-deploy/run";
import { scaleConfig } from "./bench-deploy/scale";

function seconds(started: bigint): number {
    return Number(process.hrtime.bigint() - started) / 1e9;
}

let stopSignal: "SIGINT" | "SIGTERM" | undefined;

/**
 * A signal ends the bench after the step in progress (a Ctrl-C reaches that step's pulumi or kubectl too), through
 * the same cleanup as a failure: its namespaces, stacks and copy of the project go.
 */
function stopOnSignals(): void {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
        process.on(signal, () => {
            stopSignal = signal;
            log(`${signal}: stopping after the step in progress, then removing what the bench made`);
        });
    }
}

/** Lets a pending signal's handler run (the steps are synchronous), then throws if one came. */
async function throwIfStopped(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    if (stopSignal) {
        throw new Error(`stopped by ${stopSignal}`);
    }
}

/** A Pulumi program folder with its own backend, driven through the CLI. */
interface CliProgram {
    readonly programDir: string;
    readonly envVars: Record<string, string>;
}

function pulumi(program: CliProgram, cluster: Cluster | undefined, stack: string, ...args: string[]): string {
    // The program's own passphrase, not the checkout's (scripts/env.sh sets a passphrase file).
    const env = { ...(cluster?.env ?? process.env), ...program.envVars };
    delete env.PULUMI_CONFIG_PASSPHRASE_FILE;
    return run("pulumi", [...args, "--stack", stack, "--non-interactive"], { cwd: program.programDir, env });
}

/** Throws unless a run of the engine changed nothing. */
function assertNoChanges(row: string, output: string): void {
    if (/\b(to create|to update|to delete|to replace|created|updated|deleted|replaced)\b/.test(output)) {
        throw new Error(`the ${row} row changed something, so it is not a no-op:\n${output.slice(-2000)}`);
    }
}

/** Creates stack `name` with the committed config of stack `configOf` (when given) plus `config`. */
async function createStack(program: CliProgram, name: string, config: Record<string, string>, configOf?: string): Promise<void> {
    if (configOf) {
        fs.copyFileSync(path.join(program.programDir, `Pulumi.${configOf}.yaml`), path.join(program.programDir, `Pulumi.${name}.yaml`));
    }
    const pulumiHome = process.env.PULUMI_HOME;
    if (!pulumiHome) {
        throw new Error("PULUMI_HOME is not set: run the bench through `npm run bench:deploy` (it sources scripts/env.sh)");
    }
    const workspace = await automation.LocalWorkspace.create({ workDir: program.programDir, pulumiHome, envVars: program.envVars });
    const stack = await automation.Stack.create(name, workspace);
    await stack.setAllConfigJson(configJson(program.programDir, config));
}

/** The engine's floor: a TypeScript program of one ConfigMap, in a folder of its own. */
function floorProgram(dir: string, configMapName: string): CliProgram {
    const programDir = path.join(dir, "floor");
    fs.mkdirSync(programDir, { recursive: true });
    fs.writeFileSync(
        path.join(programDir, "Pulumi.yaml"),
        "name: bench-floor\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n",
    );
    fs.writeFileSync(path.join(programDir, "package.json"), JSON.stringify({ name: "bench-floor", private: true, main: "index.ts" }));
    fs.writeFileSync(
        path.join(programDir, "tsconfig.json"),
        JSON.stringify({
            compilerOptions: { strict: true, target: "es2022", module: "commonjs", moduleResolution: "node", skipLibCheck: true },
        }),
    );
    fs.writeFileSync(
        path.join(programDir, "index.ts"),
        `import * as k8s from "@pulumi/kubernetes";\n\nnew k8s.core.v1.ConfigMap("floor", { metadata: { name: "${configMapName}" }, data: { floor: "1" } });\n`,
    );
    fs.symlinkSync(path.join(projectRoot, "node_modules"), path.join(programDir, "node_modules"), "dir");
    fs.mkdirSync(path.join(dir, "floor-state"));
    return {
        programDir,
        envVars: {
            PULUMI_BACKEND_URL: `file://${path.join(dir, "floor-state")}`,
            PULUMI_CONFIG_PASSPHRASE: crypto.randomBytes(24).toString("base64"),
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        },
    };
}

async function timeRuns(
    name: RowName,
    runs: number,
    once: (index: number) => Promise<void> | void,
    between?: (index: number) => Promise<void> | void,
): Promise<Row> {
    const samples: number[] = [];
    for (let index = 0; index < runs; index++) {
        await throwIfStopped();
        const started = process.hrtime.bigint();
        await once(index);
        await throwIfStopped();
        samples.push(seconds(started));
        log(`${name} ${index + 1}/${runs}: ${samples[index].toFixed(2)} s`);
        await between?.(index);
    }
    return { name, seconds: samples };
}

async function bench(options: BenchOptions): Promise<void> {
    const id = crypto.randomBytes(3).toString("hex");
    const cluster = options.render ? undefined : new Cluster(options);
    const where = cluster ? cluster.check() : "render mode (no cluster)";
    const image = options.image ?? `api-stack/api:${contentTag(path.join(projectRoot, "app"))}`;
    const copy = new ProjectCopy("bench");
    const floor = floorProgram(copy.dir, `bench-floor-${id}`);
    const renderDir = (label: string) => path.join(copy.dir, `rendered-${label}`);
    // Identical to the kubectl row, which waits for no load balancer address; nothing protected, so each run can be destroyed.
    const common = {
        imageBuild: "false",
        imageRef: image,
        apiServiceAwaitAddress: "false",
        protect: "false",
        ...postgresImageConfig(options.postgresImage),
        ...scaleConfig(options),
    };
    const scale = `API replicas ${options.replicas ?? "as the stack's"}, on ${options.on} nodes`;
    const target = (label: string): Record<string, string> =>
        cluster
            ? options.context
                ? { "kubernetes:context": options.context }
                : {}
            : { "kubernetes:renderYamlToDirectory": renderDir(label) };
    const cleanups: (() => Promise<void> | void)[] = [];
    const namespaces: string[] = [];
    const rows: Row[] = [];
    log(
        `stack ${options.stack}, image ${image}, PostgreSQL ${options.postgresImage ?? "as the stack's"}, ${scale}, ${options.runs} runs per row, on ${where}`,
    );
    try {
        if (cluster) {
            const namespace = `bench-kubectl-${id}`;
            log("rendering the stack's manifests for the kubectl row (render mode) ...");
            await createStack(
                copy,
                "render",
                { ...common, namespace, "kubernetes:renderYamlToDirectory": renderDir("kubectl") },
                options.stack,
            );
            pulumi(copy, undefined, "render", "up", "--yes", "--skip-preview");
            const rendered = readRendered(renderDir("kubectl"));
            const manifest = path.join(copy.dir, "kubectl.yaml");
            fs.writeFileSync(manifest, rendered.yaml);
            namespaces.push(...rendered.namespaces);
            const removeRendered = async () => {
                for (const ns of rendered.namespaces) {
                    await cluster.removeNamespace(ns);
                }
            };
            cleanups.push(removeRendered);
            rows.push(
                await timeRuns(
                    "kubectl",
                    options.runs,
                    async () => {
                        cluster.kubectl("apply", "-f", manifest);
                        for (const deployment of rendered.deployments) {
                            const [ns, name] = deployment.split("/");
                            cluster.kubectl("rollout", "status", `deployment/${name}`, "-n", ns, "--timeout=5m");
                        }
                        await cluster.readyEndpoints(rendered.services);
                    },
                    removeRendered,
                ),
            );
        }

        const namespace = `bench-pulumi-${id}`;
        namespaces.push(namespace);
        await createStack(copy, "bench", { ...common, namespace, ...target("bench") }, options.stack);
        cleanups.push(async () => {
            pulumi(copy, cluster, "bench", "destroy", "--yes");
            await cluster?.removeNamespace(namespace);
        });
        const services = [`${namespace}/api`, `${namespace}/postgres`];
        rows.push(
            await timeRuns(
                "fresh",
                options.runs,
                async () => {
                    pulumi(copy, cluster, "bench", "up", "--yes", "--skip-preview");
                    await cluster?.readyEndpoints(services);
                },
                async (index) => {
                    if (index < options.runs - 1) {
                        pulumi(copy, cluster, "bench", "destroy", "--yes");
                        await cluster?.removeNamespace(namespace);
                    }
                },
            ),
        );
        rows.push(
            await timeRuns("no-op up", options.runs, () =>
                assertNoChanges("no-op up", pulumi(copy, cluster, "bench", "up", "--yes", "--skip-preview")),
            ),
        );
        rows.push(
            await timeRuns("no-op preview", options.runs, () =>
                assertNoChanges("no-op preview", pulumi(copy, cluster, "bench", "preview")),
            ),
        );

        await createStack(floor, "floor", target("floor"));
        pulumi(floor, cluster, "floor", "up", "--yes", "--skip-preview");
        cleanups.push(() => void pulumi(floor, cluster, "floor", "destroy", "--yes"));
        rows.push(await timeRuns("floor", options.runs, () => assertNoChanges("floor", pulumi(floor, cluster, "floor", "preview"))));
    } catch (error) {
        if (!stopSignal) {
            cluster?.reportPods(namespaces);
        }
        throw error;
    } finally {
        for (const cleanup of cleanups.reverse()) {
            try {
                await cleanup();
            } catch (error) {
                log(`cleanup failed, remove what is left by hand: ${error instanceof Error ? error.message : String(error)}`);
            }
        }
        copy.remove();
    }

    const load = os.loadavg().map((value) => value.toFixed(1));
    console.log(
        `\n${new Date().toISOString()}, ${os.hostname()}, ${os.cpus().length} CPUs, load ${load.join(" ")}, node ${process.version}; stack ${options.stack}, ${scale}, on ${where}`,
    );
    console.log("pulumi up runs with --yes --skip-preview; ratios are of medians\n");
    console.log(formatTable(rows));
    console.log(`\n${formatTargets(rows, cluster?.apiPodsRun ?? false)}`);
}

function stacksOf(root: string): string[] {
    return fs
        .readdirSync(root)
        .map((file) => /^Pulumi\.([^.]+)\.yaml$/.exec(file)?.[1])
        .filter((name): name is string => name !== undefined)
        .sort();
}

async function main(): Promise<void> {
    let options: BenchOptions | undefined;
    try {
        options = parseArgs(process.argv.slice(2), process.env, stacksOf(projectRoot));
    } catch (error) {
        if (error instanceof UsageError) {
            console.error(`bench:deploy: ${error.message}\n(npm run bench:deploy -- --help)`);
            process.exit(2);
        }
        throw error;
    }
    if (!options) {
        console.log(usage);
        return;
    }
    stopOnSignals();
    await bench(options);
}

main().catch((error: unknown) => {
    // A step that the signal reached fails on its own; that is the stop too, not a failure to report.
    if (stopSignal) {
        log("stopped; what it made is removed");
        process.exit(stopSignal === "SIGINT" ? 130 : 143);
    }
    console.error(`bench:deploy failed: ${error instanceof Error ? error.message : String(error)}`);
    console.error("bench:deploy: next: check the cluster (npm run cluster:status for the local one) and `npm run toolchain`, then rerun");
    process.exit(1);
});
