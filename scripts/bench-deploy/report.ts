/** The rows of the deployment benchmark, in the order they are printed. */
export const rowNames = ["kubectl", "fresh", "no-op up", "no-op preview", "floor"] as const;
export type RowName = (typeof rowNames)[number];

export interface Row {
    readonly name: RowName;
    /** Seconds of each run. */
    readonly seconds: readonly number[];
}

export interface Summary {
    readonly min: number;
    readonly median: number;
}

export function summarize(seconds: readonly number[]): Summary {
    if (seconds.length === 0) {
        throw new Error("a row without runs has no summary");
    }
    const sorted = [...seconds].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    const median = sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    return { min: sorted[0], median };
}

/** `value / base` as "2.4x", or "-" when there is no base row. */
export function ratio(value: number, base: number | undefined): string {
    return base === undefined || base <= 0 ? "-" : `${(value / base).toFixed(1)}x`;
}

/** The table: min and median of each row, and the medians' ratios to the kubectl and floor rows. */
export function formatTable(rows: readonly Row[]): string {
    const medians = new Map(rows.map((row) => [row.name, summarize(row.seconds).median]));
    const header = ["row", "runs", "min s", "median s", "vs kubectl", "vs floor"];
    const lines = [header];
    for (const name of rowNames) {
        const row = rows.find((r) => r.name === name);
        if (!row) {
            continue;
        }
        const { min, median } = summarize(row.seconds);
        lines.push([
            name,
            String(row.seconds.length),
            min.toFixed(2),
            median.toFixed(2),
            ratio(median, medians.get("kubectl")),
            ratio(median, medians.get("floor")),
        ]);
    }
    const widths = header.map((_, column) => Math.max(...lines.map((line) => line[column].length)));
    return lines
        .map((line) => line.map((cell, column) => (column === 0 ? cell.padEnd(widths[0]) : cell.padStart(widths[column]))).join("  "))
        .join("\n");
}

interface Target {
    readonly what: string;
    readonly row: RowName;
    readonly base: RowName;
    readonly atMost: number;
}

/**
 * Issue 12's targets, as ratios of medians taken in the same run. Fresh up against kubectl: 3x where the pods
 * are simulated (the rows time the tooling), 1.3x where they start real containers, which then dominate.
 */
function targets(apiPodsRun: boolean): Target[] {
    const fresh = apiPodsRun
        ? { what: "fresh up to all ready vs kubectl (pods on a real node)", atMost: 1.3 }
        : { what: "fresh up to all ready vs kubectl (simulated pods)", atMost: 3 };
    return [
        { what: "no-op preview vs the floor's no-op preview", row: "no-op preview", base: "floor", atMost: 1.5 },
        { ...fresh, row: "fresh", base: "kubectl" },
        { what: "no-op up vs no-op preview", row: "no-op up", base: "no-op preview", atMost: 2 },
    ];
}

/** One line per target whose two rows were run: the ratio, the target and whether it is met. */
export function formatTargets(rows: readonly Row[], apiPodsRun: boolean): string {
    const medians = new Map(rows.map((row) => [row.name, summarize(row.seconds).median]));
    const lines: string[] = [];
    for (const target of targets(apiPodsRun)) {
        const value = medians.get(target.row);
        const base = medians.get(target.base);
        if (value === undefined || base === undefined || base <= 0) {
            continue;
        }
        const measured = value / base;
        lines.push(
            `${measured <= target.atMost ? "met    " : "missed "} ${target.what}: ${measured.toFixed(2)}x (target <= ${target.atMost}x)`,
        );
    }
    return lines.join("\n");
}
