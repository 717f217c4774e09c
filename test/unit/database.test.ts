import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { apiSecretName, migrationJobName } from "../../components/database-access";
import { apiRoles, loginOfRotation, migrationLockKey, rolesSql } from "../../components/database-roles";
import { backupScript } from "../../components/postgres-backup";
import { cronProblem } from "../../stacks/schemas";
import { mockPassword, ProgramRun, runProgram } from "./harness";
import { selects } from "./pods";

const prebuilt = { imageBuild: "false", imageRef: "registry.example.com/api-stack/api:1.4.2" };
const jobType = "kubernetes:batch/v1:Job";
const cronJobType = "kubernetes:batch/v1:CronJob";
const policyType = "kubernetes:networking.k8s.io/v1:NetworkPolicy";
const secretType = "kubernetes:core/v1:Secret";

/** An env entry of a container, by name. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const env = (container: any, name: string) => container.env.find((e: { name: string }) => e.name === name);
/** The recorded resource whose logical name is `name`. */
const byName = (run: ProgramRun, name: string) => {
    const found = run.resources.find((r) => r.name === name);
    assert.ok(found, `a resource named ${name}`);
    return found;
};

describe("backups: a CronJob in prod, none in dev", () => {
    let prod: ProgramRun;
    let dev: ProgramRun;
    before(async () => {
        prod = await runProgram("prod", prebuilt);
        dev = await runProgram("dev", prebuilt);
    });

    it("prod runs pg_dump daily at 02:30 UTC, one at a time, and keeps a few failed Jobs to look at", () => {
        const spec = prod.one(cronJobType, "postgres-backup").spec;
        assert.strictEqual(spec.schedule, "30 2 * * *");
        assert.strictEqual(spec.timeZone, "Etc/UTC");
        assert.strictEqual(spec.concurrencyPolicy, "Forbid");
        assert.strictEqual(spec.failedJobsHistoryLimit, 3);
        assert.strictEqual(spec.jobTemplate.spec.backoffLimit, 1);
        assert.ok(spec.jobTemplate.spec.activeDeadlineSeconds > 0, "a hung dump ends and fails the Job");
        assert.strictEqual(spec.jobTemplate.spec.template.spec.restartPolicy, "Never");
    });

    it("dev has no CronJob, no backup volume and no backup policy", () => {
        assert.deepStrictEqual(dev.all(cronJobType), []);
        assert.deepStrictEqual(
            dev.all("kubernetes:core/v1:PersistentVolumeClaim").map((r) => r.inputs.metadata.name),
            ["postgres-data"],
        );
        assert.ok(!dev.all(policyType).some((r) => r.inputs.metadata.name === "postgres-backup"));
    });

    it("the backup pod is restricted: uid 999, read-only root, no capabilities, RuntimeDefault seccomp, no token", () => {
        const pod = prod.one(cronJobType, "postgres-backup").spec.jobTemplate.spec.template.spec;
        assert.deepStrictEqual(pod.securityContext, {
            runAsNonRoot: true,
            runAsUser: 999,
            runAsGroup: 999,
            fsGroup: 999,
            seccompProfile: { type: "RuntimeDefault" },
        });
        const context = pod.containers[0].securityContext;
        assert.strictEqual(context.readOnlyRootFilesystem, true);
        assert.strictEqual(context.allowPrivilegeEscalation, false);
        assert.deepStrictEqual(context.capabilities, { drop: ["ALL"] });
        assert.strictEqual(pod.automountServiceAccountToken, false);
    });

    it("dumps the prod database as its owner, with the password from the owner's Secret, into the backup volume", () => {
        const pod = prod.one(cronJobType, "postgres-backup").spec.jobTemplate.spec.template.spec;
        const container = pod.containers[0];
        assert.strictEqual(container.image, "postgres:15.10", "pg_dump of the server's major");
        assert.deepStrictEqual(container.command.slice(0, 2), ["bash", "-c"]);
        assert.strictEqual(container.command[2], backupScript());
        assert.strictEqual(env(container, "STACK").value, "prod");
        assert.strictEqual(env(container, "RETENTION").value, "7");
        assert.strictEqual(env(container, "PGHOST").value, "postgres.api-stack-prod.svc.cluster.local");
        assert.strictEqual(env(container, "PGUSER").value, "app");
        assert.strictEqual(env(container, "PGDATABASE").value, "app");
        assert.deepStrictEqual(env(container, "PGPASSWORD"), {
            name: "PGPASSWORD",
            valueFrom: { secretKeyRef: { name: "postgres-credentials", key: "password" } },
        });
        const mount = container.volumeMounts.find((m: { mountPath: string }) => m.mountPath === "/backups");
        const volume = pod.volumes.find((v: { name: string }) => v.name === mount.name);
        assert.deepStrictEqual(volume.persistentVolumeClaim, { claimName: "postgres-backups" });
        const claim = prod.one("kubernetes:core/v1:PersistentVolumeClaim", "postgres-backups").spec;
        assert.strictEqual(claim.resources.requests.storage, "20Gi");
        assert.deepStrictEqual(claim.accessModes, ["ReadWriteOnce"]);
    });

    it("the schedule, retention and storage class come from config", async () => {
        const run = await runProgram("dev", {
            ...prebuilt,
            backupEnabled: "true",
            backupSchedule: "@hourly",
            backupRetention: "3",
            backupStorageClass: "fast-ssd",
        });
        const cronJob = run.one(cronJobType, "postgres-backup").spec;
        assert.strictEqual(cronJob.schedule, "@hourly");
        assert.strictEqual(env(cronJob.jobTemplate.spec.template.spec.containers[0], "RETENTION").value, "3");
        assert.strictEqual(env(cronJob.jobTemplate.spec.template.spec.containers[0], "STACK").value, "dev");
        const claim = run.one("kubernetes:core/v1:PersistentVolumeClaim", "postgres-backups").spec;
        assert.strictEqual(claim.storageClassName, "fast-ssd");
        assert.strictEqual(claim.resources.requests.storage, "2Gi");
    });

    it("the script fails on any error, writes a temporary file and renames it only after a readable dump, then prunes", () => {
        const script = backupScript();
        const lines = script.split("\n");
        assert.strictEqual(lines[0], "set -euo pipefail");
        assert.match(script, /name="\$\{STACK\}-\$\(date -u \+%Y%m%dT%H%M%SZ\)\.dump"/);
        const dump = lines.findIndex((l) => l.startsWith('pg_dump --format=custom --no-password --file="$partial"'));
        const check = lines.findIndex((l) => l.startsWith('pg_restore --list "$partial"'));
        const rename = lines.findIndex((l) => l.startsWith('mv "$partial" "/backups/$name"'));
        const prune = lines.findIndex((l) => l.startsWith("find "));
        assert.ok(dump > 0 && dump < check && check < rename && rename < prune, `dump, check, rename, prune in order:\n${script}`);
        assert.match(script, /trap 'rm -f "\$partial"' EXIT/);
        assert.match(lines[prune], /-name "\$\{STACK\}-\*\.dump" -printf '%f\\n' \| sort -r \| tail -n "\+\$\(\(RETENTION \+ 1\)\)" \|$/);
        assert.match(script, /rm -f "\/backups\/\$old"/);
    });

    it("the backup pod's own policy admits no ingress and lets out only DNS and PostgreSQL; the database admits it", () => {
        const backupLabels = prod.one(cronJobType, "postgres-backup").spec.jobTemplate.spec.template.metadata.labels;
        const postgresLabels = prod.one("kubernetes:apps/v1:Deployment", "postgres").spec.template.metadata.labels;
        const policy = prod.one(policyType, "postgres-backup").spec;
        assert.ok(selects(policy.podSelector.matchLabels, backupLabels));
        assert.ok(!selects(policy.podSelector.matchLabels, postgresLabels));
        assert.deepStrictEqual(policy.policyTypes, ["Ingress", "Egress"]);
        assert.deepStrictEqual(policy.ingress, []);
        assert.strictEqual(policy.egress.length, 2);
        assert.ok(selects(policy.egress[0].to[0].podSelector.matchLabels, postgresLabels));
        assert.deepStrictEqual(policy.egress[0].ports, [{ protocol: "TCP", port: 5432 }]);
        assert.deepStrictEqual(policy.egress[1].ports, [
            { protocol: "UDP", port: 53 },
            { protocol: "TCP", port: 53 },
        ]);
        const admitted = prod.one(policyType, "postgres-from-api").spec.ingress[0].from;
        assert.ok(
            admitted.some((peer: { podSelector: { matchLabels: Record<string, string> } }) =>
                selects(peer.podSelector.matchLabels, backupLabels),
            ),
        );
        const devAdmitted = dev.one(policyType, "postgres-from-api").spec.ingress[0].from;
        assert.strictEqual(devAdmitted.length, 2, "dev admits the API and its Jobs, no backup pods");
    });
});

describe("migrations run once per release, as a Job of the owner, before the API changes", () => {
    it("the Job is named by the image's tag and changes with it", async () => {
        const first = await runProgram("dev", prebuilt);
        const second = await runProgram("dev", { ...prebuilt, imageRef: "registry.example.com/api-stack/api:2.0.0" });
        assert.strictEqual(first.all(jobType).find((j) => j.name === "api-database-migrate")?.inputs.metadata.name, "api-migrate-1-4-2");
        assert.strictEqual(second.all(jobType).find((j) => j.name === "api-database-migrate")?.inputs.metadata.name, "api-migrate-2-0-0");
        assert.strictEqual(first.outputs.migrationJobName, "api-migrate-1-4-2");
    });

    it("a built image's Job carries its content tag", async () => {
        const run = await runProgram("dev");
        const tag = String(run.one("docker:index/image:Image").imageName).replace(/^.*:/, "");
        assert.match(tag, /^sha-[0-9a-f]{16}$/);
        assert.strictEqual(byName(run, "api-database-migrate").inputs.metadata.name, `api-migrate-${tag}`);
    });

    it("migrationJobName: a digest wins over a tag, a registry port is not a tag, and the name fits a label", () => {
        const digest = "f".repeat(64);
        assert.strictEqual(migrationJobName(`registry.example.com/api@sha256:${digest}`), `api-migrate-${"f".repeat(16)}`);
        assert.strictEqual(migrationJobName(`registry.example.com/api:1.0@sha256:${digest}`), `api-migrate-${"f".repeat(16)}`);
        assert.strictEqual(migrationJobName("localhost:5000/team/api:v2_RC"), "api-migrate-v2-rc");
        assert.strictEqual(migrationJobName("localhost:5000/team/api"), "api-migrate-untagged");
        assert.ok(migrationJobName(`api:${"x".repeat(120)}`).length <= 63);
    });

    it("runs the app's migration entry point with the owner's URL from its Secret, and the API Deployment depends on it", async () => {
        const run = await runProgram("prod", prebuilt);
        const job = byName(run, "api-database-migrate");
        const pod = job.inputs.spec.template.spec;
        const container = pod.containers[0];
        assert.strictEqual(container.image, "registry.example.com/api-stack/api:1.4.2");
        assert.deepStrictEqual(container.command, ["node", "dist/migrate-job.js"]);
        assert.strictEqual(env(container, "DATABASE_URL_FILE").value, "/var/run/secrets/api-stack/database/url");
        const volume = pod.volumes.find((v: { secret?: unknown }) => v.secret);
        assert.deepStrictEqual(volume.secret.secretName, "postgres-credentials");
        assert.deepStrictEqual(volume.secret.items, [{ key: "url", path: "url" }]);
        assert.strictEqual(pod.restartPolicy, "Never");
        assert.strictEqual(pod.securityContext.runAsUser, 10001, "the API's uid, not the postgres image's 999");
        assert.strictEqual(job.inputs.spec.backoffLimit, 1);
        assert.ok(job.dependsOn.includes("postgres-deployment"), "waits for the server");
        assert.ok(byName(run, "api-deployment").dependsOn.includes("api-database-migrate"), "the API waits for its migrations");
    });

    it("the API only checks the schema in the cluster: MIGRATIONS=check", async () => {
        const run = await runProgram("dev", prebuilt);
        const container = run.one("kubernetes:apps/v1:Deployment", "api").spec.template.spec.containers[0];
        assert.strictEqual(env(container, "MIGRATIONS").value, "check");
    });

    it("the Jobs' policy admits no ingress and lets out only DNS and PostgreSQL; the database admits their pods", async () => {
        const run = await runProgram("dev", prebuilt);
        const policy = run.one(policyType, "database-jobs").spec;
        const admitted = run.one(policyType, "postgres-from-api").spec.ingress[0].from;
        for (const name of ["api-database-migrate", "api-database-roles"]) {
            const labels = byName(run, name).inputs.spec.template.metadata.labels;
            assert.ok(selects(policy.podSelector.matchLabels, labels), `${name} is covered`);
            assert.ok(
                admitted.some((peer: { podSelector: { matchLabels: Record<string, string> } }) =>
                    selects(peer.podSelector.matchLabels, labels),
                ),
            );
        }
        assert.deepStrictEqual(policy.ingress, []);
        assert.deepStrictEqual(policy.egress[0].ports, [{ protocol: "TCP", port: 5432 }]);
    });
});

describe("the API logs in as a role of its own, whose password rotates without downtime", () => {
    let first: ProgramRun;
    let third: ProgramRun;
    before(async () => {
        first = await runProgram("prod", prebuilt);
        third = await runProgram("prod", { ...prebuilt, dbPasswordRotation: "3", dbPasswordGraceMinutes: "2" });
    });

    it("rotation 0 uses api_a; rotation 3 uses api_b, with a new Job, password and Secret named by the number", () => {
        assert.strictEqual(first.outputs.apiDatabaseLogin, "api_a");
        assert.strictEqual(third.outputs.apiDatabaseLogin, "api_b");
        assert.strictEqual(byName(first, "api-database-roles").inputs.metadata.name, "api-database-roles-0");
        assert.strictEqual(byName(third, "api-database-roles").inputs.metadata.name, "api-database-roles-3");
        assert.deepStrictEqual(byName(third, "api-database-password").inputs.keepers, { rotation: "3" });
        assert.strictEqual(byName(third, "api-database-credentials").inputs.stringData.value.url.startsWith("postgresql://api_b:"), true);
    });

    it("the API's Secret is named by its content and immutable: a rotation adds a new one beside the old (no delete-first replace)", () => {
        const secretOf = (run: ProgramRun) => byName(run, "api-database-credentials").inputs;
        for (const run of [first, third]) {
            const secret = secretOf(run);
            const url = secret.stringData.value.url;
            assert.strictEqual(secret.metadata.name, apiSecretName(crypto.createHash("sha256").update(url).digest("hex")));
            assert.match(secret.metadata.name, /^api-database-[0-9a-f]{10}$/);
            assert.strictEqual(secret.immutable, true);
        }
        assert.notStrictEqual(secretOf(first).metadata.name, secretOf(third).metadata.name);
        const mounted = (run: ProgramRun) => byName(run, "api-deployment").inputs.spec.template.spec.volumes[0].secret.secretName;
        assert.strictEqual(mounted(third), secretOf(third).metadata.name, "the pods mount the new Secret");
    });

    it("the roles Job reads both passwords from Secrets by name, and sets this rotation's as the owner", () => {
        const container = byName(third, "api-database-roles").inputs.spec.template.spec.containers[0];
        assert.strictEqual(container.image, "postgres:15.10");
        assert.deepStrictEqual(env(container, "LOGIN_PASSWORD").valueFrom, {
            secretKeyRef: { name: "api-database-rotation-3", key: "password" },
        });
        assert.deepStrictEqual(env(container, "PGPASSWORD").valueFrom, { secretKeyRef: { name: "postgres-credentials", key: "password" } });
        assert.strictEqual(env(container, "PGUSER").value, "app");
        const sql = env(container, "ROLES_SQL").value;
        // Every "$" doubled: Kubernetes turns "$$" in an env value back into "$" (and would expand "$(x)").
        const written = rolesSql({ roles: apiRoles("api"), databaseName: "app", owner: "app", rotation: 3, graceMinutes: 2 });
        assert.match(written, /DO \$\$/);
        assert.strictEqual(sql, written.replace(/\$/g, "$$$$"));
        assert.doesNotMatch(sql.replace(/\$\$/g, ""), /\$/, "no single $ left for Kubernetes to expand");
        assert.match(sql, /ALTER ROLE api_b PASSWORD :'login_password' VALID UNTIL 'infinity';/);
        assert.match(sql, /now\(\) \+ interval '2 minutes'/);
        assert.match(sql, /WHERE rolname = 'api_a' \\gexec/);
        assert.match(container.command[2], /set -euo pipefail/);
    });

    it("order: the migration and roles Jobs side by side once PostgreSQL is ready, then the API's Secret, then the pods", () => {
        for (const name of ["api-database-migrate", "api-database-roles"]) {
            assert.deepStrictEqual(byName(first, name).dependsOn, ["postgres-deployment"], `${name} waits for the server only`);
        }
        assert.ok(byName(first, "api-database-credentials").dependsOn.includes("api-database-roles"));
        for (const name of ["api-database-migrate", "api-database-roles"]) {
            const annotations = byName(first, name).inputs.metadata.annotations;
            assert.deepStrictEqual(annotations, { "pulumi.com/replaceUnready": "true" }, `${name} runs again after a failure`);
        }
        const deployment = byName(first, "api-deployment");
        assert.ok(deployment.dependsOn.includes("api-database-roles"));
        assert.ok(deployment.dependsOn.includes("api-database-migrate"));
        assert.strictEqual(
            deployment.inputs.spec.template.spec.volumes[0].secret.secretName,
            byName(first, "api-database-credentials").inputs.metadata.name,
        );
    });

    it("the API's pods roll (checksum), the owner's password and the server's pod stay as they were", () => {
        const checksum = (run: ProgramRun, name: string) =>
            run.one("kubernetes:apps/v1:Deployment", name).spec.template.metadata.annotations;
        assert.notDeepStrictEqual(checksum(third, "api"), checksum(first, "api"));
        assert.deepStrictEqual(checksum(third, "postgres"), checksum(first, "postgres"));
        assert.deepStrictEqual(byName(third, "postgres-password").inputs, byName(first, "postgres-password").inputs);
        assert.strictEqual(byName(first, "postgres-password").inputs.keepers, undefined);
    });

    it("no password in any Job, CronJob, policy or output; the rotation Secret holds it as a secret", () => {
        for (const run of [first, third]) {
            for (const resource of run.resources.filter((r) => r.type !== secretType)) {
                assert.ok(!JSON.stringify(resource.inputs ?? {}).includes(mockPassword), `${resource.name} holds no password`);
            }
            const { databaseUrl, ...plain } = run.outputs;
            assert.ok(String(databaseUrl).includes(mockPassword));
            assert.ok(!JSON.stringify(plain).includes(mockPassword));
        }
    });
});

describe("the roles SQL gives the API data access only", () => {
    const sql = rolesSql({ roles: apiRoles("api"), databaseName: "items", owner: "owner", rotation: 0, graceMinutes: 10 });

    it("grants DML on the tables and USAGE on the schema to the group, never CREATE or ownership", () => {
        assert.match(sql, /GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO api;/);
        assert.match(
            sql,
            /ALTER DEFAULT PRIVILEGES FOR ROLE owner IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO api;/,
        );
        assert.match(sql, /GRANT USAGE ON SCHEMA public TO api;/);
        assert.match(sql, /REVOKE CREATE ON SCHEMA public FROM PUBLIC;/);
        assert.doesNotMatch(sql, /GRANT[^;]*\b(CREATE|TRUNCATE|ALL PRIVILEGES|TRIGGER|REFERENCES)\b/);
        assert.doesNotMatch(sql, /OWNER TO/);
        assert.match(sql, /REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM api/);
    });

    it("holds the migrations' advisory lock, with the key the app's migrations use, before it changes anything", () => {
        const appSource = fs.readFileSync(path.join(__dirname, "..", "..", "app", "src", "schema-migrations.ts"), "utf8");
        assert.strictEqual(/export const MIGRATION_LOCK_KEY = "(\d+)";/.exec(appSource)?.[1], migrationLockKey);
        const statements = sql.split("\n");
        const lock = statements.indexOf(`  PERFORM pg_advisory_xact_lock(${migrationLockKey});`);
        assert.ok(lock > statements.indexOf("BEGIN;"), "inside the transaction, so it is released at COMMIT");
        assert.ok(lock < statements.findIndex((line) => /CREATE ROLE|GRANT|ALTER/.test(line)), "before the first change");
    });

    it("its roles are neither superuser nor able to create roles or databases; CONNECT to this database only", () => {
        for (const role of ["api", "api_a", "api_b"]) {
            assert.match(
                sql,
                new RegExp(`ALTER ROLE ${role} (NO)?LOGIN (INHERIT )?NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;`),
            );
        }
        assert.match(sql, /REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', datname\) FROM pg_database WHERE datallowconn \\gexec/);
        assert.match(sql, /GRANT CONNECT ON DATABASE items TO api;/);
    });

    it("reads the new password from the environment, never from the script", () => {
        assert.match(sql, /^\\set ON_ERROR_STOP on\n\\getenv login_password LOGIN_PASSWORD\n/);
        assert.deepStrictEqual(loginOfRotation(apiRoles("api"), 0), { current: "api_a", previous: "api_b" });
        assert.deepStrictEqual(loginOfRotation(apiRoles("api"), 7), { current: "api_b", previous: "api_a" });
    });
});

describe("cron schedules", () => {
    it("accepts the forms Kubernetes runs", () => {
        for (const schedule of ["30 2 * * *", "*/15 * * * *", "0 2 * * 1-5", "0,30 8-18/2 1,15 * 0", "0 0 1 1 7", "@daily", "@hourly"]) {
            assert.strictEqual(cronProblem(schedule), undefined, schedule);
        }
    });
});
