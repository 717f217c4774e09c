import * as assert from "assert";
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/**
 * scripts/cluster-net.sh: what `cluster:down` relies on to remove NetworkPolicy enforcement exactly,
 * and the refusals of the start functions. CoreDNS itself is tested in tools/coredns (go test).
 */

const projectRoot = path.resolve(__dirname, "..", "..");

/** Runs `body` in bash with lib.sh and cluster-net.sh sourced; `netns` runs it inside that namespace. */
function run(body: string, netns?: string) {
    const script = `set -euo pipefail; . scripts/lib.sh; . scripts/cluster-net.sh; ${body}`;
    const argv = netns ? ["ip", "netns", "exec", netns, "bash", "-c", script] : ["bash", "-c", script];
    const result = spawnSync(argv[0], argv.slice(1), { cwd: projectRoot, encoding: "utf8", timeout: 30_000 });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function hasCommand(name: string): boolean {
    return spawnSync("bash", ["-c", `type -P ${name}`]).status === 0;
}

/** Every chain of the filter table, and every ipset, inside the namespace: the state we compare. */
function hostRules(netns: string): string[] {
    const dump = run(
        "iptables-save -t filter | grep -E '^(:|-A)' | sed -E 's/ \\[[0-9]+:[0-9]+\\]$//'; ipset list -n | sed 's/^/ipset /'",
        netns,
    );
    assert.strictEqual(dump.status, 0, dump.stderr);
    return dump.stdout.trim().split("\n").sort();
}

describe("scripts/cluster-net.sh", () => {
    describe("net_policy_remove_rules, in a scratch network namespace", function () {
        const netns = `apistack-nettest-${process.pid}`;

        before(function () {
            if (process.getuid?.() !== 0 || !hasCommand("ipset") || !hasCommand("iptables-restore")) {
                this.skip(); // needs root, ipset and iptables, as the real node does
            }
            const add = spawnSync("ip", ["netns", "add", netns], { encoding: "utf8" });
            assert.strictEqual(add.status, 0, `ip netns add ${netns}: ${add.stderr}`);
        });

        after(() => {
            spawnSync("ip", ["netns", "del", netns]);
        });

        // What kube-router's firewall controller leaves (names as in its code), beside rules that belong
        // to others on the same host: Docker's, kube-proxy's and an unrelated INPUT rule.
        const setup = `
            ipset create KUBE-SRC-ABCDEFGH01234567 hash:ip
            ipset create KUBE-DST-ABCDEFGH01234567 hash:ip
            ipset create docker-kept hash:ip
            iptables-restore --noflush <<'EOF'
*filter
:KUBE-ROUTER-INPUT - [0:0]
:KUBE-ROUTER-FORWARD - [0:0]
:KUBE-ROUTER-OUTPUT - [0:0]
:KUBE-NWPLCY-DEFAULT - [0:0]
:KUBE-NWPLCY-QWERTY0123456789 - [0:0]
:KUBE-POD-FW-ASDFGH0123456789 - [0:0]
:DOCKER-USER - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-FORWARD - [0:0]
-A INPUT -m comment --comment "kube-router netpol" -j KUBE-ROUTER-INPUT
-A FORWARD -m comment --comment "kube-router netpol" -j KUBE-ROUTER-FORWARD
-A OUTPUT -m comment --comment "kube-router netpol" -j KUBE-ROUTER-OUTPUT
-A INPUT -p tcp --dport 22 -j ACCEPT
-A FORWARD -j DOCKER-USER
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A DOCKER-USER -m set --match-set docker-kept src -j RETURN
-A KUBE-ROUTER-INPUT -s 10.244.0.5 -j KUBE-POD-FW-ASDFGH0123456789
-A KUBE-ROUTER-FORWARD -m physdev --physdev-is-bridged -d 10.244.0.5 -j KUBE-POD-FW-ASDFGH0123456789
-A KUBE-POD-FW-ASDFGH0123456789 -j KUBE-NWPLCY-QWERTY0123456789
-A KUBE-POD-FW-ASDFGH0123456789 -j KUBE-NWPLCY-DEFAULT
-A KUBE-NWPLCY-QWERTY0123456789 -m set --match-set KUBE-SRC-ABCDEFGH01234567 src -m set --match-set KUBE-DST-ABCDEFGH01234567 dst -j ACCEPT
-A KUBE-NWPLCY-DEFAULT -j MARK --set-xmark 0x10000/0x10000
COMMIT
EOF`;

        it("removes kube-router's chains, their hooks and its ipsets, and nothing else; twice is fine", () => {
            const before = run(setup, netns);
            assert.strictEqual(before.status, 0, before.stderr);
            const listed = run("net_policy_rules", netns);
            assert.deepStrictEqual(listed.stdout.trim().split("\n").sort(), [
                "chain KUBE-NWPLCY-DEFAULT",
                "chain KUBE-NWPLCY-QWERTY0123456789",
                "chain KUBE-POD-FW-ASDFGH0123456789",
                "chain KUBE-ROUTER-FORWARD",
                "chain KUBE-ROUTER-INPUT",
                "chain KUBE-ROUTER-OUTPUT",
                "ipset KUBE-DST-ABCDEFGH01234567",
                "ipset KUBE-SRC-ABCDEFGH01234567",
            ]);

            const first = run("net_policy_remove_rules", netns);
            assert.strictEqual(first.status, 0, first.stderr);
            assert.match(first.stderr, /removed kube-router's chains: 6/);
            assert.deepStrictEqual(hostRules(netns), [
                "-A DOCKER-USER -m set --match-set docker-kept src -j RETURN",
                "-A FORWARD -j DOCKER-USER",
                '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
                "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT",
                '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
                ":DOCKER-USER -",
                ":FORWARD ACCEPT",
                ":INPUT ACCEPT",
                ":KUBE-FORWARD -",
                ":KUBE-SERVICES -",
                ":OUTPUT ACCEPT",
                "ipset docker-kept",
            ]);

            const second = run("net_policy_remove_rules && net_policy_rules", netns);
            assert.strictEqual(second.status, 0, second.stderr);
            assert.strictEqual(second.stdout, "");
            assert.doesNotMatch(second.stderr, /removed/);
        });
    });

    describe("start and stop", () => {
        let scratch: string;
        let impostor: ChildProcess | undefined;

        beforeEach(() => {
            scratch = fs.mkdtempSync(path.join(os.tmpdir(), "cluster-net-"));
            fs.writeFileSync(path.join(scratch, "kubeconfig"), "apiVersion: v1\nkind: Config\n");
        });

        afterEach(() => {
            if (impostor?.pid !== undefined && impostor.exitCode === null) {
                process.kill(impostor.pid, "SIGKILL");
            }
            impostor = undefined;
            fs.rmSync(scratch, { recursive: true, force: true });
        });

        it("stops are quiet no-ops when nothing was started, also twice", () => {
            const result = run(`net_dns_stop ${scratch}/node; net_policy_stop ${scratch}/node; net_dns_stop ${scratch}/node`);
            assert.strictEqual(result.status, 0, result.stderr);
            assert.doesNotMatch(result.stderr, /stopped/);
        });

        it("net_dns_start refuses an address that no interface has", () => {
            const result = run(`net_dns_start ${scratch}/node 10.255.254.253 53 127.0.0.1:18080 127.0.0.1:18181 ${scratch}/kubeconfig`);
            assert.strictEqual(result.status, 1);
            assert.match(result.stderr, /no interface has the address 10\.255\.254\.253/);
            assert.ok(!fs.existsSync(path.join(scratch, "node", "coredns.pid")), "nothing was started");
        });

        it("net_policy_start refuses while another checkout's kube-router runs, naming its pid", function () {
            if (!hasCommand("ipset")) {
                this.skip(); // the start checks for ipset before anything else
            }
            // A process that the host sees as `kube-router` (its comm), but is only sleep under that name.
            const fake = path.join(scratch, "kube-router");
            fs.copyFileSync(spawnSync("bash", ["-c", "type -P sleep"], { encoding: "utf8" }).stdout.trim(), fake);
            fs.chmodSync(fake, 0o755);
            impostor = spawn(fake, ["60"], { stdio: "ignore" });
            const result = run(`net_policy_start ${scratch}/node ${scratch}/kubeconfig node-a 10.96.0.0/12`);
            assert.strictEqual(result.status, 1);
            assert.match(result.stderr, new RegExp(`another kube-router runs on this host \\(pid ${impostor.pid}`));
            assert.ok(!fs.existsSync(path.join(scratch, "node", "kube-router.pid")), "nothing was started");
        });

        it("net_policy_start names the bad argument", () => {
            const result = run(`net_policy_start ${scratch}/node ${scratch}/kubeconfig node-a 10.96.0.0`);
            assert.strictEqual(result.status, 1);
            assert.match(result.stderr, /service-cidr '10\.96\.0\.0' is not an IPv4 CIDR/);
        });
    });
});
