import { readFileSync } from "node:fs";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

/**
 * What the process does about the schema at start. `apply`: run pending migrations under an advisory
 * lock (docker compose, local runs). `check`: only wait until the schema is current, because a separate
 * step with the owner's role migrates it (the cluster's migration Job); the API's own role may not run DDL.
 */
export type MigrationsMode = "apply" | "check";
const MIGRATIONS_MODES: readonly MigrationsMode[] = ["apply", "check"];

export interface Config {
    /** PostgreSQL connection string. Secret: never log it. */
    readonly databaseUrl: string;
    readonly port: number;
    readonly logLevel: LogLevel;
    readonly migrations: MigrationsMode;
}

/** A configuration problem, reported as one line that names the variable and never its secret value. */
export class ConfigError extends Error {
    constructor(
        readonly variable: string,
        detail: string,
    ) {
        super(`${variable} ${detail}`);
        this.name = "ConfigError";
    }
}

const LOG_LEVELS: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

function readDatabaseUrl(env: NodeJS.ProcessEnv): { value: string; variable: string } {
    const inline = env.DATABASE_URL;
    const file = env.DATABASE_URL_FILE;
    if (inline !== undefined && inline !== "" && file !== undefined && file !== "") {
        throw new ConfigError("DATABASE_URL_FILE", "and DATABASE_URL are both set: set only one of them");
    }
    if (file !== undefined && file !== "") {
        let content: string;
        try {
            content = readFileSync(file, "utf8");
        } catch (err) {
            const code = (err as NodeJS.ErrnoException).code ?? "unknown error";
            throw new ConfigError("DATABASE_URL_FILE", `points at ${file}, which cannot be read (${code})`);
        }
        // Secrets mounted from files usually end with a newline; anything else around the URL is a mistake too.
        return { value: content.trim(), variable: "DATABASE_URL_FILE" };
    }
    if (inline === undefined || inline === "") {
        throw new ConfigError("DATABASE_URL", "is not set: set DATABASE_URL or DATABASE_URL_FILE to a postgres:// URL");
    }
    return { value: inline.trim(), variable: "DATABASE_URL" };
}

function validateDatabaseUrl(value: string, variable: string): void {
    const where = variable === "DATABASE_URL_FILE" ? "the file named by DATABASE_URL_FILE" : variable;
    if (value === "") {
        throw new ConfigError(variable, `is empty: ${where} must hold a postgres:// URL`);
    }
    let url: URL;
    try {
        url = new URL(value);
    } catch {
        // The message never echoes the value: it may hold a password.
        throw new ConfigError(variable, `is malformed: ${where} must hold a URL like postgres://user:password@host:5432/db`);
    }
    if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
        throw new ConfigError(variable, `has scheme "${url.protocol}": ${where} must start with postgres:// or postgresql://`);
    }
    if (url.hostname === "" && !url.searchParams.has("host")) {
        throw new ConfigError(variable, `has no host: ${where} must name the database server`);
    }
}

function readPort(env: NodeJS.ProcessEnv): number {
    const raw = env.PORT;
    if (raw === undefined || raw === "") return 8000;
    if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 65535) {
        throw new ConfigError("PORT", `is "${raw}": it must be an integer from 1 to 65535 (default 8000)`);
    }
    return Number(raw);
}

function readLogLevel(env: NodeJS.ProcessEnv): LogLevel {
    const raw = env.LOG_LEVEL;
    if (raw === undefined || raw === "") return "info";
    const level = raw.toLowerCase() as LogLevel;
    if (!LOG_LEVELS.includes(level)) {
        throw new ConfigError("LOG_LEVEL", `is "${raw}": it must be one of ${LOG_LEVELS.join(", ")} (default info)`);
    }
    return level;
}

function readMigrations(env: NodeJS.ProcessEnv): MigrationsMode {
    const raw = env.MIGRATIONS;
    if (raw === undefined || raw === "") return "apply";
    if (!MIGRATIONS_MODES.includes(raw as MigrationsMode)) {
        throw new ConfigError("MIGRATIONS", `is "${raw}": it must be one of ${MIGRATIONS_MODES.join(", ")} (default apply)`);
    }
    return raw as MigrationsMode;
}

/** Reads and validates the whole configuration once; throws ConfigError on the first bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
    const { value, variable } = readDatabaseUrl(env);
    validateDatabaseUrl(value, variable);
    return Object.freeze({
        databaseUrl: value,
        port: readPort(env),
        logLevel: readLogLevel(env),
        migrations: readMigrations(env),
    });
}
