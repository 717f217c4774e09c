import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { backupCronJobName, backupFilePattern } from "../../components/postgres-backup";

/**
 * scripts/db.sh (npm run db:backup / db:restore) without a cluster: a stand-in kubectl (KUBECTL, which
 * scripts/lib.sh prefers) records every call and answers as a deployed stack would. The tests check the
 * argument errors, every refusal (and that it changes nothing), and the order of a restore's steps.
 */

const projectRoot = path.resolve(__dirname, "..", "..");

/** The stand-in: logs each call as one line, answers from FAKE_* variables, and saves created manifests. */
const fakeKubectl = String.raw`#!/usr/bin/env bash
set -euo pipefail
args=" $* "
echo "$*" >>"$FAKE_DIR/calls"
case "$args" in
  *" get cronjob "*) [ "$FAKE_CRONJOB" = present ] ;;
  *" get jobs -l app.kubernetes.io/name=postgres-backup "*) printf '%s' "$FAKE_RUNNING" ;;
  *" get jobs -l app.kubernetes.io/name=database-job "*) printf 'job.batch/api-migrate-sha-0123456789abcdef\njob.batch/api-database-roles-2\n' ;;
  *" --dry-run=client "*) echo '{"kind":"Job","metadata":{"name":"x"},"spec":{"template":{"spec":{"containers":[{"name":"backup","env":[]}]}}}}' ;;
  *" create -f - "*) cat >"$FAKE_DIR/created-$(ls "$FAKE_DIR" | grep -c '^created-' || true).json" ;;
  *" get job "*" -o json "*) echo '{"metadata":{"name":"src","labels":{"a":"b","batch.kubernetes.io/job-name":"src"}},"spec":{"selector":{"matchLabels":{"x":"y"}},"template":{"metadata":{"labels":{"a":"b","controller-uid":"u","batch.kubernetes.io/controller-uid":"u"}},"spec":{"containers":[{"name":"c"}]}}}}' ;;
  *" get job "*) echo "Complete" ;;
  *" get pods -l batch.kubernetes.io/job-name="*" --field-selector=status.phase=Succeeded "*)
    echo "pod/$(sed 's/.*batch.kubernetes.io.job-name=\([^ ]*\).*/\1/' <<<"$args")-x1y2z" ;;
  *" logs pod/postgres-backup-list-"*) printf '%s' "$FAKE_BACKUPS" ;;
  *" logs pod/postgres-backup-manual-"*) echo "backup dev-20261127T150000Z.dump: 4096 bytes" ;;
  *" get deployment api "*) echo 3 ;;
esac
`;

interface Run {
    status: number | null;
    stdout: string;
    stderr: string;
    /** The kubectl calls, without the connection flags. */
    calls: string[];
    /** The manifests the script created, in order. */
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    created: any[];
}

function db(args: string[], fake: { cronJob?: "present" | "absent"; running?: string; backups?: string[] } = {}): Run {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "api-stack-db-"));
    try {
        const kubectl = path.join(dir, "kubectl");
        fs.writeFileSync(kubectl, fakeKubectl, { mode: 0o755 });
        fs.writeFileSync(path.join(dir, "calls"), "");
        const result = spawnSync("bash", [path.join(projectRoot, "scripts", "db.sh"), ...args], {
            cwd: projectRoot,
            encoding: "utf8",
            timeout: 120_000,
            env: {
                ...process.env,
                KUBECTL: kubectl,
                FAKE_DIR: dir,
                FAKE_CRONJOB: fake.cronJob ?? "present",
                FAKE_RUNNING: fake.running ?? "",
                FAKE_BACKUPS: (fake.backups ?? []).map((name) => `${name}\n`).join(""),
            },
        });
        const calls = fs
            .readFileSync(path.join(dir, "calls"), "utf8")
            .split("\n")
            .filter(Boolean)
            .map((call) => call.replace(/^--kubeconfig \S+ --namespace \S+ /, ""));
        const created = fs
            .readdirSync(dir)
            .filter((file) => file.startsWith("created-"))
            .sort((a, b) => Number(a.replace(/\D/g, "")) - Number(b.replace(/\D/g, "")))
            .map((file) => JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")));
        return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls, created };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

const changes = (run: Run) => run.calls.filter((call) => /^(create -f|scale|delete)/.test(call));

describe("db.sh: the names it shares with the program", () => {
    it("the CronJob's name and the backup file pattern are the ones components/postgres-backup.ts uses", () => {
        const script = fs.readFileSync(path.join(projectRoot, "scripts", "db.sh"), "utf8");
        assert.ok(script.includes(`\nBACKUP_CRONJOB="${backupCronJobName}"\n`), "BACKUP_CRONJOB");
        assert.ok(script.includes(`\nBACKUP_FILE_PATTERN='${backupFilePattern}'\n`), "BACKUP_FILE_PATTERN");
    });
});

describe("db.sh: arguments", () => {
    for (const [args, mentions] of [
        [[], /missing command: backup or restore/],
        [["drop"], /unknown command 'drop'; allowed: backup, restore/],
        [["restore"], /--stack is required/],
        [["restore", "--stack"], /--stack needs a stack name/],
        [["restore", "--stack", "staging"], /--stack staging: no Pulumi\.staging\.yaml; the stacks of this project are dev prod/],
        [["restore", "--stack", "Dev!"], /--stack must be a stack name such as dev or prod, got 'Dev!'/],
        [["restore", "--stack", "dev", "--backup"], /--backup needs a backup file name/],
        [
            ["restore", "--stack", "dev", "--backup", "../etc/passwd"],
            /--backup '\.\.\/etc\/passwd' is not a backup file name; allowed: <stack>-<YYYYMMDD>T<HHMMSS>Z\.dump/,
        ],
        [["restore", "--stack", "dev", "--force"], /unknown option '--force'/],
        [["backup", "--stack", "dev", "--backup", "dev-20261127T150000Z.dump"], /--backup is for restore/],
        [["backup", "--stack", "dev", "--yes"], /--yes is for restore/],
    ] as const) {
        it(`${args.join(" ") || "(nothing)"}: usage error, exit 2, no kubectl call`, () => {
            const run = db([...args]);
            assert.strictEqual(run.status, 2, run.stderr);
            assert.match(run.stderr, mentions);
            assert.match(run.stderr, /see 'scripts\/db\.sh --help'/);
            assert.deepStrictEqual(run.calls, []);
        });
    }
});

describe("db.sh: refusals change nothing", () => {
    const name = "prod-20261127T023000Z.dump";

    it("a restore into prod without --yes is refused before the cluster is touched", () => {
        const run = db(["restore", "--stack", "prod", "--backup", name]);
        assert.strictEqual(run.status, 2);
        assert.match(run.stderr, /refusing to restore into prod without --yes/);
        assert.match(
            run.stderr,
            /next: run again with --yes: npm run db:restore -- --stack prod --backup prod-20261127T023000Z\.dump --yes/,
        );
        assert.deepStrictEqual(run.calls, []);
    });

    it("a stack whose backups are off says how to turn them on", () => {
        const run = db(["backup", "--stack", "dev"], { cronJob: "absent" });
        assert.strictEqual(run.status, 2);
        assert.match(run.stderr, /stack dev has no backup CronJob in namespace api-stack-dev: its backups are off/);
        assert.match(run.stderr, /next: pulumi config set backupEnabled true --stack dev && npm run deploy -- --stack dev/);
        assert.deepStrictEqual(changes(run), []);
    });

    it("a restore while a backup Job runs is refused, naming the Job", () => {
        const run = db(["restore", "--stack", "prod", "--backup", name, "--yes"], { running: "postgres-backup-29400150\n" });
        assert.strictEqual(run.status, 2);
        assert.match(run.stderr, /a backup is running \(job postgres-backup-29400150\); nothing was changed/);
        assert.match(run.stderr, /kubectl -n api-stack-prod wait --for=condition=complete job\/postgres-backup-29400150/);
        assert.deepStrictEqual(changes(run), []);
    });

    it("an unknown backup lists the existing ones and changes nothing but its own list Job", () => {
        const existing = ["prod-20261127T023000Z.dump", "prod-20261126T023000Z.dump"];
        const run = db(["restore", "--stack", "prod", "--backup", "prod-20250101T000000Z.dump", "--yes"], { backups: existing });
        assert.strictEqual(run.status, 2, run.stderr);
        assert.match(
            run.stderr,
            /no backup prod-20250101T000000Z\.dump in stack prod; nothing was changed\. The backups there are:\nprod-20261127T023000Z\.dump\nprod-20261126T023000Z\.dump\n/,
        );
        assert.deepStrictEqual(
            changes(run).map((call) => call.replace(/postgres-backup-list-\S+/, "postgres-backup-list-<time>")),
            ["create -f -", "delete job postgres-backup-list-<time> --wait=false"],
        );
        assert.ok(!run.calls.some((call) => call.startsWith("scale")), "the API was not scaled");
        assert.match(
            run.created[0].spec.template.spec.containers[0].command[2],
            /^find \/backups -maxdepth 1 -type f -name "\$\{STACK\}-\*\.dump"/,
        );
    });
});

describe("db.sh: what it runs", () => {
    it("restore without --backup lists the backups on stdout, newest first, and scales nothing", () => {
        const run = db(["restore", "--stack", "dev"], { backups: ["dev-20261127T023000Z.dump", "dev-20261126T023000Z.dump"] });
        assert.strictEqual(run.status, 0, run.stderr);
        assert.strictEqual(run.stdout, "dev-20261127T023000Z.dump\ndev-20261126T023000Z.dump\n");
        assert.ok(!run.calls.some((call) => call.startsWith("scale")));
    });

    it("backup runs the CronJob's own Job now and prints the new file's name", () => {
        const run = db(["backup", "--stack", "dev"]);
        assert.strictEqual(run.status, 0, run.stderr);
        assert.strictEqual(run.stdout, "dev-20261127T150000Z.dump\n");
        assert.ok(
            run.calls.some((call) =>
                /^create job --from=cronjob\/postgres-backup postgres-backup-manual-\d{8}-\d{6} --dry-run=client -o json$/.test(call),
            ),
        );
        assert.strictEqual(run.created.length, 1);
        assert.strictEqual(run.created[0].spec.template.spec.containers[0].command, undefined, "the CronJob's own dump script");
    });

    it("restore: fresh backup, API to 0, pg_restore in one transaction, migrations, roles, API back to its count", () => {
        const name = "dev-20261126T023000Z.dump";
        const run = db(["restore", "--stack", "dev", "--backup", name], { backups: ["dev-20261127T023000Z.dump", name] });
        assert.strictEqual(run.status, 0, run.stderr);
        const steps = run.calls
            .filter((call) => /^(create job --from|scale|get job api-\S+ -o json$|wait --for=delete)/.test(call))
            .map((call) => call.replace(/-\d{8}-\d{6}\b/g, "-<time>"));
        assert.deepStrictEqual(steps, [
            "create job --from=cronjob/postgres-backup postgres-backup-list-<time> --dry-run=client -o json",
            "create job --from=cronjob/postgres-backup postgres-backup-manual-<time> --dry-run=client -o json",
            "scale deployment api --replicas=0",
            "wait --for=delete pod -l app.kubernetes.io/name=api --timeout=120s",
            "create job --from=cronjob/postgres-backup postgres-restore-<time> --dry-run=client -o json",
            "get job api-migrate-sha-0123456789abcdef -o json",
            "get job api-database-roles-2 -o json",
            "scale deployment api --replicas=3",
        ]);
        const restore = run.created[2].spec.template.spec.containers[0];
        assert.deepStrictEqual(restore.env, [{ name: "BACKUP", value: name }]);
        assert.match(restore.command[2], /^set -euo pipefail\n/);
        assert.match(
            restore.command[2],
            /pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction --exit-on-error --dbname="\$PGDATABASE" "\/backups\/\$BACKUP"/,
        );
        const migrationCopy = run.created[3];
        assert.match(migrationCopy.metadata.name, /^api-migrate-sha-0123456789abcdef-restore-\d{8}-\d{6}$/);
        assert.deepStrictEqual(migrationCopy.metadata.labels, { a: "b" }, "the source Job's generated labels are dropped");
        assert.deepStrictEqual(migrationCopy.spec.template.metadata.labels, { a: "b" });
        assert.strictEqual(migrationCopy.spec.selector, undefined);
        assert.match(run.created[4].metadata.name, /^api-database-roles-2-restore-/);
        assert.match(
            run.stderr,
            /restored dev-20261126T023000Z\.dump into dev \(the backup taken just before is dev-20261127T150000Z\.dump\)/,
        );
    });
});
