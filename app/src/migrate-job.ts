import { ConfigError, loadConfig, type Config } from "./config";
import { isDatabaseUnavailable } from "./db";
import { createLogger } from "./logger";
import { migrate } from "./migrate";

/**
 * The migration step of a release, run once as a Kubernetes Job with the owner's credentials
 * (`node dist/migrate-job.js`): applies the pending migrations under the same advisory lock as the server,
 * then exits 0, or exits 1 so that the Job fails and `pulumi up` stops before any API pod changes.
 * A database that is still starting is waited out for a bounded time; any other error fails at once.
 */

/** How long to wait for an unreachable database before failing the Job. */
const UNAVAILABLE_DEADLINE_MS = 120_000;

async function main(): Promise<number> {
    let config: Config;
    try {
        config = loadConfig();
    } catch (err) {
        if (err instanceof ConfigError) {
            process.stderr.write(`configuration error: ${err.message}\n`);
            return 2;
        }
        throw err;
    }
    const logger = createLogger(config.logLevel);
    const deadline = Date.now() + UNAVAILABLE_DEADLINE_MS;
    let delay = 500;
    for (;;) {
        try {
            const result = await migrate(config.databaseUrl, logger);
            logger.info({ applied: result.applied, schemaVersion: result.version }, "migrations done");
            return 0;
        } catch (err) {
            const message = (err as Error).message;
            if (!isDatabaseUnavailable(err) || Date.now() + delay > deadline) {
                logger.fatal({ err: { message, code: (err as { code?: string }).code } }, "migration failed");
                return 1;
            }
            logger.warn({ err: { message }, retryInMs: delay }, "database unavailable for migrations; retrying");
            await new Promise((resolve) => setTimeout(resolve, delay));
            delay = Math.min(delay * 2, 10_000);
        }
    }
}

void main().then((code) => process.exit(code));
