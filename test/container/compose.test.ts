import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { projectRoot } from "../unit/harness";
import { docker, dockerStatus, until } from "./docker";

/**
 * docker-compose.yml for real, as a new user runs it: the committed files of a fresh clone, .env made
 * from .env.example, `docker compose up --build -d`. Base images and the proxy's CA come from the
 * environment (scripts/env.sh), as the README says.
 */

const project = `api-stack-compose-${process.pid}`;
const clone = fs.mkdtempSync(path.join(os.tmpdir(), "api-stack-compose-"));

/** The committed files of the checkout (as a fresh clone has them), with their current content. */
function copyCommittedFiles(target: string): void {
    const files = execFileSync("git", ["ls-files", "-z"], { cwd: projectRoot, encoding: "utf8" }).split("\0").filter(Boolean);
    for (const file of files) {
        if (!fs.existsSync(path.join(projectRoot, file))) continue;
        fs.mkdirSync(path.dirname(path.join(target, file)), { recursive: true });
        fs.copyFileSync(path.join(projectRoot, file), path.join(target, file));
    }
}

function compose(...args: string[]): { status: number; output: string } {
    return dockerStatus("compose", "--project-directory", clone, "-p", project, ...args);
}

function writeEnv(changes: Record<string, string | undefined>): void {
    let env = fs.readFileSync(path.join(clone, ".env.example"), "utf8");
    for (const [name, value] of Object.entries(changes)) {
        env = env.replace(new RegExp(`^${name}=.*$`, "m"), value === undefined ? "" : `${name}=${value}`);
    }
    fs.writeFileSync(path.join(clone, ".env"), env);
}

async function freePort(): Promise<number> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "0.0.0.0", resolve));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    return port;
}

function running(): string[] {
    return docker("ps", "--filter", `label=com.docker.compose.project=${project}`, "--format", "{{.Names}}").split("\n").filter(Boolean);
}

describe("compose: docker-compose.yml from a fresh clone", function () {
    this.timeout(15 * 60 * 1000);
    let origin = "";

    before(async () => {
        assert.strictEqual(compose("version").status, 0, "docker compose is available (npm run docker:up builds it)");
        copyCommittedFiles(clone);
        const port = await freePort();
        writeEnv({ API_PORT: String(port) });
        origin = `http://127.0.0.1:${port}`;
    });

    after(() => {
        compose("down", "-v", "--remove-orphans");
        fs.rmSync(clone, { recursive: true, force: true });
    });

    it("a missing .env value names the variable, and nothing starts", () => {
        writeEnv({ API_PORT: new URL(origin).port, POSTGRES_PASSWORD: undefined });
        const up = compose("up", "-d");
        assert.notStrictEqual(up.status, 0);
        assert.match(up.output, /required variable POSTGRES_PASSWORD is missing a value/);
        assert.deepStrictEqual(running(), []);
        writeEnv({ API_PORT: new URL(origin).port });
    });

    it("builds and starts both services healthy, serves items, keeps them across down/up, and down -v drops the volume", async () => {
        const started = Date.now();
        const up = compose("up", "--build", "-d", "--wait");
        assert.strictEqual(up.status, 0, up.output);
        console.log(`      compose up --build to healthy: ${((Date.now() - started) / 1000).toFixed(1)}s`);
        const health = docker("ps", "--filter", `label=com.docker.compose.project=${project}`, "--format", "{{.Names}} {{.Status}}");
        assert.strictEqual(health.split("\n").filter((line) => line.includes("(healthy)")).length, 2, health);

        const created = await fetch(`${origin}/api/v1/items`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ name: "kept across down and up" }),
        });
        assert.strictEqual(created.status, 201);
        const item = (await created.json()) as { id: string };
        const patched = await fetch(`${origin}/api/v1/items/${item.id}`, {
            method: "PATCH",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ description: "changed" }),
        });
        assert.strictEqual(patched.status, 200);

        assert.strictEqual(compose("down").status, 0);
        assert.deepStrictEqual(running(), []);
        const again = compose("up", "-d", "--wait");
        assert.strictEqual(again.status, 0, again.output);
        // The client's pooled connection died with the old container: the first request may fail once.
        await until("the API answers again after up", 30, async () => {
            try {
                return (await fetch(`${origin}/readyz`)).status === 200;
            } catch {
                return false;
            }
        });
        const read = await fetch(`${origin}/api/v1/items/${item.id}`);
        assert.strictEqual(read.status, 200, "the item survives down and up (named volume)");
        assert.strictEqual(((await read.json()) as { description: string }).description, "changed");
        assert.strictEqual((await fetch(`${origin}/api/v1/items/${item.id}`, { method: "DELETE" })).status, 204);

        const volume = `${project}_db-data`;
        assert.strictEqual(dockerStatus("volume", "inspect", volume).status, 0);
        assert.strictEqual(compose("down", "-v").status, 0);
        assert.notStrictEqual(dockerStatus("volume", "inspect", volume).status, 0, "down -v removes the volume");
    });

    it("a port already taken fails with the port named", async () => {
        const taken = net.createServer();
        await new Promise<void>((resolve) => taken.listen(0, "0.0.0.0", resolve));
        const port = (taken.address() as net.AddressInfo).port;
        try {
            writeEnv({ API_PORT: String(port) });
            const up = compose("up", "-d");
            assert.notStrictEqual(up.status, 0);
            assert.match(up.output, new RegExp(`0\\.0\\.0\\.0:${port}: bind: address already in use`));
            assert.ok(!running().some((name) => name.includes("-api-")), "the API did not start");
        } finally {
            taken.close();
            compose("down", "-v");
        }
    });
});
