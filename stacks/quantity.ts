/**
 * Kubernetes resource quantities, limited to the canonical spellings the API server echoes back.
 * Accepting only these (`250m`, `2`, `128Mi`, `10Gi`) keeps previews free of perpetual diffs that
 * `0.25` or `128M` would cause after the server normalises them.
 */

const cpuPattern = /^([1-9][0-9]*)(m?)$/;
const bytesPattern = /^([1-9][0-9]*)(Ki|Mi|Gi|Ti)?$/;
const binaryUnits: Record<string, number> = { "": 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };

export const cpuFormat = "a CPU quantity such as 250m or 1 (millicores with m, or whole cores)";
export const bytesFormat = "a size such as 128Mi or 10Gi (a positive integer with Ki, Mi, Gi or Ti)";

/** Millicores of a canonical CPU quantity, or undefined when the text is not one. */
export function parseCpu(text: string): number | undefined {
    const match = cpuPattern.exec(text);
    if (!match) {
        return undefined;
    }
    const amount = Number(match[1]);
    return match[2] === "m" ? amount : amount * 1000;
}

/** Bytes of a canonical binary-unit quantity, or undefined when the text is not one. */
export function parseBytes(text: string): number | undefined {
    const match = bytesPattern.exec(text);
    if (!match) {
        return undefined;
    }
    return Number(match[1]) * binaryUnits[match[2] ?? ""];
}
