/**
 * The SQL that gives the API least privilege, as pure functions so that tests read it and run it.
 *
 * Roles: a group role (NOLOGIN) holds the grants; two login roles are members of it and take turns
 * from one password rotation to the next. A rotation sets a new password on the login role that is
 * not in use, the API's Secret moves to it and the pods roll, while the old login keeps working
 * until its grace period ends (VALID UNTIL): PostgreSQL has one password per role, so a single
 * login role could not accept both passwords while the pods roll.
 */

/** The group role and its two login roles. */
export interface ApiRoles {
    readonly group: string;
    readonly logins: readonly [string, string];
}

export function apiRoles(group: string): ApiRoles {
    return { group, logins: [`${group}_a`, `${group}_b`] };
}

/** The login role of rotation `rotation`, and the one it takes over from. */
export function loginOfRotation(roles: ApiRoles, rotation: number): { current: string; previous: string } {
    const index = rotation % 2;
    return { current: roles.logins[index], previous: roles.logins[1 - index] };
}

/**
 * The key of the advisory lock that the API's migrations hold (MIGRATION_LOCK_KEY in
 * app/src/schema-migrations.ts; a unit test keeps the two equal). The roles Job runs beside the
 * migration Job and takes it too, so grants and migrations never interleave, in either order.
 */
export const migrationLockKey = "1637546799593672286";

export interface RolesSqlArgs {
    readonly roles: ApiRoles;
    /** The database the API may use, and the only one its roles may connect to. */
    readonly databaseName: string;
    /** The owner role that creates the API's tables (runs the migrations). */
    readonly owner: string;
    /** The rotation whose login role gets the password. */
    readonly rotation: number;
    /** How long the previous login's password keeps working, for the pods that still use it. */
    readonly graceMinutes: number;
}

/**
 * An idempotent psql script, run as the owner in the API's database: it creates what is missing
 * and resets what differs, so a rerun (a restore, a lost volume) converges. The new password comes
 * from the environment variable LOGIN_PASSWORD (psql's \getenv), never from the script.
 */
export function rolesSql(args: RolesSqlArgs): string {
    const { group, logins } = args.roles;
    const { current, previous } = loginOfRotation(args.roles, args.rotation);
    const attributes = "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS";
    return [
        "\\set ON_ERROR_STOP on",
        "\\getenv login_password LOGIN_PASSWORD",
        "BEGIN;",
        "DO $$ BEGIN",
        `  PERFORM pg_advisory_xact_lock(${migrationLockKey});`,
        ...[group, ...logins].map(
            (role) => `  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${role}') THEN CREATE ROLE ${role}; END IF;`,
        ),
        "END $$;",
        `ALTER ROLE ${group} NOLOGIN ${attributes};`,
        ...logins.map((login) => `ALTER ROLE ${login} LOGIN INHERIT ${attributes};`),
        ...logins.map((login) => `GRANT ${group} TO ${login};`),
        `ALTER ROLE ${current} PASSWORD :'login_password' VALID UNTIL 'infinity';`,
        "-- The previous login works until its grace ends; a rerun never extends it.",
        `SELECT format('ALTER ROLE %I VALID UNTIL %L', rolname, least(coalesce(rolvaliduntil, 'infinity'), now() + interval '${args.graceMinutes} minutes'))`,
        `  FROM pg_authid WHERE rolname = '${previous}' \\gexec`,
        "-- CONNECT to this database only: PUBLIC's default CONNECT goes from every database.",
        "SELECT format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', datname) FROM pg_database WHERE datallowconn \\gexec",
        `GRANT CONNECT ON DATABASE ${args.databaseName} TO ${group};`,
        "-- Data only: no CREATE on the schema (no DDL), and the tables stay the owner's (no DROP, ALTER, TRUNCATE).",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC;",
        `GRANT USAGE ON SCHEMA public TO ${group};`,
        `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${group};`,
        `GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${group};`,
        `ALTER DEFAULT PRIVILEGES FOR ROLE ${args.owner} IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${group};`,
        `ALTER DEFAULT PRIVILEGES FOR ROLE ${args.owner} IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO ${group};`,
        "-- The migrations' bookkeeping: the API reads it to check the schema is current, and never writes it.",
        `SELECT 'REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM ${group}' WHERE to_regclass('public.schema_migrations') IS NOT NULL \\gexec`,
        "COMMIT;",
        "",
    ].join("\n");
}
