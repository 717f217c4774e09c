import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { projectRoot } from "../unit/harness";
import { dockerStatus } from "./docker";

/**
 * scripts/docker.sh against an engine it did not start: a checkout whose socket path is already served
 * by another engine reuses it and never stops it.
 */

function dockerScript(checkout: string, command: string): { status: number | null; output: string } {
    const env = { ...process.env };
    delete env.DOCKER_HOST;
    const result = spawnSync("bash", [path.join(checkout, "scripts", "docker.sh"), command], { cwd: checkout, env, encoding: "utf8" });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe("engine: scripts/docker.sh reuses an engine it did not start", function () {
    this.timeout(2 * 60 * 1000);
    const checkout = fs.mkdtempSync(path.join(os.tmpdir(), "api-stack-engine-"));

    before(() => {
        const host = process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
        assert.ok(host.startsWith("unix://"), `the engine under test listens on a unix socket, not ${host}`);
        assert.ok(fs.existsSync(host.slice("unix://".length)), `${host} exists (run through scripts/test-container.sh)`);
        fs.mkdirSync(path.join(checkout, "scripts"));
        for (const script of ["docker.sh", "env.sh", "lib.sh", "node.sh"]) {
            fs.copyFileSync(path.join(projectRoot, "scripts", script), path.join(checkout, "scripts", script));
        }
        // Another engine already serves the socket path of this checkout.
        fs.mkdirSync(path.join(checkout, ".docker-engine"));
        fs.symlinkSync(host.slice("unix://".length), path.join(checkout, ".docker-engine", "docker.sock"));
    });

    after(() => fs.rmSync(checkout, { recursive: true, force: true }));

    it("up reuses it, status says it is not ours, and down leaves it running", () => {
        const up = dockerScript(checkout, "up");
        assert.strictEqual(up.status, 0, up.output);
        assert.match(up.output, /reusing it/);
        assert.ok(!fs.existsSync(path.join(checkout, ".docker-engine", "dockerd.pid")), "no dockerd of its own");
        const status = dockerScript(checkout, "status");
        assert.match(status.output, /reused \(not started by this checkout\)/);
        const down = dockerScript(checkout, "down");
        assert.strictEqual(down.status, 0, down.output);
        assert.match(down.output, /no dockerd started by this checkout/);
        assert.strictEqual(dockerStatus("info").status, 0, "the other engine still answers");
    });

    it("without dockerd and without root to install it, up fails with what to do next", () => {
        // PATH without dockerd, and a user that can neither reach the engine nor run apt-get.
        const bin = fs.mkdtempSync(path.join(os.tmpdir(), "api-stack-nodockerd-"));
        fs.chmodSync(bin, 0o755);
        for (const dir of ["/usr/local/bin", "/usr/bin", "/bin"]) {
            for (const tool of fs.readdirSync(dir)) {
                if (!/^(dockerd|node$)/.test(tool) && !fs.existsSync(path.join(bin, tool)))
                    fs.symlinkSync(path.join(dir, tool), path.join(bin, tool));
            }
        }
        // The scripts run on Node.js 24 (scripts/node.sh); this test's own node is one, copied where uid 65534
        // can run it (the per-user cache may sit in root's 0700 home), so that no install is attempted.
        fs.copyFileSync(process.execPath, path.join(bin, "node"));
        fs.chmodSync(path.join(bin, "node"), 0o755);
        const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "api-stack-noengine-"));
        fs.cpSync(path.join(checkout, "scripts"), path.join(scratch, "scripts"), { recursive: true });
        fs.chmodSync(scratch, 0o777);
        try {
            const result = spawnSync(
                "setpriv",
                ["--reuid=65534", "--regid=65534", "--clear-groups", "bash", path.join(scratch, "scripts", "docker.sh"), "up"],
                { cwd: scratch, encoding: "utf8", env: { PATH: bin, HOME: scratch } },
            );
            const output = `${result.stdout}${result.stderr}`;
            assert.strictEqual(result.status, 1, output);
            assert.match(output, /dockerd is not installed and installing it needs root/);
            assert.match(output, /next: run 'apt-get install docker.io' as root/);
        } finally {
            fs.rmSync(bin, { recursive: true, force: true });
            fs.rmSync(scratch, { recursive: true, force: true });
        }
    });

    it("refuses an unknown command with exit 2, naming it", () => {
        const result = dockerScript(checkout, "restart");
        assert.strictEqual(result.status, 2);
        assert.match(result.output, /unknown command 'restart' \(allowed: up, down, status\)/);
    });
});
