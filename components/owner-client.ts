import * as k8s from "@pulumi/kubernetes";
import type { PostgresServer } from "./postgres";

/** Keys of the owner's password and connection URL in the credentials Secret. */
export const ownerSecretKeys = { password: "password", url: "url" } as const;

/**
 * The libpq environment of a Job that works on the database as its owner (psql, pg_dump): server,
 * database and role by value, the password from the owner's Secret at start, so that the spec holds
 * only the Secret's name.
 * @param settings more libpq variables (a connect timeout), placed before the password
 */
export function ownerClientEnv(
    server: PostgresServer,
    settings: readonly k8s.types.input.core.v1.EnvVar[] = [],
): k8s.types.input.core.v1.EnvVar[] {
    return [
        { name: "PGHOST", value: server.host },
        { name: "PGPORT", value: String(server.port) },
        { name: "PGDATABASE", value: server.databaseName },
        { name: "PGUSER", value: server.ownerUser },
        ...settings,
        { name: "PGPASSWORD", valueFrom: { secretKeyRef: { name: server.ownerSecretName, key: ownerSecretKeys.password } } },
    ];
}
