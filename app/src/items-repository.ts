import type { Pool } from "pg";
import type { Position } from "./cursor";
import type { Item } from "./schemas";

/** What the item routes need from storage; the only place that knows the items table and its SQL. */
export interface ItemsRepository {
    create(fields: { readonly name: string; readonly description: string | null }): Promise<Item>;
    findById(id: string): Promise<Item | undefined>;
    /** Up to `limit` items after `after` (from the start when omitted), oldest first; `more` if others follow. */
    list(limit: number, after?: Position): Promise<{ items: Item[]; more: boolean }>;
    /** Changes the fields that are present; `description: null` clears it. */
    update(id: string, changes: { readonly name?: string; readonly description?: string | null }): Promise<Item | undefined>;
    /** True when the item existed. */
    remove(id: string): Promise<boolean>;
}

// Timestamps leave the database as UTC ISO strings with microseconds, so a cursor round-trips them exactly. Their
// output names shadow the columns in ORDER BY: the list orders by items.created_at, the indexed column, not by the
// formatted text, which cost a full scan and a sort of the table per page.
const ITEM_COLUMNS = `id, name, description,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at,
  to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS updated_at`;

/**
 * Named statements: each connection parses and plans a statement once and then only binds values, which takes
 * work off PostgreSQL on every request. The column lists are explicit, so a later migration that adds a column
 * does not change a prepared statement's result type.
 */
const SQL = {
    create: { name: "items-create", text: `INSERT INTO items (name, description) VALUES ($1, $2) RETURNING ${ITEM_COLUMNS}` },
    findById: { name: "items-find-by-id", text: `SELECT ${ITEM_COLUMNS} FROM items WHERE id = $1` },
    listFirst: { name: "items-list-first", text: `SELECT ${ITEM_COLUMNS} FROM items ORDER BY items.created_at, items.id LIMIT $1` },
    listAfter: {
        name: "items-list-after",
        text: `SELECT ${ITEM_COLUMNS} FROM items WHERE (created_at, id) > ($1::timestamptz, $2::uuid) ORDER BY items.created_at, items.id LIMIT $3`,
    },
    update: {
        name: "items-update",
        text: `UPDATE items SET
                 name = COALESCE($2, name),
                 description = CASE WHEN $3 THEN $4 ELSE description END,
                 updated_at = now()
               WHERE id = $1 RETURNING ${ITEM_COLUMNS}`,
    },
    remove: { name: "items-remove", text: "DELETE FROM items WHERE id = $1" },
} as const;

export function createItemsRepository(pool: Pool): ItemsRepository {
    return {
        async create({ name, description }) {
            const { rows } = await pool.query<Item>({ ...SQL.create, values: [name, description] });
            return rows[0];
        },

        async findById(id) {
            const { rows } = await pool.query<Item>({ ...SQL.findById, values: [id] });
            return rows[0];
        },

        async list(limit, after) {
            // One row more than asked tells whether another page follows.
            const { rows } =
                after === undefined
                    ? await pool.query<Item>({ ...SQL.listFirst, values: [limit + 1] })
                    : await pool.query<Item>({ ...SQL.listAfter, values: [after.createdAt, after.id, limit + 1] });
            return { items: rows.slice(0, limit), more: rows.length > limit };
        },

        async update(id, { name, description }) {
            const { rows } = await pool.query<Item>({
                ...SQL.update,
                values: [id, name ?? null, description !== undefined, description ?? null],
            });
            return rows[0];
        },

        async remove(id) {
            const { rowCount } = await pool.query({ ...SQL.remove, values: [id] });
            return rowCount !== 0;
        },
    };
}
