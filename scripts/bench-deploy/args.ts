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
    /**
     * PostgreSQL's image as `repository:tag` in place of the stack's; undefined keeps the stack's. A real
     * node cannot pull the official image here, so the default is the stand-in that the node holds.
     */
    readonly postgresImage?: string;
    /** API replicas in place of the stack's apiReplicas (autoscaling off); undefined keeps the stack's. */
    readonly replicas?: number;
    /** Where the API's pods go: any node that takes them, or only the local cluster's simulated nodes. */
    readonly on: Placement;
}

export const placements = ["any", "simulated"] as const;
export type Placement = (typeof placements)[number];

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
  --postgres-image REF PostgreSQL's image, repository:tag (default: $POSTGRES_IMAGE, the stand-in that
                       npm run images:base made and the local node holds, when set; else the stack's)
  --replicas N         API replicas, 1 to 500, in place of the stack's apiReplicas (autoscaling off)
  --on any|simulated   where the API pods go (default any): simulated puts them on the local cluster's
                       simulated (KWOK) nodes only, through the stack keys apiNodeSelector (type=kwok) and
                       apiTolerations (their taint); PostgreSQL and the Jobs stay on the real node
  --render             engine only: the Pulumi rows in render mode, no cluster, no kubectl row
  -h, --help           this text
Every row deploys the same objects: the kubectl row applies what the program renders with the same
config. The bench never starts a cluster; each row works in a namespace of its own and removes it
afterwards. Scale benchmark (200 API replicas on 20 simulated nodes):
  npm run cluster:up -- --nodes 20 && npm run bench:deploy -- --stack prod --replicas 200 --on simulated`;

/** Thrown for bad arguments: the message names the flag, the value given and what is allowed. */
export class UsageError extends Error {}

const flagsWithValue = ["--stack", "--runs", "--kubeconfig", "--context", "--image", "--postgres-image", "--replicas", "--on"] as const;

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
    const postgresImage = values.get("--postgres-image") ?? (env.POSTGRES_IMAGE || undefined);
    if (postgresImage !== undefined && !/^[a-z0-9][\w./-]*:[\w][\w.-]*$/.test(postgresImage)) {
        const source = values.has("--postgres-image") ? "--postgres-image" : "POSTGRES_IMAGE";
        throw new UsageError(
            `${source} "${postgresImage}": allowed: an image reference repository:tag, such as api-stack/postgres-standin:15.20-deb12u1`,
        );
    }
    const replicasText = values.get("--replicas");
    const replicas = replicasText === undefined ? undefined : Number(replicasText);
    if (replicasText !== undefined && (!/^\d+$/.test(replicasText) || Number(replicas) < 1 || Number(replicas) > 500)) {
        throw new UsageError(`--replicas "${replicasText}": allowed: a whole number from 1 to 500`);
    }
    const onText = values.get("--on") ?? "any";
    if (!(placements as readonly string[]).includes(onText)) {
        throw new UsageError(`--on "${onText}": allowed: ${placements.join(" or ")}`);
    }
    const on = onText as Placement;
    if (render) {
        for (const flag of ["--kubeconfig", "--context"]) {
            if (values.has(flag)) {
                throw new UsageError(`${flag} "${values.get(flag)}": not allowed with --render, which uses no cluster`);
            }
        }
        return { stack, runs, render, image, postgresImage, replicas, on };
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
    return { stack, runs, render, kubeconfig, context: values.get("--context"), image, postgresImage, replicas, on };
}

/** The local cluster's kubeconfig, when that cluster has written one. */
function localKubeconfig(env: NodeJS.ProcessEnv): string | undefined {
    const file = env.API_STACK_KUBECONFIG;
    return file && fs.existsSync(file) ? file : undefined;
}
