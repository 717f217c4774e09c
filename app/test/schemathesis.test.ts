import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { APP_DIR, createDatabase, startInProcess } from "./helpers";

const HERE = path.join(APP_DIR, "test", "schemathesis");
/** Cases per operation and phase: 50 gives about 700 cases; raise it for a deeper run. */
const MAX_EXAMPLES = process.env.SCHEMATHESIS_MAX_EXAMPLES ?? "50";
/** A fixed seed makes a failure reproducible; set another (or "random") to explore. */
const SEED = process.env.SCHEMATHESIS_SEED ?? "1";
/** The run is stopped, and fails, past this many seconds. */
const TIME_LIMIT_S = Number(process.env.SCHEMATHESIS_TIME_LIMIT ?? "300");

function run(command: string, args: string[], cwd: string): Promise<{ code: number | null; output: string; timedOut: boolean }> {
    return new Promise((resolve, reject) => {
        const child = spawn(command, args, { cwd, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
        let output = "";
        let timedOut = false;
        child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
        child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
        const timer = setTimeout(() => {
            timedOut = true;
            child.kill("SIGTERM");
        }, TIME_LIMIT_S * 1000);
        child.once("error", reject);
        child.once("exit", (code) => {
            clearTimeout(timer);
            resolve({ code, output, timedOut });
        });
    });
}

/**
 * The OpenAPI document is the contract (issue 14, item 6b): schemathesis generates requests from it, with every
 * check (server errors, status codes, response schemas, schema-valid data accepted, schema-invalid data refused,
 * undeclared methods, resources after create and delete) in the examples, coverage, fuzzing and stateful phases.
 */
describe("schemathesis against /openapi.json", function () {
    this.timeout((TIME_LIMIT_S + 180) * 1000);

    it("finds no failure with every check and every phase", async function () {
        // First run: creates the pinned Python environment in the per-user cache.
        const st = execFileSync("bash", [path.join(HERE, "venv.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
        const service = await startInProcess(await createDatabase());
        const workdir = mkdtempSync(path.join(os.tmpdir(), "api-schemathesis-"));
        try {
            const started = Date.now();
            const { code, output, timedOut } = await run(
                st,
                [
                    ...["--config-file", path.join(HERE, "schemathesis.toml"), "run", `${service.base}/openapi.json`],
                    ...["--checks", "all", "--phases", "examples,coverage,fuzzing,stateful"],
                    ...["--max-examples", MAX_EXAMPLES, ...(SEED === "random" ? [] : ["--seed", SEED])],
                    ...["--generation-database", "none", "--output-truncate", "true"],
                ],
                workdir,
            );
            const seconds = ((Date.now() - started) / 1000).toFixed(1);
            const generated = Number(/(\d+) generated/.exec(output)?.[1] ?? 0);
            process.stderr.write(`schemathesis: ${generated} cases in ${seconds} s (max examples ${MAX_EXAMPLES}, seed ${SEED})\n`);
            assert.ok(!timedOut, `schemathesis ran longer than ${TIME_LIMIT_S} s:\n${output}`);
            assert.equal(code, 0, output);
            assert.ok(generated >= 100, `only ${generated} cases were generated:\n${output}`);
        } finally {
            rmSync(workdir, { recursive: true, force: true });
            await service.close();
        }
    });
});
