/** JSON schemas shared by the routes, the validator and the OpenAPI document. */

export const NAME_MAX = 200;
export const DESCRIPTION_MAX = 2000;
export const PAGE_MAX = 100;

export const errorSchema = {
    $id: "Error",
    type: "object",
    description: "Every error response: a short reason phrase and a human-readable message.",
    required: ["error", "message"],
    properties: {
        error: { type: "string", description: 'HTTP reason phrase, e.g. "Bad Request".' },
        message: { type: "string", description: "What went wrong and, where possible, what to change." },
    },
} as const;

export const itemSchema = {
    $id: "Item",
    type: "object",
    required: ["id", "name", "description", "created_at", "updated_at"],
    properties: {
        id: { type: "string", format: "uuid" },
        name: { type: "string" },
        description: { type: ["string", "null"] },
        created_at: { type: "string", format: "date-time", description: "UTC, microsecond precision." },
        updated_at: { type: "string", format: "date-time", description: "UTC, microsecond precision." },
    },
} as const;

const nameSchema = {
    type: "string",
    minLength: 1,
    maxLength: NAME_MAX,
    pattern: "\\S",
    description: `1 to ${NAME_MAX} characters, not only white space.`,
} as const;

const descriptionSchema = {
    type: ["string", "null"],
    maxLength: DESCRIPTION_MAX,
    description: `Up to ${DESCRIPTION_MAX} characters, or null.`,
} as const;

export const createItemBody = {
    type: "object",
    additionalProperties: false,
    required: ["name"],
    properties: { name: nameSchema, description: descriptionSchema },
} as const;

export const updateItemBody = {
    type: "object",
    additionalProperties: false,
    minProperties: 1,
    properties: { name: nameSchema, description: descriptionSchema },
} as const;

export const itemIdParams = {
    type: "object",
    additionalProperties: false,
    required: ["id"],
    properties: { id: { type: "string", format: "uuid", description: "The item id (a UUID)." } },
} as const;

export const listQuery = {
    type: "object",
    additionalProperties: false,
    properties: {
        limit: { type: "integer", minimum: 1, maximum: PAGE_MAX, default: 20, description: "Page size." },
        cursor: {
            type: "string",
            maxLength: 200,
            pattern: "^[A-Za-z0-9_-]+$",
            description: "The next_cursor of the previous page; omit for the first page.",
        },
    },
} as const;

export const itemPage = {
    type: "object",
    required: ["items", "next_cursor"],
    properties: {
        items: { type: "array", items: { $ref: "Item#" } },
        next_cursor: {
            type: ["string", "null"],
            description: "Pass as cursor to get the next page; null on the last page.",
        },
    },
} as const;
