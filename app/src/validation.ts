import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import type { FastifySchemaCompiler, FastifySchemaValidationError, FastifyServerOptions } from "fastify";

/** A UUID in its 36-character form only: ajv-formats also takes `urn:uuid:...`, which PostgreSQL refuses. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DECIMAL_INTEGER = /^-?[0-9]+$/;

/** Longest value quoted back in an error message. */
const QUOTE_MAX = 40;

function ajv(coerceTypes: boolean): Ajv {
    // verbose: errors carry the failing value and its schema, which the messages below quote.
    const instance = new Ajv({ allErrors: false, coerceTypes, removeAdditional: false, useDefaults: coerceTypes, verbose: true });
    addFormats(instance);
    instance.addFormat("uuid", UUID);
    return instance;
}

interface SchemaObject {
    readonly type?: unknown;
    readonly description?: string;
    readonly properties?: Record<string, SchemaObject>;
}

/**
 * Ajv coerces with Number(), which takes "0x10", "1e1", "+5", " 5" and "Infinity". An integer on the wire is
 * written in decimal: anything else is refused before Ajv sees it.
 */
type ValidationResult = ReturnType<FastifySchemaCompiler<unknown>>;

function decimalIntegersOnly(schema: SchemaObject, httpPart: string, validate: ValidateFunction): ValidationResult {
    const integers = Object.entries(schema.properties ?? {})
        .filter(([, property]) => property.type === "integer")
        .map(([key]) => key);
    if (integers.length === 0) return validate;
    const checked: ValidationResult = (data: Record<string, unknown> | null) => {
        for (const key of integers) {
            const value = data?.[key];
            if (typeof value === "string" && !DECIMAL_INTEGER.test(value)) {
                return { error: new Error(`${httpPart}/${key} must be a decimal integer (got ${quote(value)})`) };
            }
        }
        const valid = validate(data);
        checked.errors = validate.errors;
        return valid;
    };
    return checked;
}

/**
 * Bodies are checked strictly (no type coercion, unknown fields rejected, nothing silently removed), while
 * params and querystrings, which are always strings on the wire, are coerced. Request schemas are self-contained,
 * so the shared schemas (Item, Error: responses only) are not added here.
 */
export const schemaController: FastifyServerOptions["schemaController"] = {
    compilersFactory: {
        buildValidator: () => {
            const strict = ajv(false);
            const coercing = ajv(true);
            return ({ schema, httpPart }) => {
                if (httpPart === "body") return strict.compile(schema);
                const validate = decimalIntegersOnly(schema as SchemaObject, httpPart ?? "request", coercing.compile(schema));
                // Fastify takes any FastifyValidationResult from a validator; the factory's type only names Ajv's.
                return validate as unknown as ValidateFunction;
            };
        },
    },
};

/** Characters that would be invisible or ambiguous in a message, shown as escapes instead. */
const UNPRINTABLE = /(?! )[\p{C}\p{Z}]/gu;

function quote(value: unknown): string {
    if (typeof value === "string") {
        const characters = [...value];
        if (characters.length > QUOTE_MAX) return `a string of ${characters.length} characters`;
        return JSON.stringify(value).replace(UNPRINTABLE, (c) => `\\u{${c.codePointAt(0)?.toString(16)}}`);
    }
    return value === null || typeof value !== "object" ? JSON.stringify(value) : Array.isArray(value) ? "an array" : "an object";
}

/**
 * One message for the first validation error: the field, what is allowed and the value given. A pattern is
 * explained by its schema's description rather than quoted as a regular expression.
 */
export const formatSchemaErrors: FastifyServerOptions["schemaErrorFormatter"] = (errors: FastifySchemaValidationError[], dataVar) => {
    // Ajv's own errors, with the fields that `verbose` adds.
    const error = errors[0] as ErrorObject;
    const parent = (error.parentSchema ?? {}) as SchemaObject;
    const field = `${dataVar}${error.instancePath}`;
    switch (error.keyword) {
        case "required":
        case "minProperties":
            return new Error(`${field} ${error.message}`);
        case "additionalProperties": {
            const allowed = Object.keys(parent.properties ?? {}).join(", ");
            const extra = String(error.params.additionalProperty);
            return new Error(`${field} must NOT have additional properties: ${JSON.stringify(extra)} is not one of ${allowed}`);
        }
        case "pattern":
            return new Error(`${field} must be ${parent.description ?? error.message} (got ${quote(error.data)})`);
        default:
            return new Error(`${field} ${error.message} (got ${quote(error.data)})`);
    }
};
