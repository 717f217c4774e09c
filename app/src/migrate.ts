import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import type { Logger } from "pino";
import { MIGRATION_LOCK_KEY, SCHEMA_MIGRATIONS_SQL } from "./schema-migrations";

/** Where the versioned SQL files live, next to dist/ in the image and next to src/ in the repo. */
export const MIGRATIONS_DIR = path.join(__dirname, "..", "migrations");

export interface Migration {
    readonly version: number;
    readonly name: string;
    readonly sql: string;
    readonly checksum: string;
}

/** Reads NNNN_name.sql files, in version order. Gaps and duplicates are packaging mistakes and throw. */
export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
    const migrations = readdirSync(dir)
        .filter((file) => file.endsWith(".sql"))
        .map((file) => {
            const match = /^(\d+)_([a-z0-9_]+)\.sql$/.exec(file);
            if (match === null) throw new Error(`migration file ${file} must be named NNNN_snake_case_name.sql`);
            const sql = readFileSync(path.join(dir, file), "utf8");
            return {
                version: Number(match[1]),
                name: match[2],
                sql,
                checksum: createHash("sha256").update(sql).digest("hex"),
            };
        })
        .sort((a, b) => a.version - b.version);
    migrations.forEach((migration, index) => {
        if (migration.version !== index + 1) {
            throw new Error(`migration versions must run 1, 2, 3... without gaps; found ${migration.version} at position ${index + 1}`);
        }
    });
    return migrations;
}

/** The schema version this release needs: the highest migration it ships. */
export function requiredSchemaVersion(migrations: readonly Migration[]): number {
    return migrations.length === 0 ? 0 : migrations[migrations.length - 1].version;
}

export interface MigrateResult {
    readonly applied: number[];
    readonly version: number;
}

/**
 * Applies pending migrations, each in its own transaction, while holding an advisory lock. A second replica
 * starting at the same time waits on pg_advisory_lock (it does not fail), then finds nothing left to do.
 * Uses its own connection without statement_timeout, because waiting for the lock or a long migration is normal.
 */
export async function migrate(
    databaseUrl: string,
    logger: Logger,
    migrations: readonly Migration[] = loadMigrations(),
): Promise<MigrateResult> {
    const client = new pg.Client({
        connectionString: databaseUrl,
        connectionTimeoutMillis: 5_000,
        application_name: "api-stack-app-migrate",
    });
    // A failure of the socket while idle must not crash the process; the awaited query below reports it.
    client.on("error", (err) => logger.warn({ err: { message: err.message } }, "migration connection failed"));
    await client.connect();
    try {
        // A role- or database-level statement_timeout must not cut the wait for the lock or a long migration.
        await client.query("SET statement_timeout = 0");
        logger.info("waiting for the migration lock");
        await client.query("SELECT pg_advisory_lock($1::bigint)", [MIGRATION_LOCK_KEY]);
        try {
            await client.query(SCHEMA_MIGRATIONS_SQL);
            const { rows } = await client.query<{ version: number; checksum: string; name: string }>(
                "SELECT version, name, checksum FROM schema_migrations ORDER BY version",
            );
            const done = new Map(rows.map((row) => [row.version, row]));
            const applied: number[] = [];
            for (const migration of migrations) {
                const previous = done.get(migration.version);
                if (previous !== undefined) {
                    if (previous.checksum !== migration.checksum) {
                        throw new Error(
                            `migration ${migration.version}_${migration.name} was changed after it was applied; add a new migration instead`,
                        );
                    }
                    continue;
                }
                logger.info({ version: migration.version, name: migration.name }, "applying migration");
                await client.query("BEGIN");
                try {
                    await client.query(migration.sql);
                    await client.query("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", [
                        migration.version,
                        migration.name,
                        migration.checksum,
                    ]);
                    await client.query("COMMIT");
                } catch (err) {
                    await client.query("ROLLBACK").catch(() => undefined);
                    throw err;
                }
                applied.push(migration.version);
            }
            const version = Math.max(requiredSchemaVersion(migrations), ...rows.map((row) => row.version));
            return { applied, version };
        } finally {
            await client.query("SELECT pg_advisory_unlock($1::bigint)", [MIGRATION_LOCK_KEY]).catch(() => undefined);
        }
    } finally {
        await client.end().catch(() => undefined);
    }
}

/**
 * The highest schema version recorded, 0 when nothing was ever migrated (no schema_migrations table yet):
 * what a process that must not migrate reads while it waits for the migration step.
 */
export async function recordedSchemaVersion(pool: pg.Pool): Promise<number> {
    try {
        return await currentSchemaVersion(pool);
    } catch (err) {
        if ((err as { code?: string }).code === "42P01") return 0; // undefined_table
        throw err;
    }
}

/** The highest schema version recorded in the database (0 before any migration). */
export async function currentSchemaVersion(pool: pg.Pool): Promise<number> {
    const { rows } = await pool.query<{ version: number }>("SELECT coalesce(max(version), 0) AS version FROM schema_migrations");
    return rows[0].version;
}
