/**
 * JSON schemas shared by the routes, the validator and the OpenAPI document. The routes' TypeScript types come
 * from these (TypeBox's Static), so a field is declared once.
 *
 * Patterns must mean the same to Ajv (ECMAScript, `u` flag) and to the clients that read /openapi.json, which
 * may use another regex dialect (Rust's and Python's in the schemathesis run): so no `\s`, `\p{...}` or `.`, no
 * surrogates and nothing beyond U+FFFF, only explicit classes with `\uXXXX` escapes.
 */
import { Type, type Static, type TString } from "@sinclair/typebox";
import { CURSOR_PATTERN } from "./cursor";

export const NAME_MAX = 200;
export const DESCRIPTION_MAX = 2000;
export const PAGE_MAX = 100;
export const PAGE_DEFAULT = 20;

/**
 * PostgreSQL text cannot hold NUL, so it is refused in every text field (rather than failing at the database).
 * Unpaired surrogates, which have no UTF-8 form, are refused with the JSON body (plugins/json-body.ts): a
 * pattern cannot state them in a form every client's regex engine compiles.
 */
const NUL = "\\u0000";

/**
 * What makes a name blank: White_Space, Default_Ignorable_Code_Point (zero-width and other invisible format
 * characters) and control characters, up to U+FFFF. test/schemas.test.ts checks this list against Unicode
 * property escapes. The few such characters beyond U+FFFF (tags, musical and shorthand format controls) count as
 * visible: a pattern with them makes schemathesis 4.32 build regular expressions its own validator rejects.
 */
export const INVISIBLE =
    "\\u0000-\\u0020\\u007F-\\u00A0\\u00AD\\u034F\\u061C\\u115F\\u1160\\u1680\\u17B4\\u17B5\\u180B-\\u180F" +
    "\\u2000-\\u200F\\u2028-\\u202F\\u205F-\\u206F\\u3000\\u3164\\uFE00-\\uFE0F\\uFEFF\\uFFA0\\uFFF0-\\uFFF8";

const TEXT_PATTERN = `^[^${NUL}]*$`;
// INVISIBLE includes NUL.
const NAME_PATTERN = `^[^${NUL}]*[^${INVISIBLE}][^${NUL}]*$`;

/** A string or null, as one schema with a type list: Ajv reports one clear error and OpenAPI 3.0 gets `nullable`. */
function nullable(schema: TString) {
    return Type.Unsafe<string | null>({ ...schema, type: ["string", "null"] });
}

export const ErrorBody = Type.Object(
    {
        error: Type.String({ description: 'HTTP reason phrase, e.g. "Bad Request".' }),
        message: Type.String({ description: "What went wrong and, where possible, what to change." }),
    },
    { $id: "Error", description: "Every error response: a short reason phrase and a human-readable message." },
);
export type ErrorBody = Static<typeof ErrorBody>;

export const Item = Type.Object(
    {
        id: Type.String({ format: "uuid" }),
        name: Type.String(),
        description: nullable(Type.String()),
        created_at: Type.String({ format: "date-time", description: "UTC, microsecond precision." }),
        updated_at: Type.String({ format: "date-time", description: "UTC, microsecond precision." }),
    },
    { $id: "Item" },
);
export type Item = Static<typeof Item>;

const name = Type.String({
    minLength: 1,
    maxLength: NAME_MAX,
    pattern: NAME_PATTERN,
    description: `1 to ${NAME_MAX} characters, at least one of them visible (not white space, control or zero-width), none of them NUL`,
});

const description = nullable(
    Type.String({
        maxLength: DESCRIPTION_MAX,
        pattern: TEXT_PATTERN,
        description: `null, or up to ${DESCRIPTION_MAX} characters, none of them NUL`,
    }),
);

export const CreateItemBody = Type.Object({ name, description: Type.Optional(description) }, { additionalProperties: false });

export const UpdateItemBody = Type.Object(
    { name: Type.Optional(name), description: Type.Optional(description) },
    { additionalProperties: false, minProperties: 1 },
);

export const ItemIdParams = Type.Object(
    { id: Type.String({ format: "uuid", description: "The item id: a UUID in its 36-character hexadecimal form." }) },
    { additionalProperties: false },
);

export const ListQuery = Type.Object(
    {
        limit: Type.Optional(
            Type.Integer({ minimum: 1, maximum: PAGE_MAX, default: PAGE_DEFAULT, description: "Page size, a decimal integer." }),
        ),
        cursor: Type.Optional(
            Type.String({
                pattern: CURSOR_PATTERN,
                description:
                    "the next_cursor of a previous page, of the form <created_at in microseconds since 1970>_<id> (any such " +
                    "value lists the items after that position); omit it for the first page",
            }),
        ),
    },
    { additionalProperties: false },
);

export const ItemPage = Type.Object({
    items: Type.Array(Type.Ref(Item)),
    next_cursor: nullable(
        Type.String({ pattern: CURSOR_PATTERN, description: "Pass as cursor to get the next page; null on the last page." }),
    ),
});
