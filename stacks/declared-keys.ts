import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";

/**
 * The config keys Pulumi.yaml declares: the one list of what a stack may set in the project's
 * namespace, so that a misspelt key is refused instead of silently leaving a default in place.
 */
export function declaredKeys(projectRoot: string): string[] {
    const project = parse(fs.readFileSync(path.join(projectRoot, "Pulumi.yaml"), "utf8")) as { config?: Record<string, unknown> };
    return Object.keys(project.config ?? {});
}

/**
 * Full names (`project:key`) of the config values that are secret, as the language host lists them
 * for the program; a message about a key must never repeat its secret value.
 */
export function secretConfigKeys(): string[] {
    const listed: unknown = JSON.parse(process.env.PULUMI_CONFIG_SECRET_KEYS || "[]");
    return Array.isArray(listed) ? listed.filter((key): key is string => typeof key === "string") : [];
}

/** The candidate nearest to `given` by edit distance (ties: the first declared). */
export function closest(given: string, candidates: readonly string[]): string | undefined {
    let best: { candidate?: string; distance: number } = { distance: Infinity };
    for (const candidate of candidates) {
        const distance = editDistance(given.toLowerCase(), candidate.toLowerCase());
        if (distance < best.distance) {
            best = { candidate, distance };
        }
    }
    return best.candidate;
}

/** Levenshtein distance: insertions, deletions and substitutions, one row at a time. */
function editDistance(a: string, b: string): number {
    let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        const current = [i];
        for (let j = 1; j <= b.length; j++) {
            current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        }
        previous = current;
    }
    return previous[b.length];
}
