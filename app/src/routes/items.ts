import type { FastifyInstance, FastifyReply } from "fastify";
import type { Pool } from "pg";
import { createItemBody, itemIdParams, itemPage, listQuery, updateItemBody } from "../schemas";

export interface ItemsRoutesOptions {
    readonly pool: Pool;
    /** API requests get 503 until this says the schema is current. */
    readonly isSchemaReady: () => boolean;
}

interface ItemRow {
    id: string;
    name: string;
    description: string | null;
    created_at: string;
    updated_at: string;
}

// Timestamps leave the database as UTC ISO strings with microseconds, so a cursor round-trips them exactly.
const ITEM_COLUMNS = `id, name, description,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at,
  to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS updated_at`;

const CURSOR_PATTERN = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)\|([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

function encodeCursor(row: ItemRow): string {
    return Buffer.from(`${row.created_at}|${row.id}`, "utf8").toString("base64url");
}

function decodeCursor(cursor: string): { createdAt: string; id: string } | undefined {
    const match = CURSOR_PATTERN.exec(Buffer.from(cursor, "base64url").toString("utf8"));
    return match === null ? undefined : { createdAt: match[1], id: match[2] };
}

function notFound(reply: FastifyReply, id: string) {
    return reply.code(404).send({ error: "Not Found", message: `item ${id} does not exist` });
}

const errorResponses = {
    400: { $ref: "Error#" },
    404: { $ref: "Error#" },
    503: { $ref: "Error#" },
};

export async function itemsRoutes(app: FastifyInstance, options: ItemsRoutesOptions): Promise<void> {
    const { pool } = options;

    app.addHook("onRequest", async (_request, reply) => {
        if (!options.isSchemaReady()) {
            reply.header("retry-after", "5");
            return reply.code(503).send({ error: "Service Unavailable", message: "the database schema is not ready yet; retry later" });
        }
        return undefined;
    });

    app.post<{ Body: { name: string; description?: string | null } }>(
        "/items",
        {
            schema: {
                summary: "Create an item",
                body: createItemBody,
                response: { 201: { $ref: "Item#" }, ...errorResponses },
            },
        },
        async (request, reply) => {
            const { name, description = null } = request.body;
            const { rows } = await pool.query<ItemRow>(`INSERT INTO items (name, description) VALUES ($1, $2) RETURNING ${ITEM_COLUMNS}`, [
                name,
                description,
            ]);
            reply.header("location", `${request.routeOptions.url ?? ""}/${rows[0].id}`);
            return reply.code(201).send(rows[0]);
        },
    );

    app.get<{ Querystring: { limit: number; cursor?: string } }>(
        "/items",
        {
            schema: {
                summary: "List items, oldest first, one page at a time",
                querystring: listQuery,
                response: { 200: itemPage, ...errorResponses },
            },
        },
        async (request, reply) => {
            const { limit, cursor } = request.query;
            let rows: ItemRow[];
            if (cursor === undefined) {
                ({ rows } = await pool.query<ItemRow>(`SELECT ${ITEM_COLUMNS} FROM items ORDER BY created_at, id LIMIT $1`, [limit + 1]));
            } else {
                const position = decodeCursor(cursor);
                if (position === undefined) {
                    return reply.code(400).send({ error: "Bad Request", message: "querystring/cursor is not a cursor this API issued" });
                }
                ({ rows } = await pool.query<ItemRow>(
                    `SELECT ${ITEM_COLUMNS} FROM items WHERE (created_at, id) > ($1::timestamptz, $2::uuid)
           ORDER BY created_at, id LIMIT $3`,
                    [position.createdAt, position.id, limit + 1],
                ));
            }
            const page = rows.slice(0, limit);
            const nextCursor = rows.length > limit ? encodeCursor(page[page.length - 1]) : null;
            return { items: page, next_cursor: nextCursor };
        },
    );

    app.get<{ Params: { id: string } }>(
        "/items/:id",
        {
            schema: {
                summary: "Get one item",
                params: itemIdParams,
                response: { 200: { $ref: "Item#" }, ...errorResponses },
            },
        },
        async (request, reply) => {
            const { rows } = await pool.query<ItemRow>(`SELECT ${ITEM_COLUMNS} FROM items WHERE id = $1`, [request.params.id]);
            return rows.length === 0 ? notFound(reply, request.params.id) : rows[0];
        },
    );

    app.patch<{ Params: { id: string }; Body: { name?: string; description?: string | null } }>(
        "/items/:id",
        {
            schema: {
                summary: "Change the name and/or the description of an item",
                params: itemIdParams,
                body: updateItemBody,
                response: { 200: { $ref: "Item#" }, ...errorResponses },
            },
        },
        async (request, reply) => {
            const { name, description } = request.body;
            const { rows } = await pool.query<ItemRow>(
                `UPDATE items SET
           name = COALESCE($2, name),
           description = CASE WHEN $3 THEN $4 ELSE description END,
           updated_at = now()
         WHERE id = $1 RETURNING ${ITEM_COLUMNS}`,
                [request.params.id, name ?? null, description !== undefined, description ?? null],
            );
            return rows.length === 0 ? notFound(reply, request.params.id) : rows[0];
        },
    );

    app.delete<{ Params: { id: string } }>(
        "/items/:id",
        {
            schema: {
                summary: "Delete an item",
                params: itemIdParams,
                response: { 204: { type: "null", description: "Deleted." }, ...errorResponses },
            },
        },
        async (request, reply) => {
            const { rowCount } = await pool.query("DELETE FROM items WHERE id = $1", [request.params.id]);
            return rowCount === 0 ? notFound(reply, request.params.id) : reply.code(204).send();
        },
    );
}
