import * as assert from "assert";
import * as automation from "@pulumi/pulumi/automation";
import { buildFailingMigrationImage, dbScript, filesContaining, loginOfSecret, sqlAs } from "./database";
import { byOp, failure, preview, ProjectCopy, up } from "./engine";
import { dockerEnv, exists, kubectl, kubectlJson, waitFor } from "./kube";
import { startLoad } from "./load";
import { psql, readyEndpoints, serviceUrl } from "./node";

/**
 * The database's day-2 operations on the real node, as users run them (issue 13): least privilege,
 * a failing migration, password rotation under load, and restore drills, also onto a lost volume.
 * Registered inside the prod lifecycle (backups are on there), after its own tests: the stack is up
 * with its 100 items.
 */

/** What the day-2 tests share with the lifecycle that registers them. */
export interface Day2Context {
    readonly stack: () => automation.Stack;
    readonly copy: ProjectCopy;
    readonly namespace: string;
    readonly stackName: string;
    readonly replicas: () => number;
    /** The API image the stack runs now. */
    readonly apiImage: () => string;
    /** Called when the data volume is replaced on purpose (the lost-disk drill). */
    readonly volumeReplaced: (uid: string) => void;
}

/** SQLSTATE of insufficient_privilege: "permission denied" and "must be owner". */
const insufficientPrivilege = /ERROR:\s+42501:/;

export function registerDay2Tests(context: Day2Context): void {
    const { copy, namespace, stackName } = context;
    const api = () => kubectlJson("-n", namespace, "get", "deployment", "api");
    /** The rows of the items the lifecycle created, as text, in id order: compared byte for byte. */
    const itemsText = () => psql(namespace, "SELECT id, name, created_at FROM items WHERE name LIKE 'item-%' ORDER BY id");
    let backupFile = "";
    let itemsBefore = "";

    it("6b. least privilege: the API's login reads and writes its tables, and is refused DDL and other databases", () => {
        const login = loginOfSecret(namespace, apiSecret(namespace));
        assert.match(login.user, /^api_[ab]$/, "the API connects as its own login role, not the owner");
        assert.deepStrictEqual(sqlAs(namespace, login, "SELECT count(*) FROM items WHERE name LIKE 'item-%'"), { ok: true, output: "100" });
        const write = sqlAs(namespace, login, "BEGIN; UPDATE items SET name = name WHERE name = 'item-0'; ROLLBACK;");
        assert.ok(write.ok, write.output);
        for (const ddl of [
            "DROP TABLE items",
            "CREATE TABLE e2e_intruder (id integer)",
            "TRUNCATE items",
            "ALTER TABLE items ADD COLUMN x integer",
        ]) {
            const refused = sqlAs(namespace, login, ddl);
            assert.ok(!refused.ok, `${ddl} was allowed`);
            assert.match(refused.output, insufficientPrivilege, `${ddl}: ${refused.output}`);
        }
        const otherDatabase = sqlAs(namespace, login, "SELECT 1", "postgres");
        assert.ok(!otherDatabase.ok);
        assert.match(otherDatabase.output, /permission denied for database "postgres"/);
        const superuser = sqlAs(namespace, login, "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user");
        assert.deepStrictEqual(superuser, { ok: true, output: "f|f|f" });
        assert.strictEqual(psql(namespace, "SELECT count(*) FROM items WHERE name LIKE 'item-%'"), "100", "the table is intact");
    });

    it("6c. a release whose migration fails fails pulumi up before any API pod changes; the next good release goes through", async () => {
        const stack = context.stack();
        const before = api();
        const podsBefore = podUids(namespace);
        const failing = buildFailingMigrationImage(context.apiImage(), dockerEnv());
        await copy.setConfig(stack, { imageRef: failing });
        const message = await failure(() => up(stack));
        assert.match(message, /api-migrate-e2e-failing-migration/, "the error names the migration Job");
        const job = kubectlJson("-n", namespace, "get", "job", "api-migrate-e2e-failing-migration");
        assert.ok(
            job.status.conditions.some((c: { type: string; status: string }) => c.type === "Failed" && c.status === "True"),
            "the Job failed, as kubectl get jobs shows",
        );
        assert.match(kubectl("-n", namespace, "logs", "job/api-migrate-e2e-failing-migration"), /migration failed/);
        const after = api();
        assert.strictEqual(after.metadata.generation, before.metadata.generation, "the API Deployment was not changed");
        assert.strictEqual(after.spec.template.spec.containers[0].image, context.apiImage());
        assert.deepStrictEqual(podUids(namespace), podsBefore, "every API pod is the one that ran before");
        assert.strictEqual(psql(namespace, "SELECT to_regclass('e2e_no_such_table') IS NULL"), "t");

        await copy.setConfig(stack, { imageRef: context.apiImage() });
        await up(stack);
        assert.strictEqual(api().status.readyReplicas, context.replicas());
        assert.ok(!exists("-n", namespace, "job", "api-migrate-e2e-failing-migration"), "the failed release's Job is gone");
        // The good release's Job is there again (db:restore reruns it), under the name its image gives.
        const migrations = kubectlJson("-n", namespace, "get", "jobs", "-l", "app.kubernetes.io/name=database-job").items.map(
            (item: { metadata: { name: string } }) => item.metadata.name,
        );
        assert.ok(
            migrations.some((name: string) => name.startsWith("api-migrate-") && name.endsWith(context.apiImage().split(":").pop() ?? "")),
            `the release's migration Job exists: ${migrations.join(", ")}`,
        );
        assert.deepStrictEqual(Object.keys(byOp(await preview(stack))), ["same"]);
    });

    it("6d. password rotation under load: 0 failed requests, the old password refused after its grace, the owner's untouched", async () => {
        const stack = context.stack();
        const oldLogin = loginOfSecret(namespace, apiSecret(namespace));
        const owner = loginOfSecret(namespace, "postgres-credentials");
        const ownerSecretVersion = kubectlJson("-n", namespace, "get", "secret", "postgres-credentials").metadata.resourceVersion;
        const podsBefore = podUids(namespace);
        // The stack starts at rotation 0 (the committed config).
        // A grace of 2 minutes: twice what the rollout of 5 pods under load takes on this loaded 2-core machine.
        await copy.setConfig(stack, { dbPasswordRotation: "1", dbPasswordGraceMinutes: "2" });
        const load = startLoad(serviceUrl(namespace, "api"), 20, 240);
        // What the Service had behind it, every 250 ms: the story of a failure.
        const start = Date.now();
        const timeline: string[] = [];
        const watcher = setInterval(() => {
            const pods = kubectlJson("-n", namespace, "get", "pods", "-l", "app.kubernetes.io/name=api").items.map(
                (pod: {
                    metadata: { name: string; deletionTimestamp?: string };
                    status: { conditions?: { type: string; status: string }[] };
                }) =>
                    `${pod.metadata.name.slice(-5)}${pod.metadata.deletionTimestamp ? "(terminating)" : ""}:${pod.status.conditions?.find((c) => c.type === "Ready")?.status ?? "?"}`,
            );
            timeline.push(
                `${((Date.now() - start) / 1000).toFixed(1)}s ready endpoints ${readyEndpoints(namespace, "api").length}; ${pods.join(" ")}`,
            );
        }, 250);
        let run;
        try {
            run = await up(stack);
        } finally {
            clearInterval(watcher);
            const result = await load.stop();
            assert.ok(result.sent >= 20, `the load ran (${result.sent} requests)`);
            assert.deepStrictEqual(
                result.failures,
                [],
                `${result.failed} of ${result.sent} requests failed during the rotation; steps: ${(run?.steps ?? [])
                    .filter((step) => step.op !== "same")
                    .map((step) => `${step.op} ${step.name}`)
                    .join(", ")}; timeline:\n${timeline.join("\n")}`,
            );
        }
        const newLogin = loginOfSecret(namespace, apiSecret(namespace));
        assert.notStrictEqual(newLogin.user, oldLogin.user, "the rotation moved the API to the other login role");
        assert.notStrictEqual(newLogin.password, oldLogin.password);
        assert.strictEqual(api().status.readyReplicas, context.replicas());
        const podsAfter = podUids(namespace);
        assert.deepStrictEqual(
            podsAfter.filter((uid) => podsBefore.includes(uid)),
            [],
            "every API pod rolled to the new Secret",
        );
        assert.deepStrictEqual(sqlAs(namespace, newLogin, "SELECT count(*) > 0 FROM items"), { ok: true, output: "t" });
        // The old login works through its grace (pods still draining may open connections), then never again.
        await waitFor("the old password to be refused after its 1-minute grace", () => !sqlAs(namespace, oldLogin, "SELECT 1").ok, 150_000);
        assert.match(sqlAs(namespace, oldLogin, "SELECT 1").output, /password authentication failed for user "api_[ab]"/);
        assert.strictEqual(
            kubectlJson("-n", namespace, "get", "secret", "postgres-credentials").metadata.resourceVersion,
            ownerSecretVersion,
            "the owner's Secret was not rewritten",
        );
        assert.deepStrictEqual(sqlAs(namespace, owner, "SELECT 1"), { ok: true, output: "1" }, "the owner's password still works");
        // Neither password is in the state, the stack's outputs, the engine's output or the pods' logs.
        const secrets = [oldLogin.password, newLogin.password, owner.password];
        assert.deepStrictEqual(filesContaining(copy.stateDir, secrets), [], "state files holding a password in plaintext");
        const plainOutputs = Object.entries(run.outputs).filter(([, output]) => !output.secret);
        assert.ok(
            !secrets.some((secret) => JSON.stringify(plainOutputs).includes(secret)),
            "no output that is not marked secret holds a password",
        );
        assert.ok(!secrets.some((secret) => run.output.includes(secret)), "the engine's output holds no password");
        const logs = kubectl(
            "-n",
            namespace,
            "logs",
            "-l",
            "app.kubernetes.io/part-of",
            "--all-containers",
            "--prefix",
            "--tail=-1",
            "--max-log-requests=50",
        );
        assert.ok(!secrets.some((secret) => logs.includes(secret)), "no pod log holds a password");
        // Minutes of liveness probes have run by now: they connect as a role that exists.
        assert.doesNotMatch(
            logs,
            /FATAL: +role "postgres" does not exist/,
            "PostgreSQL logged the liveness probe's connection as an error",
        );
    });

    it("6e. restore drill: 100 items backed up, the table dropped, db:restore brings all of them back byte for byte", async () => {
        itemsBefore = itemsText();
        assert.strictEqual(itemsBefore.split("\n").length, 100);
        const backup = dbScript(copy.programDir, "backup", "--stack", stackName);
        assert.strictEqual(backup.status, 0, backup.stderr);
        backupFile = backup.stdout.trim().split("\n").pop() ?? "";
        assert.match(backupFile, new RegExp(`^${stackName}-\\d{8}T\\d{6}Z\\.dump$`));
        const listed = dbScript(copy.programDir, "restore", "--stack", stackName);
        assert.strictEqual(listed.status, 0, listed.stderr);
        assert.ok(listed.stdout.split("\n").includes(backupFile), listed.stdout);

        psql(namespace, "DROP TABLE items");
        const missing = dbScript(
            copy.programDir,
            "restore",
            "--stack",
            stackName,
            "--backup",
            `${stackName}-20000101T000000Z.dump`,
            "--yes",
        );
        assert.strictEqual(missing.status, 2, "an unknown backup is refused");
        assert.match(missing.stderr, new RegExp(`no backup ${stackName}-20000101T000000Z\\.dump.*nothing was changed[^]*${backupFile}`));

        const restore = dbScript(copy.programDir, "restore", "--stack", stackName, "--backup", backupFile, "--yes");
        assert.strictEqual(restore.status, 0, restore.stderr);
        assert.strictEqual(itemsText(), itemsBefore, "the restored rows equal the backed-up ones");
        assert.strictEqual(api().status.readyReplicas, context.replicas(), "the API is back at its count");
        await assertItemsServed(namespace);
    });

    it("6f. lost disk: the data volume deleted and recreated empty, the backup restored onto the new server", async () => {
        const stack = context.stack();
        const oldVolume = kubectlJson("-n", namespace, "get", "pvc", "postgres-data").metadata.uid;
        kubectl("-n", namespace, "scale", "deployment", "postgres", "--replicas=0");
        await waitFor("PostgreSQL's pod to be gone", () => podUids(namespace, "postgres").length === 0);
        kubectl("-n", namespace, "delete", "pvc", "postgres-data", "--wait=true");
        // What a user does after losing the disk: refresh (the claim is gone) and up (a new, empty one).
        await stack.refresh({});
        const recreated = await up(stack);
        const newVolume = kubectlJson("-n", namespace, "get", "pvc", "postgres-data").metadata.uid;
        assert.notStrictEqual(newVolume, oldVolume, "a new volume");
        context.volumeReplaced(newVolume);
        await waitFor(
            "the new PostgreSQL to be ready",
            () => kubectlJson("-n", namespace, "get", "deployment", "postgres").status.readyReplicas === 1,
        );
        const changes = recreated.steps.filter((step) => step.op !== "same").map((step) => `${step.op} ${step.name}`);
        // Empty: no items table, or (if this up reran a migration) an empty one.
        const items =
            psql(namespace, "SELECT to_regclass('items') IS NOT NULL") === "t" ? psql(namespace, "SELECT count(*) FROM items") : "no table";
        assert.ok(["no table", "0"].includes(items), `the new server starts empty; items: ${items}; the up did: ${changes.join(", ")}`);
        console.log(`      lost disk: the up did ${changes.join(", ")}; items on the new server: ${items}`);

        const restore = dbScript(copy.programDir, "restore", "--stack", stackName, "--backup", backupFile, "--yes");
        assert.strictEqual(restore.status, 0, restore.stderr);
        assert.strictEqual(itemsText(), itemsBefore, "the restored rows equal the backed-up ones");
        assert.strictEqual(api().status.readyReplicas, context.replicas());
        await assertItemsServed(namespace);
        assert.deepStrictEqual(Object.keys(byOp(await preview(stack))), ["same"]);
    });

    it("6g. backups: past the retention count the oldest are pruned; a dump that fails fails its Job, visibly, and prunes nothing", async () => {
        const stack = context.stack();
        await copy.setConfig(stack, { backupRetention: "2" });
        await up(stack);
        const taken: string[] = [];
        for (let i = 0; i < 3; i++) {
            const backup = dbScript(copy.programDir, "backup", "--stack", stackName);
            assert.strictEqual(backup.status, 0, backup.stderr);
            taken.push(backup.stdout.trim().split("\n").pop() ?? "");
        }
        const listBackups = () => {
            const listed = dbScript(copy.programDir, "restore", "--stack", stackName);
            assert.strictEqual(listed.status, 0, listed.stderr);
            return listed.stdout.trim().split("\n");
        };
        assert.deepStrictEqual(listBackups(), [taken[2], taken[1]], "the newest two, newest first");

        kubectl("-n", namespace, "scale", "deployment", "postgres", "--replicas=0");
        try {
            await waitFor("PostgreSQL's pod to be gone", () => podUids(namespace, "postgres").length === 0);
            const failed = dbScript(copy.programDir, "backup", "--stack", stackName);
            assert.notStrictEqual(failed.status, 0, "a backup without a database fails");
            const job = /job (postgres-backup-manual-[0-9-]+) failed/.exec(failed.stderr)?.[1];
            assert.ok(job, `the error names the failed Job: ${failed.stderr}`);
            assert.match(failed.stderr, /pg_dump/, "and shows the end of its log");
            const jobs = kubectl("-n", namespace, "get", "jobs", "--no-headers");
            assert.match(jobs, new RegExp(`^${job}\\s+Failed\\s`, "m"), `kubectl get jobs shows it failed:\n${jobs}`);
            kubectl("-n", namespace, "delete", "job", job);
        } finally {
            kubectl("-n", namespace, "scale", "deployment", "postgres", "--replicas=1");
        }
        await waitFor(
            "PostgreSQL to be back",
            () => kubectlJson("-n", namespace, "get", "deployment", "postgres").status.readyReplicas === 1,
        );
        assert.deepStrictEqual(listBackups(), [taken[2], taken[1]], "the failed dump pruned nothing and left no file");
    });
}

/** The name of the Secret the API's pods mount now (named by its content). */
function apiSecret(namespace: string): string {
    const volumes = kubectlJson("-n", namespace, "get", "deployment", "api").spec.template.spec.volumes;
    return volumes.find((volume: { secret?: { secretName: string } }) => volume.secret?.secretName.startsWith("api-database-")).secret
        .secretName;
}

/** The uids of the pods of one app (default the API), sorted. */
function podUids(namespace: string, app = "api"): string[] {
    return kubectlJson("-n", namespace, "get", "pods", "-l", `app.kubernetes.io/name=${app}`)
        .items.filter((pod: { metadata: { deletionTimestamp?: string } }) => !pod.metadata.deletionTimestamp)
        .map((pod: { metadata: { uid: string } }) => pod.metadata.uid)
        .sort();
}

/**
 * The API serves the restored items through its Service. A new connection each try, a few tries: the
 * pods have just been scaled back, and a connection kept from before the restore leads to a pod that is gone.
 */
async function assertItemsServed(namespace: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
        let last: string;
        try {
            const response = await fetch(`${serviceUrl(namespace, "api")}/api/v1/items?limit=100`, { headers: { connection: "close" } });
            if (response.status === 200) {
                const page = (await response.json()) as { items: { name: string }[] };
                assert.ok(page.items.length > 0, "the API lists items again");
                return;
            }
            last = `${response.status} ${await response.text()}`;
        } catch (error) {
            last = String(error);
        }
        if (Date.now() > deadline) {
            assert.fail(`the API did not list the restored items within 30 s; last answer: ${last}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
    }
}
