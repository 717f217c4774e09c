import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as crypto from "crypto";
import { migrationPodTemplate } from "./api-pod";
import { apiRoles, loginOfRotation, rolesSql } from "./database-roles";
import { commonLabels, selectorLabels, WorkloadIdentity } from "./labels";
import { databaseClientPolicy } from "./network";
import { ownerClientEnv, ownerJobPodTemplate, ownerSecretKeys } from "./owner-job";
import type { PostgresServer } from "./postgres";

/** Arguments of {@link DatabaseAccess}. */
export interface DatabaseAccessArgs {
    /** Namespace to create everything in. */
    readonly namespace: pulumi.Input<string>;
    /** `app.kubernetes.io/instance` of the objects, usually the stack name. */
    readonly instance: string;
    /** The database, administered as its owner. */
    readonly server: PostgresServer;
    /** The API's image: it carries the migrations, and its content tag names the migration Job. */
    readonly image: pulumi.Input<string>;
    /** Change this number to give the API a new password (a keeper of the generated one). @default 0 */
    readonly passwordRotation?: number;
    /** Minutes the previous password keeps working after a rotation, while the pods roll. @default 10 */
    readonly passwordGraceMinutes?: number;
    /** The API's group role; its login roles are `<role>_a` and `<role>_b`. @default "api" */
    readonly role?: string;
}

/** What the API needs to reach the database: give it whole to the API's component. */
export interface PostgresConnection {
    /** In-cluster DNS name of the database Service. */
    readonly host: pulumi.Output<string>;
    readonly port: number;
    /** Name of the Secret holding the connection URL. */
    readonly secretName: pulumi.Output<string>;
    /** Key of the connection URL in that Secret. */
    readonly urlKey: string;
    /** A hash of the Secret's content: put it on pod templates so a changed Secret rolls them. */
    readonly secretChecksum: pulumi.Output<string>;
    /** Labels of the database pods, for the client's egress policy. */
    readonly selector: Record<string, string>;
    /** What must have finished before the client's pods change: the release's migration Job. */
    readonly prerequisites: readonly pulumi.Resource[];
}

/** The identity of the pods of the database Jobs (migrations, roles), exported so that the database admits them. */
export function databaseJobIdentity(instance: string): WorkloadIdentity {
    return { name: "database-job", instance, component: "database-admin" };
}

/**
 * The migration Job's name: `api-migrate-` and the image's content tag (or digest), so that each
 * release runs its migrations exactly once and an unchanged image runs nothing.
 */
export function migrationJobName(imageRef: string): string {
    const digest = /@sha256:([a-f0-9]{16})/.exec(imageRef)?.[1];
    const tag = /:([A-Za-z0-9_][A-Za-z0-9_.-]*)(@|$)/.exec(imageRef.replace(/^[^/]*\//, ""))?.[1];
    const id = (digest ?? tag ?? "untagged")
        .toLowerCase()
        .replace(/[^a-z0-9-]+/g, "-")
        .replace(/^-+|-+$/g, "");
    return `api-migrate-${id}`.slice(0, 63).replace(/-+$/, "");
}

/** The API's Secret's name: `api-database-`, then 10 hex digits of the checksum of its content. */
export function apiSecretName(checksum: string): string {
    return `api-database-${checksum.slice(0, 10)}`;
}

/** Keys of the rotation's Secret and of the API's Secret. */
const loginPasswordKey = "password";
const urlKey = "url";

/** The roles Job's pod: psql of the server's major, as the owner, running {@link rolesSql}. */
export function rolesPodTemplate(args: {
    readonly labels: Record<string, string>;
    readonly server: PostgresServer;
    readonly sql: string;
    readonly loginSecretName: pulumi.Input<string>;
}): k8s.types.input.core.v1.PodTemplateSpec {
    return ownerJobPodTemplate({
        labels: args.labels,
        server: args.server,
        name: "roles",
        // The server may still be restarting after its first initialisation when this runs (its
        // readiness can pass on the temporary init server): wait for it, bounded, before the SQL.
        command: [
            "bash",
            "-c",
            'set -euo pipefail\nfor _ in $(seq 1 60); do pg_isready --quiet --timeout=2 && break; sleep 1; done\nprintf "%s\\n" "$ROLES_SQL" | psql --no-psqlrc --quiet --file=-',
        ],
        env: [
            // Kubernetes expands $(NAME) in env values and reads "$$" as an escaped "$": double every
            // "$" so that the SQL's dollar quoting (DO $$ ... $$) reaches psql as written.
            { name: "ROLES_SQL", value: args.sql.replace(/\$/g, "$$$$") },
            ...ownerClientEnv(args.server, [{ name: "PGCONNECT_TIMEOUT", value: "10" }]),
            // From the rotation's Secret at start, like the owner's password.
            { name: "LOGIN_PASSWORD", valueFrom: { secretKeyRef: { name: args.loginSecretName, key: loginPasswordKey } } },
        ],
    });
}

/**
 * What the API needs from the database before its pods start, in this order:
 * 1. the schema, migrated by a Job per release as the owner (named by the image's content tag);
 * 2. the API's own roles with least privilege, and the password of this rotation, set by a Job per
 *    rotation as the owner, before the API's Secret changes;
 * 3. the API's Secret, holding the URL of this rotation's login role; its checksum rolls the pods.
 * A failed Job fails `pulumi up` there, before anything after it changes.
 *
 * Why Jobs and not an initdb script: initdb scripts run only on an empty volume, while these must
 * also reach a database created before this program had roles, and converge again after a restore.
 * Each step is idempotent; a rerun (under a new name) is harmless.
 */
export class DatabaseAccess extends pulumi.ComponentResource {
    /** How the API reaches the database, as its own login role. */
    public readonly connection: PostgresConnection;
    public readonly migrationJobName: pulumi.Output<string>;
    /** The login role the API uses in this rotation. */
    public readonly login: string;

    constructor(name: string, args: DatabaseAccessArgs, opts?: pulumi.ComponentResourceOptions) {
        super("api-stack:database:DatabaseAccess", name, {}, opts);
        const rotation = args.passwordRotation ?? 0;
        const graceMinutes = args.passwordGraceMinutes ?? 10;
        const roles = apiRoles(args.role ?? "api");
        if (!Number.isInteger(rotation) || rotation < 0) {
            throw new pulumi.ResourceError(`DatabaseAccess ${name}: args.passwordRotation must be an integer >= 0, got ${rotation}`, this);
        }
        if (!Number.isInteger(graceMinutes) || graceMinutes < 0) {
            throw new pulumi.ResourceError(
                `DatabaseAccess ${name}: args.passwordGraceMinutes must be an integer >= 0, got ${graceMinutes}`,
                this,
            );
        }
        if ([roles.group, ...roles.logins].includes(args.server.ownerUser)) {
            throw new pulumi.ResourceError(
                `DatabaseAccess ${name}: the owner "${args.server.ownerUser}" must differ from the API's roles ${[roles.group, ...roles.logins].join(", ")}`,
                this,
            );
        }
        const identity = databaseJobIdentity(args.instance);
        const labels = commonLabels(identity);
        this.login = loginOfRotation(roles, rotation).current;

        new k8s.networking.v1.NetworkPolicy(
            `${name}-network-policy`,
            {
                metadata: { name: "database-jobs", namespace: args.namespace, labels },
                spec: databaseClientPolicy(selectorLabels(identity), args.server),
            },
            { parent: this },
        );

        // A Job that failed (the database was down) runs again, as a replacement, at the next `pulumi up`;
        // without this the provider would only wait again for the failed one.
        const annotations = { "pulumi.com/replaceUnready": "true" };
        // A Job is replaced when its name changes. Delete first: after a failed release is rolled back,
        // the Job to recreate has the name of the one a create-first replace still holds for deletion, and
        // that deletion would then remove the Job just made. Only dependsOn edges lead here, so nothing
        // that depends on these Jobs is replaced with them.
        const jobOptions: pulumi.CustomResourceOptions = { parent: this, deleteBeforeReplace: true };
        const job = (spec: k8s.types.input.core.v1.PodTemplateSpec): k8s.types.input.batch.v1.JobSpec => ({
            // One retry for a passing hiccup; the deadline bounds a database that is down.
            backoffLimit: 1,
            activeDeadlineSeconds: 300,
            template: spec,
        });

        this.migrationJobName = pulumi.output(args.image).apply(migrationJobName);
        const migration = new k8s.batch.v1.Job(
            `${name}-migrate`,
            {
                metadata: { name: this.migrationJobName, namespace: args.namespace, labels, annotations },
                spec: job(
                    migrationPodTemplate({
                        labels,
                        image: args.image,
                        secretName: args.server.ownerSecretName,
                        urlKey: ownerSecretKeys.url,
                    }),
                ),
            },
            { ...jobOptions, dependsOn: [args.server.deployment] },
        );

        // Letters and digits only, so the password needs no escaping inside the URL.
        const password = new random.RandomPassword(
            `${name}-password`,
            { length: 32, special: false, keepers: { rotation: String(rotation) } },
            { parent: this },
        );
        // One Secret per rotation, read by its Job: the API's Secret changes only after the Job succeeded.
        const loginSecret = new k8s.core.v1.Secret(
            `${name}-rotation`,
            {
                metadata: { name: `api-database-rotation-${rotation}`, namespace: args.namespace, labels },
                type: "Opaque",
                immutable: true,
                stringData: { [loginPasswordKey]: pulumi.secret(password.result) },
            },
            { parent: this },
        );
        const rolesJob = new k8s.batch.v1.Job(
            `${name}-roles`,
            {
                metadata: { name: `api-database-roles-${rotation}`, namespace: args.namespace, labels, annotations },
                spec: job(
                    rolesPodTemplate({
                        labels,
                        server: args.server,
                        sql: rolesSql({
                            roles,
                            databaseName: args.server.databaseName,
                            owner: args.server.ownerUser,
                            rotation,
                            graceMinutes,
                        }),
                        loginSecretName: loginSecret.metadata.name,
                    }),
                ),
            },
            // Beside the migration Job, not after it: a pod start and a Job's completion fewer on the way to
            // the API's pods. Both hold the migration lock, and either order grants the same: default
            // privileges cover the tables migrations create later, and the migration keeps
            // schema_migrations' writes the owner's.
            { ...jobOptions, dependsOn: [args.server.deployment] },
        );

        const url = pulumi.secret(
            pulumi.interpolate`postgresql://${this.login}:${password.result}@${args.server.host}:${args.server.port}/${args.server.databaseName}`,
        );
        // The checksum of a secret is not itself secret: a one-way hash of a random password.
        const secretChecksum = pulumi.unsecret(url.apply((text) => crypto.createHash("sha256").update(text).digest("hex")));
        // Named by its content and immutable, so that a rotation creates a new Secret next to the old one,
        // the pods roll onto it and the old one goes last. The provider replaces a Secret whose data
        // changes; under a fixed name that replacement must delete first, and Pulumi then replaces the
        // Deployment that depends on it too: every API pod at once, an outage.
        const secret = new k8s.core.v1.Secret(
            `${name}-credentials`,
            {
                metadata: { name: secretChecksum.apply(apiSecretName), namespace: args.namespace, labels },
                type: "Opaque",
                immutable: true,
                stringData: { [urlKey]: url },
            },
            { parent: this, dependsOn: [rolesJob] },
        );

        this.connection = {
            host: args.server.host,
            port: args.server.port,
            secretName: secret.metadata.name,
            urlKey,
            secretChecksum,
            selector: args.server.selector,
            prerequisites: [migration, rolesJob],
        };
        this.registerOutputs({
            migrationJobName: this.migrationJobName,
            login: this.login,
            secretName: secret.metadata.name,
            secretChecksum,
        });
    }
}
