import { z } from "zod";
import { taintEffects, tolerationOperators } from "../components/pod";

/**
 * Schemas of the keys that say where the API's pods may run: a node selector and tolerations, in
 * the shapes Kubernetes (and every Helm chart's values) use. Pulumi hands object and list config to
 * the program as JSON text, so each schema parses that text first. The rules are the API server's
 * own, so that a bad value fails at preview rather than half-way through an update.
 */

const labelNameText = "at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit";
const labelKeyAllowed = `a label key: an optional DNS subdomain prefix and '/', then a name of ${labelNameText}`;
const labelValueAllowed = `a label value: empty, or ${labelNameText}`;
const nodeSelectorAllowed = 'a map of node label key to value, such as {"type": "kwok"}';
const tolerationFields = ["key", "operator", "value", "effect", "tolerationSeconds"];
const tolerationsAllowed = `a list of tolerations, each with the fields ${tolerationFields.join(", ")}`;

const labelName = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A qualified name as Kubernetes checks label keys: `[prefix/]name`. */
function isLabelKey(key: string): boolean {
    const parts = key.split("/");
    const name = parts[parts.length - 1];
    const prefixOk = parts.length === 1 || (parts.length === 2 && parts[0].length <= 253 && dnsSubdomain.test(parts[0]));
    return prefixOk && name.length <= 63 && labelName.test(name);
}

function isLabelValue(value: string): boolean {
    return value === "" || (value.length <= 63 && labelName.test(value));
}

const labelKey = () => z.string({ error: `allowed: ${labelKeyAllowed}` }).refine(isLabelKey, `allowed: ${labelKeyAllowed}`);
const labelValue = () =>
    z
        .string({ error: `allowed: ${labelValueAllowed}, as a string (quote it in YAML)` })
        .refine(isLabelValue, `allowed: ${labelValueAllowed}`);

/** JSON text to a value; "" and absent are "not set", and an empty map or list counts as not set too. */
function fromJson<T extends z.ZodType>(allowed: string, schema: T) {
    return z
        .string()
        .optional()
        .transform((text, context) => {
            if (text === undefined || text === "") {
                return undefined;
            }
            try {
                return JSON.parse(text) as unknown;
            } catch {
                context.addIssue({ code: "custom", message: `is not JSON; allowed: ${allowed}` });
                return z.NEVER;
            }
        })
        .pipe(schema.optional())
        .transform((value) => (isEmpty(value) ? undefined : value));
}

function isEmpty(value: unknown): boolean {
    return value === undefined || (typeof value === "object" && value !== null && Object.keys(value).length === 0);
}

/** `apiNodeSelector`: the labels a node must carry. */
export function nodeSelector() {
    return fromJson(
        nodeSelectorAllowed,
        z.record(labelKey(), labelValue(), {
            error: (issue) => (issue.code === "invalid_key" ? undefined : `allowed: ${nodeSelectorAllowed}`),
        }),
    );
}

const toleration = z
    .strictObject(
        {
            // Empty, with Exists, tolerates every taint.
            key: z
                .string({ error: `allowed: ${labelKeyAllowed}, or empty` })
                .refine((key) => key === "" || isLabelKey(key), `allowed: ${labelKeyAllowed}, or empty`)
                .optional(),
            operator: z.enum(tolerationOperators, { error: `allowed: one of ${tolerationOperators.join(", ")}` }).optional(),
            value: labelValue().optional(),
            effect: z
                .enum(taintEffects, { error: 'allowed: one of NoSchedule, PreferNoSchedule, NoExecute, or "" (every effect)' })
                .optional(),
            tolerationSeconds: z
                .number({ error: "allowed: a whole number of seconds, 0 or more" })
                .int("allowed: a whole number of seconds, 0 or more")
                .min(0, "allowed: a whole number of seconds, 0 or more")
                .optional(),
        },
        {
            error: (issue) =>
                issue.code === "unrecognized_keys"
                    ? `has ${issue.keys.map((key) => JSON.stringify(key)).join(", ")}, which a toleration does not have; allowed: the fields ${tolerationFields.join(", ")}`
                    : `allowed: a toleration, an object with the fields ${tolerationFields.join(", ")}`,
        },
    )
    .superRefine((given, context) => {
        const operator = given.operator ?? "Equal";
        if (!given.key && operator !== "Exists") {
            context.addIssue({
                code: "custom",
                path: ["operator"],
                input: operator,
                message: "is not allowed without a key; allowed: operator Exists when key is empty (it tolerates every taint)",
            });
        }
        if (operator === "Exists" && given.value) {
            context.addIssue({
                code: "custom",
                path: ["value"],
                input: given.value,
                message: "is not allowed with operator Exists, which matches any value; allowed: no value, or operator Equal",
            });
        }
        if (given.tolerationSeconds !== undefined && given.effect !== "NoExecute") {
            context.addIssue({
                code: "custom",
                path: ["tolerationSeconds"],
                input: given.tolerationSeconds,
                message: `is only allowed with effect NoExecute, not ${JSON.stringify(given.effect ?? "")}; allowed: effect NoExecute, or no tolerationSeconds`,
            });
        }
    });

/** `apiTolerations`: the taints the API's pods may be scheduled despite. */
export function tolerations() {
    return fromJson(tolerationsAllowed, z.array(toleration, { error: `allowed: ${tolerationsAllowed}` }));
}
