import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { commonLabels, selectorLabels, WorkloadIdentity } from "./labels";
import { databaseClientPolicy } from "./network";
import { ownerClientEnv, ownerJobPodTemplate } from "./owner-job";
import type { PostgresServer } from "./postgres";
import { persistentVolumeClaim } from "./volume-claim";

/** When backups run, how many are kept, and the volume they are kept on. */
export interface BackupPolicy {
    /** Cron schedule, in UTC (the CronJob's time zone), e.g. `30 2 * * *`. */
    readonly schedule: string;
    /** How many backups to keep; older ones are deleted after each successful backup. At least 1. */
    readonly retention: number;
    /** Size of the backup volume. */
    readonly storageSize: string;
    /** StorageClass of the backup volume; the cluster's default when omitted. */
    readonly storageClassName?: string;
}

/** Arguments of {@link PostgresBackup}. */
export interface PostgresBackupArgs extends BackupPolicy {
    /** Namespace to create everything in. */
    readonly namespace: pulumi.Input<string>;
    /** `app.kubernetes.io/instance`, the stack name: it also starts every backup file's name. */
    readonly instance: string;
    /** The database to dump, as its owner. */
    readonly server: PostgresServer;
    /** Protect and retain the backup volume, like the data volume. @default false */
    readonly protect?: boolean;
}

/** Where the backup volume is mounted in the backup pod (and in a restore pod made from it). */
export const backupMountPath = "/backups";
/** The CronJob's name: `kubectl create job --from=cronjob/postgres-backup` takes a backup now (npm run db:backup). */
export const backupCronJobName = "postgres-backup";

/** The identity of the backup pods, exported so that the database admits them. */
export function backupIdentity(instance: string): WorkloadIdentity {
    return { name: "postgres-backup", instance, component: "backup" };
}

/**
 * A backup file's name: the stack, then the UTC time of the dump. Sorting the names sorts by time.
 * scripts/db.sh checks `--backup` against the same pattern (a test keeps the two equal).
 */
export const backupFilePattern = "^[a-z0-9][a-z0-9-]*-[0-9]{8}T[0-9]{6}Z\\.dump$";

/**
 * The backup pod's script. The dump goes to a hidden temporary name and is renamed only once
 * pg_dump succeeded and pg_restore can read its table of contents, so a failed or cut-off dump
 * never looks like a backup; the trap removes it. Pruning runs only after a good backup, so a
 * failing schedule never deletes the last good ones. Any failure exits non-zero and fails the Job.
 */
export function backupScript(): string {
    return [
        "set -euo pipefail",
        // A new pod may be refused for its first seconds, until the node's NetworkPolicy agent has added
        // its address to what the database admits; a server that stays away fails pg_dump below.
        "for _ in $(seq 1 15); do pg_isready --quiet --timeout=2 && break; sleep 1; done",
        'name="${STACK}-$(date -u +%Y%m%dT%H%M%SZ).dump"',
        `partial="${backupMountPath}/.\${name}.partial"`,
        "trap 'rm -f \"$partial\"' EXIT",
        'pg_dump --format=custom --no-password --file="$partial"',
        'pg_restore --list "$partial" >/dev/null',
        `mv "$partial" "${backupMountPath}/$name"`,
        'echo "backup $name: $(stat -c %s "' + backupMountPath + '/$name") bytes"',
        `find "${backupMountPath}" -maxdepth 1 -type f -name "\${STACK}-*.dump" -printf '%f\\n' | sort -r | tail -n "+$((RETENTION + 1))" |`,
        `  while read -r old; do rm -f "${backupMountPath}/$old"; echo "pruned $old"; done`,
    ].join("\n");
}

/** The backup Job's pod: pg_dump of the server's major, as the owner, into the backup volume. */
export function backupPodTemplate(args: {
    readonly labels: Record<string, string>;
    readonly server: PostgresServer;
    readonly stack: string;
    readonly retention: number;
    readonly volumeClaimName: pulumi.Input<string>;
}): k8s.types.input.core.v1.PodTemplateSpec {
    return ownerJobPodTemplate({
        labels: args.labels,
        server: args.server,
        name: "backup",
        command: ["bash", "-c", backupScript()],
        env: [{ name: "STACK", value: args.stack }, { name: "RETENTION", value: String(args.retention) }, ...ownerClientEnv(args.server)],
        volume: { mountPath: backupMountPath, volume: { name: "backups", persistentVolumeClaim: { claimName: args.volumeClaimName } } },
    });
}

/**
 * Scheduled logical backups of the database: a CronJob that runs `pg_dump` in custom format into a
 * volume of its own, keeps the newest `retention` files, and fails visibly (`kubectl get jobs`)
 * when a dump fails. Its pods may reach only the database and DNS.
 */
export class PostgresBackup extends pulumi.ComponentResource {
    /** Name of the backup volume's claim. */
    public readonly volumeClaimName: pulumi.Output<string>;
    public readonly cronJobName: pulumi.Output<string>;

    constructor(name: string, args: PostgresBackupArgs, opts?: pulumi.ComponentResourceOptions) {
        super("api-stack:database:PostgresBackup", name, {}, opts);
        if (!Number.isInteger(args.retention) || args.retention < 1) {
            throw new pulumi.ResourceError(`PostgresBackup ${name}: args.retention must be an integer >= 1, got ${args.retention}`, this);
        }
        const identity = backupIdentity(args.instance);
        const labels = commonLabels(identity);

        const volumeClaim = persistentVolumeClaim(`${name}-volume`, { name: "postgres-backups", labels }, args, this);
        this.volumeClaimName = volumeClaim.metadata.name;

        new k8s.networking.v1.NetworkPolicy(
            `${name}-network-policy`,
            {
                metadata: { name: "postgres-backup", namespace: args.namespace, labels },
                spec: databaseClientPolicy(selectorLabels(identity), args.server),
            },
            { parent: this },
        );

        const cronJob = new k8s.batch.v1.CronJob(
            `${name}-cronjob`,
            {
                metadata: { name: backupCronJobName, namespace: args.namespace, labels },
                spec: {
                    schedule: args.schedule,
                    timeZone: "Etc/UTC",
                    // Never two dumps at once; a restore refuses to start while one runs.
                    concurrencyPolicy: "Forbid",
                    // A run missed by more than an hour (controller down) is skipped, not started late.
                    startingDeadlineSeconds: 3600,
                    successfulJobsHistoryLimit: 3,
                    failedJobsHistoryLimit: 3,
                    jobTemplate: {
                        metadata: { labels },
                        spec: {
                            backoffLimit: 1,
                            activeDeadlineSeconds: 3600,
                            template: backupPodTemplate({
                                labels,
                                server: args.server,
                                stack: args.instance,
                                retention: args.retention,
                                volumeClaimName: volumeClaim.metadata.name,
                            }),
                        },
                    },
                },
            },
            { parent: this },
        );
        this.cronJobName = cronJob.metadata.name;

        this.registerOutputs({ volumeClaimName: this.volumeClaimName, cronJobName: this.cronJobName });
    }
}
