import * as fs from "fs";
import * as path from "path";

/** What `npm run bench:deploy -- <flags>` asks for. */
export interface BenchOptions {
    /** Stack whose committed config is deployed (Pulumi.<stack>.yaml). */
    readonly stack: string;
    /** Runs of each row. */
    readonly runs: number;
    /** Engine only: the Pulumi rows in render mode, no cluster and no kubectl row. */
    readonly render: boolean;
    /** The cluster: a kubeconfig file and, optionally, one of its contexts (undefined with `render`). */
    readonly kubeconfig?: string;
    readonly context?: string;
    /** Image the API pods run; undefined takes the content tag of app/, as the local cluster's stacks do. */
    readonly image?: string;
}

export const usage = `Usage: npm run bench:deploy -- [options]
Times identical work on one cluster: kubectl apply of the manifests the program renders for the stack
(+ rollout status + ready endpoints), pulumi up on an empty stack, a no-op up, a no-op preview, and the
engine's floor (no-op preview of a one-ConfigMap program); each row --runs times, min and median.

  --stack NAME         stack whose committed config is deployed (default dev)
  --runs N             runs of each row, 1 to 20 (default 3)
  --kubeconfig FILE    the cluster (default: $KUBECONFIG, else the local cluster's $API_STACK_KUBECONFIG)
  --context NAME       a context of that kubeconfig (default: its current context)
  --image REF          image of the API pods (default api-stack/api:<content tag of app/>); on a real
                       node it must be there already (npm run deploy builds it)
  --render             engine only: the Pulumi rows in render mode, no cluster, no kubectl row
  -h, --help           this text
The bench never starts a cluster; each row works in a namespace of its own and removes it afterwards.`;

/** Thrown for bad arguments: the message names the flag, the value given and what is allowed. */
export class UsageError extends Error {}

const flagsWithValue = ["--stack", "--runs", "--kubeconfig", "--context", "--image"] as const;

/**
 * Parses the command line; `env` gives the kubeconfig defaults and `stacks` the stacks that have a
 * committed config file. Returns undefined for --help.
 */
export function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv, stacks: readonly string[]): BenchOptions | undefined {
    const values = new Map<string, string>();
    let render = false;
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "-h" || arg === "--help") {
            return undefined;
        }
        if (arg === "--render") {
            render = true;
            continue;
        }
        const [flag, inline] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
        if (!(flagsWithValue as readonly string[]).includes(flag)) {
            throw new UsageError(`unknown argument "${arg}"; allowed: ${[...flagsWithValue, "--render", "--help"].join(", ")}`);
        }
        const value = inline ?? argv[++i];
        if (value === undefined || value === "") {
            throw new UsageError(`${flag} needs a value`);
        }
        values.set(flag, value);
    }

    const stack = values.get("--stack") ?? "dev";
    if (!stacks.includes(stack)) {
        throw new UsageError(`--stack "${stack}": no Pulumi.${stack}.yaml; allowed: ${stacks.join(", ")}`);
    }
    const runsText = values.get("--runs") ?? "3";
    const runs = Number(runsText);
    if (!/^\d+$/.test(runsText) || runs < 1 || runs > 20) {
        throw new UsageError(`--runs "${runsText}": allowed: a whole number from 1 to 20`);
    }
    const image = values.get("--image");
    if (image !== undefined && !/^[a-z0-9][\w./:@-]*$/.test(image)) {
        throw new UsageError(`--image "${image}": allowed: an image reference such as api-stack/api:1.4.2`);
    }
    if (render) {
        for (const flag of ["--kubeconfig", "--context"]) {
            if (values.has(flag)) {
                throw new UsageError(`${flag} "${values.get(flag)}": not allowed with --render, which uses no cluster`);
            }
        }
        return { stack, runs, render, image };
    }

    const kubeconfig = values.get("--kubeconfig") ?? env.KUBECONFIG ?? localKubeconfig(env);
    if (!kubeconfig) {
        throw new UsageError(
            "no cluster: pass --kubeconfig FILE or set KUBECONFIG (the local cluster writes $API_STACK_KUBECONFIG once it is up), or use --render for the engine alone",
        );
    }
    // KUBECONFIG may list several files, as kubectl allows.
    if (!kubeconfig.split(path.delimiter).every((file) => fs.existsSync(file))) {
        const source = values.has("--kubeconfig") ? "--kubeconfig" : env.KUBECONFIG ? "KUBECONFIG" : "API_STACK_KUBECONFIG";
        throw new UsageError(`${source} "${kubeconfig}": no such file; allowed: the kubeconfig file of a running cluster`);
    }
    return { stack, runs, render, kubeconfig, context: values.get("--context"), image };
}

/** The local cluster's kubeconfig, when that cluster has written one. */
function localKubeconfig(env: NodeJS.ProcessEnv): string | undefined {
    const file = env.API_STACK_KUBECONFIG;
    return file && fs.existsSync(file) ? file : undefined;
}
