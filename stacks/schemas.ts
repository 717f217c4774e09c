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

export function integer(min: number, max: number) {
    const allowed = `an integer from ${min} to ${max}`;
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

/** Absent and empty both mean "not set": Pulumi.yaml gives optional keys an empty default. */
export function optional<T extends z.ZodType>(schema: T) {
    return z.preprocess((value) => (value === "" ? undefined : value), schema.optional());
}
