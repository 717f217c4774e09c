/** The bench's settings: command-line flags first, then the BENCH_* environment variables, then the defaults. */
import os from "node:os";

/** Which CPUs run what, as taskset CPU lists such as "0" or "0-1,3". */
export interface Pinning {
    /** The server under test, ours and the peer alike. */
    readonly server: string;
    /** The load generator (the bench process itself). */
    readonly load: string;
    /** PostgreSQL; the load generator's CPUs unless given. */
    readonly database: string;
}

export interface BenchOptions {
    /** Seconds of measured load per path. @default 10 */
    readonly durationS: number;
    /** Concurrent connections of the load generator. @default 20 */
    readonly connections: number;
    /** Seconds of unmeasured load per path before the measured run, so both servers are warm. @default 2 */
    readonly warmupS: number;
    /** Items created before the runs; GET by id picks among them. @default 1000 */
    readonly seedItems: number;
    /** A shell command that starts a server to compare with (PORT and DATABASE_URL set), or undefined. */
    readonly peer?: string;
    /** Where the processes run; undefined leaves the kernel to place them. */
    readonly pin?: Pinning;
}

export const USAGE = `Usage: npm run bench [-- OPTIONS]

Starts a private PostgreSQL, the compiled service (and the peer, when given), seeds items, then loads
GET /api/v1/items/:id, GET /api/v1/items?limit=20 and POST /api/v1/items in turn, and prints req/s,
p50/p99 latency and the server's peak RSS for each run.

Options (each also read from the environment variable in brackets):
  --duration S       measured seconds per path, 1-600 (BENCH_DURATION, default 10)
  --connections N    concurrent connections, 1-1000 (BENCH_CONNECTIONS, default 20)
  --warmup S         unmeasured seconds per path before each run, 0-600 (BENCH_WARMUP, default 2)
  --seed N           items created before the runs, 1-100000 (BENCH_SEED, default 1000)
  --peer CMD         shell command starting a server to compare with; it gets PORT and DATABASE_URL,
                     must serve the same paths and /readyz (BENCH_PEER, default none)
  --pin S:L[:D]      run each server on CPU list S, the load generator on the disjoint CPU list L and
                     PostgreSQL on D (default L); taskset lists: 0, 0-1, 0,2. Ours and the peer then get the
                     same CPUs, and the load generator never competes with the server it measures. On 2
                     cores: 0:1 (the database with the load) or 0:1:0 (the database with the server)
                     (BENCH_PIN, default none: the kernel places every process)
  --help             this text`;

/** A bad argument: the message names it, the value given and what is allowed. */
export class UsageError extends Error {}

interface IntegerSetting {
    readonly flag: string;
    readonly env: string;
    readonly min: number;
    readonly max: number;
    readonly fallback: number;
    readonly unit: string;
}

const INTEGERS = {
    durationS: { flag: "--duration", env: "BENCH_DURATION", min: 1, max: 600, fallback: 10, unit: "seconds" },
    connections: { flag: "--connections", env: "BENCH_CONNECTIONS", min: 1, max: 1000, fallback: 20, unit: "connections" },
    warmupS: { flag: "--warmup", env: "BENCH_WARMUP", min: 0, max: 600, fallback: 2, unit: "seconds" },
    seedItems: { flag: "--seed", env: "BENCH_SEED", min: 1, max: 100_000, fallback: 1000, unit: "items" },
} as const satisfies Record<string, IntegerSetting>;

type IntegerKey = keyof typeof INTEGERS;
const FLAGS = [...Object.values(INTEGERS).map((s) => s.flag), "--peer", "--pin", "--help"];

/** The CPUs of a taskset list, or undefined when it is not one. */
function cpuList(text: string): number[] | undefined {
    if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(text)) return undefined;
    const cpus: number[] = [];
    for (const part of text.split(",")) {
        const [first, last = first] = part.split("-").map(Number);
        if (last < first) return undefined;
        for (let cpu = first; cpu <= last; cpu++) cpus.push(cpu);
    }
    return cpus;
}

function pinning(name: string, text: string, cpuCount: number): Pinning {
    const [server = "", load = "", database = load, ...rest] = text.split(":");
    const serverCpus = cpuList(server);
    const loadCpus = cpuList(load);
    const databaseCpus = cpuList(database);
    if (
        rest.length > 0 ||
        serverCpus === undefined ||
        loadCpus === undefined ||
        databaseCpus === undefined ||
        [...serverCpus, ...loadCpus, ...databaseCpus].some((cpu) => cpu >= cpuCount) ||
        serverCpus.some((cpu) => loadCpus.includes(cpu))
    ) {
        throw new UsageError(
            `${name} must be SERVER_CPUS:LOAD_CPUS[:DATABASE_CPUS], CPU lists such as 0:1, 0:1:0 or 0-1:2,3, ` +
                `the first two disjoint, of the CPUs 0 to ${cpuCount - 1} (got ${JSON.stringify(text)})`,
        );
    }
    return { server, load, database };
}

function integer(setting: IntegerSetting, name: string, text: string): number {
    const value = Number(text);
    if (!/^[0-9]+$/.test(text) || value < setting.min || value > setting.max) {
        throw new UsageError(
            `${name} must be a whole number of ${setting.unit} from ${setting.min} to ${setting.max} (got ${JSON.stringify(text)})`,
        );
    }
    return value;
}

/**
 * Options from argv (without node and the script) and the environment; "help" when --help is asked for.
 * cpuCount bounds the CPU lists of --pin.
 */
export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv, cpuCount = os.cpus().length): BenchOptions | "help" {
    const given = new Map<string, string>();
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "--help" || arg === "-h") return "help";
        const [flag, inline] =
            arg.startsWith("--") && arg.includes("=")
                ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
                : [arg, undefined];
        if (!FLAGS.includes(flag)) throw new UsageError(`unknown argument ${JSON.stringify(arg)}: allowed are ${FLAGS.join(", ")}`);
        const value = inline ?? argv[++i];
        if (value === undefined) throw new UsageError(`${flag} needs a value: see --help`);
        given.set(flag, value);
    }

    const numbers = {} as Record<IntegerKey, number>;
    for (const [key, setting] of Object.entries(INTEGERS) as [IntegerKey, IntegerSetting][]) {
        const flagValue = given.get(setting.flag);
        const envValue = env[setting.env];
        numbers[key] =
            flagValue !== undefined
                ? integer(setting, setting.flag, flagValue)
                : envValue !== undefined && envValue !== ""
                  ? integer(setting, setting.env, envValue)
                  : setting.fallback;
    }

    const peer = given.get("--peer") ?? env.BENCH_PEER;
    if (peer !== undefined && peer.trim() === "" && given.has("--peer")) {
        throw new UsageError('--peer must be a shell command that starts a server (got "")');
    }
    const pinFlag = given.get("--pin");
    const pin =
        pinFlag !== undefined
            ? pinning("--pin", pinFlag, cpuCount)
            : env.BENCH_PIN !== undefined && env.BENCH_PIN !== ""
              ? pinning("BENCH_PIN", env.BENCH_PIN, cpuCount)
              : undefined;
    return { ...numbers, peer: peer === undefined || peer.trim() === "" ? undefined : peer, pin };
}
