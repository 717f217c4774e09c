import { execFileSync } from "node:child_process";
import path from "node:path";

/**
 * One private PostgreSQL server for the whole run (scripts/pg-test.sh), in its own state folder so it never
 * collides with another user of the script. Each test file creates its own databases inside it.
 */
const script = path.join(__dirname, "..", "..", "scripts", "pg-test.sh");
const env = { ...process.env, PG_TEST_STATE: path.join(__dirname, "..", "..", ".pg-test", "app-tests") };

export function pgTest(command: "start" | "stop" | "url" | "pause" | "resume"): string {
    return execFileSync("bash", [script, command], {
        env,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
    }).trim();
}

export function mochaGlobalSetup(): void {
    process.env.API_TEST_ADMIN_URL = pgTest("start");
}

export function mochaGlobalTeardown(): void {
    pgTest("stop");
}
