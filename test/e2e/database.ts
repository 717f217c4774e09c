import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { projectRoot } from "./engine";
import { kubectlJson, localKubeconfig } from "./kube";

/** What the real-node tier needs to act on a stack's database as its users do: logins, the day-2 script. */

export interface Login {
    readonly user: string;
    readonly password: string;
}

/** The login in a Secret's connection URL (key `url`): the API's, or the owner's. Kept in memory only. */
export function loginOfSecret(namespace: string, secret: string): Login {
    const data = kubectlJson("-n", namespace, "get", "secret", secret).data as Record<string, string>;
    const url = new URL(Buffer.from(data.url, "base64").toString("utf8"));
    return { user: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
}

export interface SqlRun {
    readonly ok: boolean;
    /** What psql printed, errors included (verbose: each error carries its SQLSTATE). */
    readonly output: string;
}

/**
 * Runs SQL as `login` against `database`, over TCP to the PostgreSQL pod's own address, so that the
 * server checks the password as it does for the API (the local socket trusts). The password goes
 * through stdin, never into an argument or the pod's environment.
 */
export function sqlAs(namespace: string, login: Login, sql: string, database?: string): SqlRun {
    const run = spawnSync(
        "kubectl",
        [
            "--kubeconfig",
            localKubeconfig(),
            "-n",
            namespace,
            "exec",
            "-i",
            "deploy/postgres",
            "--",
            "sh",
            "-c",
            'IFS= read -r PGPASSWORD; export PGPASSWORD; exec psql -h 127.0.0.1 -U "$0" -d "${1:-$POSTGRES_DB}" -v VERBOSITY=verbose -v ON_ERROR_STOP=1 -tAqc "$2" 2>&1',
            login.user,
            database ?? "",
            sql,
        ],
        { input: `${login.password}\n`, encoding: "utf8" },
    );
    return { ok: run.status === 0, output: `${run.stdout}${run.stderr}`.trim() };
}

/**
 * Runs scripts/db.sh in the stack's program copy, as in a user's checkout: it reads the stack's namespace
 * and kubeconfig from that copy's Pulumi.<stack>.yaml. (The copy holds the program only; the scripts
 * are added on first use.) Returns its exit status and output.
 */
export function dbScript(programDir: string, ...args: string[]): { status: number; stdout: string; stderr: string } {
    if (!fs.existsSync(path.join(programDir, "scripts"))) {
        fs.cpSync(path.join(projectRoot, "scripts"), path.join(programDir, "scripts"), { recursive: true });
    }
    const run = spawnSync("bash", [path.join(programDir, "scripts", "db.sh"), ...args], { encoding: "utf8", timeout: 15 * 60 * 1000 });
    return { status: run.status ?? -1, stdout: run.stdout, stderr: run.stderr };
}

/**
 * An API image whose release adds the next migration, which fails (it alters a table that does not
 * exist): built on `base` with the node's Docker engine, and loaded into the node. Returns its reference.
 */
export function buildFailingMigrationImage(base: string, dockerEnv: NodeJS.ProcessEnv): string {
    const ref = `${base.slice(0, base.lastIndexOf(":"))}:e2e-failing-migration`;
    const next = fs.readdirSync(path.join(projectRoot, "app", "migrations")).filter((file) => file.endsWith(".sql")).length + 1;
    const file = `${String(next).padStart(4, "0")}_e2e_fails.sql`;
    const context = fs.mkdtempSync(path.join(os.tmpdir(), "api-stack-failing-migration-"));
    try {
        fs.writeFileSync(path.join(context, file), "ALTER TABLE e2e_no_such_table ADD COLUMN never integer;\n");
        fs.writeFileSync(path.join(context, "Dockerfile"), `FROM ${base}\nCOPY ${file} /app/migrations/\n`);
        execFileSync("docker", ["build", "-q", "-t", ref, context], { env: dockerEnv, stdio: ["ignore", "ignore", "inherit"] });
    } finally {
        fs.rmSync(context, { recursive: true, force: true });
    }
    execFileSync("bash", [path.join(projectRoot, "scripts", "cluster.sh"), "load-images", ref], { stdio: "inherit" });
    return ref;
}

/** Every file under `dir` whose bytes contain one of `secrets`: "<file>" for each hit. */
export function filesContaining(dir: string, secrets: readonly string[]): string[] {
    const hits: string[] = [];
    for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
        if (!entry.isFile()) {
            continue;
        }
        const file = path.join(entry.parentPath, entry.name);
        const bytes = fs.readFileSync(file);
        if (secrets.some((secret) => bytes.includes(secret))) {
            hits.push(file);
        }
    }
    return hits;
}
