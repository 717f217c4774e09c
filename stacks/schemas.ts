import { z } from "zod";
import { bytesFormat, cpuFormat, parseBytes, parseCpu } from "./quantity";

/**
 * Schemas for config text: each refuses with "allowed: ..." so that every problem says what
 * would have been accepted.
 */

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function required(allowed: string) {
    return z.string({ error: `is missing; allowed: ${allowed}` }).min(1, `is empty; allowed: ${allowed}`);
}

/** @param meaning what the number counts, said after the range when the key's name is not enough */
export function integer(min: number, max: number, meaning?: string) {
    const allowed = `an integer from ${min} to ${max}${meaning ? ` (${meaning})` : ""}`;
    return required(allowed)
        .regex(/^-?[0-9]+$/, `allowed: ${allowed}`)
        .transform(Number)
        .pipe(z.number().min(min, `allowed: ${allowed}`).max(max, `allowed: ${allowed}`));
}

export function boolean() {
    return required("true or false")
        .regex(/^(true|false)$/, "allowed: true or false")
        .transform((text) => text === "true");
}

export function oneOf<T extends readonly [string, ...string[]]>(values: T) {
    return z.enum(values, { error: `allowed: one of ${values.join(", ")}` });
}

export function cpu() {
    return required(cpuFormat).refine((text) => parseCpu(text) !== undefined, `allowed: ${cpuFormat}`);
}

export function bytes() {
    return required(bytesFormat).refine((text) => parseBytes(text) !== undefined, `allowed: ${bytesFormat}`);
}

export function dnsLabel(what: string) {
    const allowed = `${what}: a DNS-1123 label (lower-case letters, digits and '-', at most 63 characters, starting and ending with a letter or digit)`;
    return required(allowed).max(63, `allowed: ${allowed}`).regex(dns1123Label, `allowed: ${allowed}`);
}

/**
 * What to report of a value's issues: the first problem of a plain value, and of a map or list the
 * first problem of each field, named by its place and value (`[0].operator = "Equals": allowed: ...`).
 */
export function issueTexts(issues: readonly z.core.$ZodIssue[]): string[] {
    const reported = new Map<string, string>();
    for (const issue of issues) {
        const where = fieldPath(issue.path);
        if (reported.has(where)) {
            continue;
        }
        if (issue.code === "invalid_key") {
            reported.set(where, `key ${JSON.stringify(issue.path[issue.path.length - 1])}: ${issue.issues[0]?.message ?? issue.message}`);
        } else if (where === "" || issue.code === "unrecognized_keys") {
            reported.set(where, `${where ? `${where} ` : ""}${issue.message}`);
        } else {
            reported.set(where, `${where} = ${JSON.stringify(issue.input)}: ${issue.message}`);
        }
    }
    return [...reported.values()];
}

/** `[0].operator`, `["kubernetes.io/os"]`: a place inside a config value, as a reader would write it. */
function fieldPath(path: readonly PropertyKey[]): string {
    return path
        .map((part, index) =>
            typeof part === "number"
                ? `[${part}]`
                : index > 0 && /^[A-Za-z]\w*$/.test(String(part))
                  ? `.${String(part)}`
                  : `[${JSON.stringify(String(part))}]`,
        )
        .join("");
}

/** Absent and empty both mean "not set": Pulumi.yaml gives optional keys an empty default. */
export function optional<T extends z.ZodType>(schema: T) {
    return z.preprocess((value) => (value === "" ? undefined : value), schema.optional());
}

/** The five fields of a cron schedule, with the range Kubernetes accepts in each. */
const cronFields = [
    { name: "minute", min: 0, max: 59 },
    { name: "hour", min: 0, max: 23 },
    { name: "day of month", min: 1, max: 31 },
    { name: "month", min: 1, max: 12 },
    { name: "day of week", min: 0, max: 7 },
] as const;
const cronMacros = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];
export const cronAllowed =
    "a cron schedule of 5 fields separated by spaces, each *, a number, a range a-b, a step */n or a-b/n, or a comma list of those " +
    `(${cronFields.map((field) => `${field.name} ${field.min}-${field.max}`).join(", ")}), or one of ${cronMacros.join(", ")}; ` +
    "the time zone is the cluster's (UTC on most)";

/** Why `text` is not a cron schedule Kubernetes runs, or undefined when it is one. */
export function cronProblem(text: string): string | undefined {
    if (cronMacros.includes(text)) {
        return undefined;
    }
    const parts = text.trim().split(/\s+/);
    if (parts.length !== cronFields.length) {
        return `has ${parts.length} field${parts.length === 1 ? "" : "s"}, not 5`;
    }
    for (const [index, part] of parts.entries()) {
        const field = cronFields[index];
        for (const item of part.split(",")) {
            const match = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(item);
            if (!match) {
                return `its ${field.name} field "${part}" is not *, a number, a range or a step`;
            }
            const [, , from, to, step] = match;
            for (const value of [from, to].filter((v): v is string => v !== undefined).map(Number)) {
                if (value < field.min || value > field.max) {
                    return `its ${field.name} field "${part}" has ${value}, outside ${field.min}-${field.max}`;
                }
            }
            if (from !== undefined && to !== undefined && Number(to) < Number(from)) {
                return `its ${field.name} field "${part}" has a range that runs backwards`;
            }
            if (step !== undefined && Number(step) < 1) {
                return `its ${field.name} field "${part}" has a step of 0`;
            }
        }
    }
    return undefined;
}

export function cron() {
    return required(cronAllowed).superRefine((text, context) => {
        const problem = cronProblem(text);
        if (problem !== undefined) {
            context.addIssue({ code: "custom", message: `${problem}; allowed: ${cronAllowed}` });
        }
    });
}
