/**
 * The migrations' bookkeeping: the lock around every change of the schema and the table that records what ran.
 * Plain constants without imports, so that the deployment's own tests run exactly this SQL.
 */

/**
 * Key of the session-level advisory lock that serialises migrations between replicas; the cluster's roles Job takes
 * the same key, so grants and migrations never interleave. Any constant works as long as every release uses the same
 * one; this is sha256("api-stack:migrations") cut to a positive 63-bit integer.
 */
export const MIGRATION_LOCK_KEY = "1637546799593672286";

/**
 * Creates schema_migrations when missing and keeps its writes the owner's. The roles Job may run before the first
 * migration (it runs beside the migration Job), and its default privileges then grant every new table's writes to
 * the API's group, this one included; the API must only read it. One simple query, so one transaction.
 */
export const SCHEMA_MIGRATIONS_SQL = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version integer PRIMARY KEY,
  name text NOT NULL,
  checksum text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);
DO $$
DECLARE
  writer regrole;
BEGIN
  FOR writer IN
    SELECT DISTINCT acl.grantee::regrole
    FROM pg_class AS c, aclexplode(c.relacl) AS acl
    WHERE c.oid = 'schema_migrations'::regclass
      AND acl.grantee NOT IN (0, c.relowner)
      AND acl.privilege_type IN ('INSERT', 'UPDATE', 'DELETE')
  LOOP
    EXECUTE format('REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM %s', writer);
  END LOOP;
END $$;`;
