/** The bench's arithmetic and its reading of /proc, apart from the processes it drives, so tests can check them. */

/** What one measured run of one path against one server gives. */
export interface RunFigures {
    /** Responses per second over the whole run. */
    readonly rps: number;
    readonly p50Ms: number;
    readonly p99Ms: number;
    /** Socket errors, timeouts and non-2xx answers. */
    readonly errors: number;
    /** Highest resident set size of the server's processes during the run. */
    readonly peakRssMiB: number;
}

/** The fields of an autocannon result that the figures come from. */
export interface LoadResult {
    readonly duration: number;
    readonly requests: { readonly total: number };
    readonly latency: { readonly p50: number; readonly p99: number };
    readonly errors: number;
    readonly timeouts: number;
    readonly non2xx: number;
}

export function figures(result: LoadResult, peakRssMiB: number): RunFigures {
    if (!(result.duration > 0)) throw new Error(`the load generator reported a run of ${result.duration} s: nothing was measured`);
    return {
        // The total over the run's real length, not autocannon's mean of per-second samples, which a partial last second skews.
        rps: result.requests.total / result.duration,
        p50Ms: result.latency.p50,
        p99Ms: result.latency.p99,
        errors: result.errors + result.timeouts + result.non2xx,
        peakRssMiB,
    };
}

/** The peak RSS (VmHWM) of /proc/<pid>/status, in KiB. */
export function peakRssKiB(status: string): number {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(status);
    if (match === null) throw new Error("no VmHWM line in /proc/<pid>/status: is this Linux, and is the process alive?");
    return Number(match[1]);
}

/** The CPUs a process may run on: Cpus_allowed_list of /proc/<pid>/status, e.g. "0" or "0-1". */
export function cpusAllowed(status: string): string {
    const match = /^Cpus_allowed_list:\s+(\S+)$/m.exec(status);
    if (match === null) throw new Error("no Cpus_allowed_list line in /proc/<pid>/status: is this Linux?");
    return match[1];
}

/** The parent pid in /proc/<pid>/stat. The command name may hold spaces and parentheses, so read after its last ")". */
export function parentPid(stat: string): number {
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ppid = Number(fields[1]);
    if (!Number.isInteger(ppid)) throw new Error(`cannot read the parent pid from /proc/<pid>/stat: ${JSON.stringify(stat.slice(0, 80))}`);
    return ppid;
}

/** A process and all its descendants, from a map of pid to parent pid; a peer started through a shell is its whole tree. */
export function processTree(root: number, parents: ReadonlyMap<number, number>): number[] {
    const tree = [root];
    for (let i = 0; i < tree.length; i++) {
        for (const [pid, ppid] of parents) if (ppid === tree[i] && !tree.includes(pid)) tree.push(pid);
    }
    return tree;
}

export interface PathResult {
    readonly path: string;
    readonly ours: RunFigures;
    readonly peer?: RunFigures;
}

const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}x` : "n/a");
const whole = (n: number) => n.toFixed(0);
const mib = (n: number) => n.toFixed(1);

/** A Markdown table: the service alone, or side by side with the peer and the ratios ours/peer. */
export function table(results: readonly PathResult[], peerName?: string): string {
    const withPeer = results.filter((r): r is Required<PathResult> => r.peer !== undefined);
    if (peerName === undefined || withPeer.length !== results.length) {
        const lines = ["| path | req/s | p50 ms | p99 ms | peak RSS MiB | errors |", "| --- | ---: | ---: | ---: | ---: | ---: |"];
        for (const { path, ours } of results) {
            lines.push(`| ${path} | ${whole(ours.rps)} | ${ours.p50Ms} | ${ours.p99Ms} | ${mib(ours.peakRssMiB)} | ${ours.errors} |`);
        }
        return lines.join("\n");
    }
    const lines = [
        `| path | ours req/s | ${peerName} req/s | ratio | ours p99 ms | ${peerName} p99 ms | ours peak RSS MiB | ${peerName} peak RSS MiB | errors |`,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ];
    for (const { path, ours, peer } of withPeer) {
        lines.push(
            `| ${path} | ${whole(ours.rps)} | ${whole(peer.rps)} | ${ratio(ours.rps, peer.rps)} | ${ours.p99Ms} | ${peer.p99Ms} | ` +
                `${mib(ours.peakRssMiB)} | ${mib(peer.peakRssMiB)} | ${ours.errors + peer.errors} |`,
        );
    }
    return lines.join("\n");
}
