import assert from "node:assert/strict";
import pg from "pg";
import { createItemsRepository } from "../src/items-repository";
import { migrate } from "../src/migrate";
import { createDatabase, silentLogger } from "./helpers";

describe("items repository: list pages read the index", function () {
    let pool: pg.Pool;
    const plans: string[] = [];

    before(async function () {
        const databaseUrl = await createDatabase();
        await migrate(databaseUrl, silentLogger);
        pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
        // Enough rows that a full scan and sort would cost far more than walking the index.
        await pool.query("INSERT INTO items (name) SELECT 'row ' || n FROM generate_series(1, 5000) AS n");
        await pool.query("ANALYZE items");
    });
    after(async function () {
        await pool.end();
    });

    /** A pool whose queries are explained instead of run, so the test sees the plan of the repository's own SQL. */
    function explaining(): pg.Pool {
        const query = async (config: pg.QueryConfig) => {
            const { rows } = await pool.query<{ "QUERY PLAN": string }>(`EXPLAIN ${config.text}`, config.values);
            plans.push(rows.map((row) => row["QUERY PLAN"]).join("\n"));
            return { rows: [], rowCount: 0 };
        };
        return { query } as unknown as pg.Pool;
    }

    it("orders by the indexed columns, not by the formatted timestamps of the same names", async function () {
        const items = createItemsRepository(explaining());
        await items.list(20);
        await items.list(20, { createdAt: "2026-01-01T00:00:00.000000Z", id: "00000000-0000-4000-8000-000000000000" });
        assert.equal(plans.length, 2);
        for (const plan of plans) {
            assert.match(plan, /Index Scan using items_created_at_id_idx/, plan);
            assert.doesNotMatch(plan, /Sort|Seq Scan/, plan);
        }
    });
});
