import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { imageRuntime } from "../bench/image";
import { parseOptions, UsageError } from "../bench/options";
import { cpusAllowed, figures, parentPid, peakRssKiB, processTree, table, type LoadResult } from "../bench/stats";

function usageError(argv: string[], env: NodeJS.ProcessEnv = {}): string {
    try {
        parseOptions(argv, env);
    } catch (err) {
        assert.ok(err instanceof UsageError, `expected a UsageError, got ${String(err)}`);
        return err.message;
    }
    assert.fail(`parseOptions accepted ${JSON.stringify(argv)} ${JSON.stringify(env)}`);
}

describe("bench options", function () {
    it("defaults to 20 connections, 10 s per path, 2 s warm-up, 1000 items and no peer", function () {
        assert.deepEqual(parseOptions([], {}), {
            durationS: 10,
            connections: 20,
            warmupS: 2,
            seedItems: 1000,
            peer: undefined,
            pin: undefined,
        });
    });

    it("reads the environment, and flags (either form) win over it", function () {
        const env = { BENCH_DURATION: "5", BENCH_CONNECTIONS: "8", BENCH_PEER: "run-peer", BENCH_WARMUP: "0" };
        assert.deepEqual(parseOptions([], env), {
            durationS: 5,
            connections: 8,
            warmupS: 0,
            seedItems: 1000,
            peer: "run-peer",
            pin: undefined,
        });
        assert.deepEqual(parseOptions(["--duration", "3", "--connections=50", "--peer", "other --port $PORT", "--seed", "10"], env), {
            durationS: 3,
            connections: 50,
            warmupS: 0,
            seedItems: 10,
            peer: "other --port $PORT",
            pin: undefined,
        });
    });

    it("pins the servers to one CPU list, the load to another and PostgreSQL to the load's or a third, from --pin or BENCH_PIN", function () {
        const pinOf = (argv: string[], env: NodeJS.ProcessEnv, cpus: number) => (parseOptions(argv, env, cpus) as { pin?: unknown }).pin;
        assert.deepEqual(pinOf(["--pin", "0:1"], {}, 2), { server: "0", load: "1", database: "1" });
        assert.deepEqual(pinOf(["--pin", "0:1:0"], {}, 2), { server: "0", load: "1", database: "0" });
        assert.deepEqual(pinOf([], { BENCH_PIN: "0-1:2,3" }, 4), { server: "0-1", load: "2,3", database: "2,3" });
        assert.deepEqual(pinOf(["--pin=1:0"], { BENCH_PIN: "0:1" }, 2), { server: "1", load: "0", database: "0" });
        assert.equal(pinOf([], { BENCH_PIN: "" }, 2), undefined);
    });

    it("refuses a --pin whose lists are not this machine's CPUs or whose server and load lists overlap, naming what is allowed", function () {
        const allowed = (name: string, value: string) =>
            `${name} must be SERVER_CPUS:LOAD_CPUS[:DATABASE_CPUS], CPU lists such as 0:1, 0:1:0 or 0-1:2,3, ` +
            `the first two disjoint, of the CPUs 0 to 1 (got ${JSON.stringify(value)})`;
        const refused = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
            try {
                parseOptions(argv, env, 2);
            } catch (err) {
                assert.ok(err instanceof UsageError);
                return err.message;
            }
            assert.fail(`accepted ${JSON.stringify(argv)} ${JSON.stringify(env)}`);
        };
        for (const value of ["0", "0:0", "0-1:1", "0:2", "a:1", "1-0:1", "0:1:2", "0:1:", "0:1:0:1", ":1", "0:"]) {
            assert.equal(refused(["--pin", value]), allowed("--pin", value), value);
        }
        assert.equal(refused([], { BENCH_PIN: "0;1" }), allowed("BENCH_PIN", "0;1"));
    });

    it("treats an empty BENCH_PEER as no peer, and --help as a request for help", function () {
        assert.equal((parseOptions([], { BENCH_PEER: " " }) as { peer?: string }).peer, undefined);
        assert.equal((parseOptions([], { BENCH_PEER: "" }) as { peer?: string }).peer, undefined);
        assert.equal(parseOptions(["--duration", "3", "--help"], {}), "help");
    });

    it("names the flag or variable, the value given and what is allowed", function () {
        assert.equal(usageError(["--duration", "ten"]), '--duration must be a whole number of seconds from 1 to 600 (got "ten")');
        assert.equal(usageError(["--connections=0"]), '--connections must be a whole number of connections from 1 to 1000 (got "0")');
        assert.equal(
            usageError([], { BENCH_DURATION: "1.5" }),
            'BENCH_DURATION must be a whole number of seconds from 1 to 600 (got "1.5")',
        );
        assert.equal(usageError([], { BENCH_WARMUP: "-1" }), 'BENCH_WARMUP must be a whole number of seconds from 0 to 600 (got "-1")');
        assert.equal(usageError(["--seed", "100001"]), '--seed must be a whole number of items from 1 to 100000 (got "100001")');
        assert.equal(usageError(["--peer="]), '--peer must be a shell command that starts a server (got "")');
    });

    it("refuses unknown arguments and flags without a value", function () {
        assert.equal(
            usageError(["--time", "5"]),
            'unknown argument "--time": allowed are --duration, --connections, --warmup, --seed, --peer, --pin, --help',
        );
        assert.equal(
            usageError(["5"]),
            'unknown argument "5": allowed are --duration, --connections, --warmup, --seed, --peer, --pin, --help',
        );
        assert.equal(usageError(["--duration"]), "--duration needs a value: see --help");
    });
});

const run: LoadResult = { duration: 10.25, requests: { total: 41_000 }, latency: { p50: 3, p99: 12 }, errors: 1, timeouts: 2, non2xx: 3 };

describe("bench statistics", function () {
    it("takes req/s over the run's real length and counts every kind of failure", function () {
        assert.deepEqual(figures(run, 64.5), { rps: 4000, p50Ms: 3, p99Ms: 12, errors: 6, peakRssMiB: 64.5 });
        assert.throws(() => figures({ ...run, duration: 0 }, 1), /run of 0 s: nothing was measured/);
    });

    it("reads the peak RSS and the parent pid from /proc", function () {
        assert.equal(peakRssKiB("Name:\tnode\nVmPeak:\t 999 kB\nVmHWM:\t   70144 kB\nVmRSS:\t   65000 kB\n"), 70144);
        assert.throws(() => peakRssKiB("Name:\tnode\n"), /no VmHWM line/);
        // A command name with spaces and a closing parenthesis must not shift the fields.
        assert.equal(parentPid("4242 (uvicorn) x) S 4100 4242 4242 0 -1"), 4100);
        assert.throws(() => parentPid("garbage"), /cannot read the parent pid/);
        assert.equal(cpusAllowed("Name:\tnode\nCpus_allowed:\t1\nCpus_allowed_list:\t0\nMems_allowed:\t1\n"), "0");
        assert.equal(cpusAllowed("Cpus_allowed_list:\t0-1,3\n"), "0-1,3");
        assert.throws(() => cpusAllowed("Name:\tnode\n"), /no Cpus_allowed_list line/);
    });

    it("finds every descendant of the started process, and nothing else", function () {
        const parents = new Map([
            [10, 1],
            [11, 10],
            [12, 11],
            [13, 10],
            [20, 1],
            [21, 20],
        ]);
        assert.deepEqual(processTree(10, parents).sort(), [10, 11, 12, 13]);
        assert.deepEqual(processTree(21, parents), [21]);
    });

    it("prints the service alone, or side by side with the peer and the ratios", function () {
        const ours = figures(run, 70);
        const peer = { rps: 2000, p50Ms: 5, p99Ms: 30, errors: 0, peakRssMiB: 53.25 };
        assert.equal(
            table([{ path: "GET /x", ours }]),
            "| path | req/s | p50 ms | p99 ms | peak RSS MiB | errors |\n| --- | ---: | ---: | ---: | ---: | ---: |\n| GET /x | 4000 | 3 | 12 | 70.0 | 6 |",
        );
        const lines = table([{ path: "GET /x", ours, peer }], "FastAPI").split("\n");
        assert.equal(
            lines[0],
            "| path | ours req/s | FastAPI req/s | ratio | ours p99 ms | FastAPI p99 ms | ours peak RSS MiB | FastAPI peak RSS MiB | errors |",
        );
        assert.equal(lines[2], "| GET /x | 4000 | 2000 | 2.00x | 12 | 30 | 70.0 | 53.3 | 6 |");
        assert.equal(
            table([{ path: "GET /x", ours, peer: { ...peer, rps: 0 } }], "FastAPI")
                .split("\n")[2]
                .split(" | ")[3],
            "n/a",
        );
    });
});

describe("bench: how the image runs the service", function () {
    it("takes the ENV lines and the CMD of the last stage only, in either quoting", function () {
        const dockerfile = [
            "FROM node AS build",
            "ENV BUILD_ONLY=1",
            'CMD ["npm", "run", "build"]',
            "FROM node",
            'ENV NODE_ENV=production NODE_OPTIONS="--a=2 --b" \\',
            "    EMPTY= SINGLE='a b'",
            'CMD ["node", "--flag=1", "dist/server.js"]',
        ].join("\n");
        assert.deepEqual(imageRuntime(dockerfile), {
            env: { NODE_ENV: "production", NODE_OPTIONS: "--a=2 --b", EMPTY: "", SINGLE: "a b" },
            command: ["node", "--flag=1", "dist/server.js"],
        });
    });

    it("refuses what it cannot run as the image would", function () {
        assert.throws(() => imageRuntime("FROM node\nENV NODE_ENV production\nCMD []"), /"ENV NODE_ENV production" is the legacy ENV form/);
        assert.throws(() => imageRuntime("FROM node\nCMD node dist/server.js"), /"CMD node dist\/server.js" is not the exec form/);
        assert.throws(() => imageRuntime('FROM node\nCMD ["node"]\nFROM node\n'), /the last stage has no CMD/);
    });

    it("gives the bench the app's real runtime: node with its memory flags, the image's environment", function () {
        const { env, command } = imageRuntime(readFileSync(path.join(__dirname, "..", "Dockerfile"), "utf8"));
        assert.equal(env.NODE_ENV, "production");
        assert.equal(env.NODE_EXTRA_CA_CERTS, undefined, "a build stage's ENV must not leak into the runtime's");
        assert.equal(command[0], "node");
        assert.equal(command[command.length - 1], "dist/server.js");
    });
});
