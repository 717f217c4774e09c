import * as assert from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs, UsageError } from "../../scripts/bench-deploy/args";
import { readRendered, servicesWithoutReadyEndpoints } from "../../scripts/bench-deploy/manifests";
import { formatTable, formatTargets, ratio, Row, summarize } from "../../scripts/bench-deploy/report";
import { scaleConfig, simulatedNodeSelectorText, simulatedTaint } from "../../scripts/bench-deploy/scale";
import { configJson, projectRoot } from "../e2e/engine";
import { runProgram } from "../unit/harness";

/** The deployment benchmark's pieces that need no cluster: arguments, statistics, the table, the rendered manifests. */

const stacks = ["dev", "prod"];

describe("bench:deploy arguments", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-args-"));
    const kubeconfig = path.join(dir, "kubeconfig");
    fs.writeFileSync(kubeconfig, "apiVersion: v1\nkind: Config\n");
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    function refusal(argv: string[], env: NodeJS.ProcessEnv = {}): string {
        try {
            parseArgs(argv, env, stacks);
        } catch (error) {
            assert.ok(error instanceof UsageError, `a UsageError, got ${String(error)}`);
            return error.message;
        }
        throw new Error(`${argv.join(" ")} was accepted`);
    }

    it("defaults: dev, 3 runs, the cluster of KUBECONFIG, else the local cluster's kubeconfig", () => {
        assert.deepStrictEqual(parseArgs([], { KUBECONFIG: kubeconfig }, stacks), {
            stack: "dev",
            runs: 3,
            render: false,
            kubeconfig,
            context: undefined,
            image: undefined,
            postgresImage: undefined,
            replicas: undefined,
            on: "any",
        });
        assert.strictEqual(parseArgs([], { API_STACK_KUBECONFIG: kubeconfig }, stacks)?.kubeconfig, kubeconfig);
    });

    it("takes every flag, as `--flag value` or `--flag=value`", () => {
        const options = parseArgs(
            [
                "--stack",
                "prod",
                "--runs=5",
                "--kubeconfig",
                kubeconfig,
                "--context=node-1",
                "--image",
                "registry.local/api:1.2",
                "--postgres-image=registry.local/postgres:15.10",
                "--replicas",
                "200",
                "--on=simulated",
            ],
            {},
            stacks,
        );
        assert.deepStrictEqual(options, {
            stack: "prod",
            runs: 5,
            render: false,
            kubeconfig,
            context: "node-1",
            image: "registry.local/api:1.2",
            postgresImage: "registry.local/postgres:15.10",
            replicas: 200,
            on: "simulated",
        });
        assert.deepStrictEqual(parseArgs(["--render", "--runs", "1"], {}, stacks), {
            stack: "dev",
            runs: 1,
            render: true,
            image: undefined,
            postgresImage: undefined,
            replicas: undefined,
            on: "any",
        });
        assert.strictEqual(parseArgs(["--help"], {}, stacks), undefined);
    });

    it("refuses bad values naming the flag, the value and what is allowed", () => {
        assert.strictEqual(refusal(["--runs", "0"], { KUBECONFIG: kubeconfig }), '--runs "0": allowed: a whole number from 1 to 20');
        assert.strictEqual(refusal(["--runs=2.5"], { KUBECONFIG: kubeconfig }), '--runs "2.5": allowed: a whole number from 1 to 20');
        assert.strictEqual(refusal(["--stack", "qa"], { KUBECONFIG: kubeconfig }), '--stack "qa": no Pulumi.qa.yaml; allowed: dev, prod');
        assert.match(refusal(["--image", "Bad Ref"], { KUBECONFIG: kubeconfig }), /^--image "Bad Ref": allowed: an image reference/);
        assert.match(
            refusal(["--fast"]),
            /^unknown argument "--fast"; allowed: --stack, --runs, --kubeconfig, --context, --image, --postgres-image, --replicas, --on, --render, --help$/,
        );
        assert.strictEqual(refusal(["--stack"]), "--stack needs a value");
        assert.match(refusal(["--render", "--kubeconfig", kubeconfig]), /^--kubeconfig ".*": not allowed with --render/);
    });

    it("scale flags: --replicas from 1 to 500 and --on any or simulated, also in render mode; others refused naming flag, value and range", () => {
        const env = { KUBECONFIG: kubeconfig };
        assert.strictEqual(parseArgs(["--replicas", "1"], env, stacks)?.replicas, 1);
        assert.strictEqual(parseArgs(["--replicas=500"], env, stacks)?.replicas, 500);
        assert.deepStrictEqual(
            [parseArgs(["--render", "--replicas", "200", "--on", "simulated"], {}, stacks)].map((o) => [o?.replicas, o?.on]),
            [[200, "simulated"]],
        );
        for (const replicas of ["0", "501", "2.5", "-3", "many", "1e2"]) {
            assert.strictEqual(refusal(["--replicas", replicas], env), `--replicas "${replicas}": allowed: a whole number from 1 to 500`);
        }
        for (const on of ["real", "kwok", "Simulated"]) {
            assert.strictEqual(refusal(["--on", on], env), `--on "${on}": allowed: any or simulated`);
        }
        assert.strictEqual(refusal(["--on"], env), "--on needs a value");
    });

    it("PostgreSQL's image: the stand-in named by POSTGRES_IMAGE unless --postgres-image names another; a reference without a tag is refused", () => {
        const env = { KUBECONFIG: kubeconfig, POSTGRES_IMAGE: "api-stack/postgres-standin:15.20-deb12u1" };
        assert.strictEqual(parseArgs([], env, stacks)?.postgresImage, "api-stack/postgres-standin:15.20-deb12u1");
        assert.strictEqual(parseArgs(["--postgres-image", "postgres:16.4"], env, stacks)?.postgresImage, "postgres:16.4");
        assert.strictEqual(parseArgs([], { ...env, POSTGRES_IMAGE: "" }, stacks)?.postgresImage, undefined);
        assert.strictEqual(
            refusal(["--postgres-image", "postgres"], env),
            '--postgres-image "postgres": allowed: an image reference repository:tag, such as api-stack/postgres-standin:15.20-deb12u1',
        );
        assert.match(
            refusal([], { ...env, POSTGRES_IMAGE: "Postgres Standin" }),
            /^POSTGRES_IMAGE "Postgres Standin": allowed: an image reference repository:tag/,
        );
    });

    it("npm run bench:deploy passes its flags on to the script (bash -c drops them unless they are handed over)", () => {
        const env = { ...process.env, KUBECONFIG: kubeconfig };
        const result = spawnSync("npm", ["run", "--silent", "bench:deploy", "--", "--runs", "0"], {
            cwd: projectRoot,
            env,
            encoding: "utf8",
        });
        assert.strictEqual(result.status, 2, `${result.stdout}${result.stderr}`);
        assert.match(result.stderr, /^bench:deploy: --runs "0": allowed: a whole number from 1 to 20$/m);
    });

    it("without a cluster it says how to name one, and a missing kubeconfig is named with where it came from", () => {
        assert.match(refusal([], {}), /^no cluster: pass --kubeconfig FILE or set KUBECONFIG .* or use --render/);
        assert.match(refusal([], { API_STACK_KUBECONFIG: path.join(dir, "absent") }), /^no cluster:/);
        assert.strictEqual(
            refusal([], { KUBECONFIG: path.join(dir, "absent") }),
            `KUBECONFIG "${path.join(dir, "absent")}": no such file; allowed: the kubeconfig file of a running cluster`,
        );
        assert.match(refusal(["--kubeconfig", path.join(dir, "gone")]), /^--kubeconfig ".*gone": no such file/);
    });
});

describe("bench:deploy statistics and table", () => {
    it("min and median of odd and even run counts, in any order", () => {
        assert.deepStrictEqual(summarize([3.2, 1.1, 2.0]), { min: 1.1, median: 2.0 });
        assert.deepStrictEqual(summarize([4, 1, 3, 2]), { min: 1, median: 2.5 });
        assert.throws(() => summarize([]), /without runs/);
    });

    it("ratios to one decimal, and '-' without a base row", () => {
        assert.strictEqual(ratio(3, 1.2), "2.5x");
        assert.strictEqual(ratio(3, undefined), "-");
        assert.strictEqual(ratio(3, 0), "-");
    });

    const rows: Row[] = [
        { name: "floor", seconds: [1.5, 1.4, 1.6] },
        { name: "kubectl", seconds: [0.8, 0.9, 1.0] },
        { name: "fresh", seconds: [3.0, 2.7, 2.9] },
        { name: "no-op up", seconds: [2.4, 2.2, 2.3] },
        { name: "no-op preview", seconds: [2.0, 2.1, 2.2] },
    ];

    it("prints the rows in a fixed order with min, median and the medians' ratios to kubectl and to the floor", () => {
        const lines = formatTable(rows).split("\n");
        assert.deepStrictEqual(
            lines.map((line) => line.split(/\s{2,}/)),
            [
                ["row", "runs", "min s", "median s", "vs kubectl", "vs floor"],
                ["kubectl", "3", "0.80", "0.90", "1.0x", "0.6x"],
                ["fresh", "3", "2.70", "2.90", "3.2x", "1.9x"],
                ["no-op up", "3", "2.20", "2.30", "2.6x", "1.5x"],
                ["no-op preview", "3", "2.00", "2.10", "2.3x", "1.4x"],
                ["floor", "3", "1.40", "1.50", "1.7x", "1.0x"],
            ],
        );
    });

    it("render mode has no kubectl row: its ratios are '-', and its target is left out", () => {
        const engineOnly = rows.filter((row) => row.name !== "kubectl");
        assert.match(formatTable(engineOnly).split("\n")[1], /^fresh\s+3\s+2\.70\s+2\.90\s+-\s+1\.9x$/);
        assert.deepStrictEqual(formatTargets(engineOnly, false).split("\n"), [
            "met     no-op preview vs the floor's no-op preview: 1.40x (target <= 1.5x)",
            "met     no-op up vs no-op preview: 1.10x (target <= 2x)",
        ]);
    });

    it("says which targets are missed; fresh up may take 3x kubectl with simulated pods, 1.3x with pods on a real node", () => {
        assert.match(formatTargets(rows, false), /^missed  fresh up to all ready vs kubectl \(simulated pods\): 3\.22x \(target <= 3x\)$/m);
        assert.match(
            formatTargets(rows, true),
            /^missed  fresh up to all ready vs kubectl \(pods on a real node\): 3\.22x \(target <= 1\.3x\)$/m,
        );
    });
});

describe("bench:deploy reads the manifests the program rendered", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-rendered-"));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("applies Namespaces first, and waits for every Deployment and every Service with a selector", () => {
        fs.mkdirSync(path.join(dir, "1-manifest"), { recursive: true });
        fs.mkdirSync(path.join(dir, "0-crd"));
        const files: Record<string, string> = {
            "apps_v1-deployment-ns-api.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: ns\n",
            "v1-namespace-default-ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns\n",
            "v1-service-ns-api.yaml":
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\n  namespace: ns\nspec:\n  selector:\n    app: api\n",
            "v1-service-ns-external.yaml":
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: external\n  namespace: ns\nspec:\n  type: ExternalName\n",
        };
        for (const [name, text] of Object.entries(files)) {
            fs.writeFileSync(path.join(dir, "1-manifest", name), text);
        }
        const rendered = readRendered(dir);
        assert.deepStrictEqual(rendered.namespaces, ["ns"]);
        assert.deepStrictEqual(rendered.deployments, ["ns/api"]);
        assert.deepStrictEqual(rendered.services, ["ns/api"]);
        const kinds = [...rendered.yaml.matchAll(/^kind: (\w+)$/gm)].map((match) => match[1]);
        assert.deepStrictEqual(kinds, ["Namespace", "Deployment", "Service", "Service"]);
    });

    it("an empty render is an error that says what to check", () => {
        const empty = fs.mkdtempSync(path.join(dir, "empty-"));
        assert.throws(() => readRendered(empty), /holds no rendered objects: did the render-mode up succeed\?/);
    });

    it("a Service counts as ready with one ready endpoint in one of its slices", () => {
        const slice = (service: string, ...ready: boolean[]) => ({
            metadata: { labels: { "kubernetes.io/service-name": service } },
            endpoints: ready.map((r) => ({ conditions: { ready: r } })),
        });
        const slices = {
            items: [slice("api", false), slice("api", false, true), slice("postgres", false), { metadata: {}, endpoints: null }],
        };
        assert.deepStrictEqual(servicesWithoutReadyEndpoints(["api", "postgres", "absent"], slices), ["postgres", "absent"]);
    });
});

describe("bench:deploy scale mode: the config every row deploys", () => {
    const prebuilt = { imageBuild: "false", imageRef: "registry.example.com/api-stack/api:1.4.2" };

    it("adds nothing by default, so each row deploys the stack as committed", () => {
        assert.deepStrictEqual(scaleConfig({ replicas: undefined, on: "any" }), {});
    });

    it("--replicas fixes the count with autoscaling off; --on simulated selects type=kwok and tolerates their taint", () => {
        assert.deepStrictEqual(scaleConfig({ replicas: 200, on: "simulated" }), {
            apiReplicas: "200",
            apiAutoscaling: "false",
            apiNodeSelector: '{"type":"kwok"}',
            apiTolerations: '[{"key":"api-stack.dev/simulated","value":"true","effect":"NoSchedule","operator":"Equal"}]',
        });
    });

    it("the program renders it onto the API's pods only: 200 replicas on simulated nodes, PostgreSQL where it was", async () => {
        const run = await runProgram("prod", { ...prebuilt, ...scaleConfig({ replicas: 200, on: "simulated" }) });
        const api = run.one("kubernetes:apps/v1:Deployment", "api");
        assert.strictEqual(api.spec.replicas, 200);
        assert.deepStrictEqual(api.spec.template.spec.nodeSelector, { type: "kwok" });
        assert.deepStrictEqual(api.spec.template.spec.tolerations, [
            { key: "api-stack.dev/simulated", operator: "Equal", value: "true", effect: "NoSchedule" },
        ]);
        const postgres = run.one("kubernetes:apps/v1:Deployment", "postgres").spec.template.spec;
        assert.deepStrictEqual([postgres.nodeSelector, postgres.tolerations], [undefined, undefined]);
    });

    it("the label and taint are the ones scripts/cluster.sh and scripts/cluster-node.sh taint the simulated nodes with", () => {
        const clusterScript = fs.readFileSync(path.join(projectRoot, "scripts", "cluster.sh"), "utf8");
        const nodeScript = fs.readFileSync(path.join(projectRoot, "scripts", "cluster-node.sh"), "utf8");
        assert.match(nodeScript, new RegExp(`^SIMULATED_TAINT="${simulatedTaint.key.replace(/\./g, "\\.")}"$`, "m"));
        assert.ok(
            clusterScript.includes(
                `taint nodes -l ${simulatedNodeSelectorText()} "$SIMULATED_TAINT=${simulatedTaint.value}:${simulatedTaint.effect}"`,
            ),
            "cluster.sh taints the nodes that the bench selects, with the taint it tolerates",
        );
        assert.strictEqual(simulatedNodeSelectorText(), "type=kwok");
    });

    it("stack config sets the map and list keys as structures, which the engine's type check requires, and other keys as text", () => {
        const config = JSON.parse(
            configJson(projectRoot, { ...scaleConfig({ replicas: 3, on: "simulated" }), "kubernetes:context": "kind-a", apiLogLevel: "[" }),
        ) as Record<string, { value: string; objectValue?: unknown; secret: boolean }>;
        assert.deepStrictEqual(config["api-stack:apiNodeSelector"], {
            value: '{"type":"kwok"}',
            objectValue: { type: "kwok" },
            secret: false,
        });
        assert.deepStrictEqual(config["api-stack:apiTolerations"].objectValue, [
            { key: "api-stack.dev/simulated", value: "true", effect: "NoSchedule", operator: "Equal" },
        ]);
        assert.deepStrictEqual(config["api-stack:apiReplicas"], { value: "3", secret: false });
        assert.deepStrictEqual(config["api-stack:apiLogLevel"], { value: "[", secret: false });
        assert.deepStrictEqual(config["kubernetes:context"], { value: "kind-a", secret: false });
    });
});

describe("bench:deploy stopped by a signal", function () {
    this.timeout(180_000);
    const inProjectEnv = (command: string) => ["-c", `. scripts/env.sh >/dev/null && ${command}`];
    const copies = () => new Set(fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith("api-stack-e2e-bench-")));

    before(function () {
        if (spawnSync("bash", inProjectEnv("command -v pulumi"), { cwd: projectRoot }).status !== 0) {
            this.skip(); // The engine is built by scripts/setup.sh; npm test runs it first.
        }
    });

    it("SIGTERM between runs: it stops after the step in progress, removes its copy of the project and exits 143", async () => {
        const before = copies();
        const bench = spawn(
            "bash",
            inProjectEnv("exec node -r ts-node/register/transpile-only scripts/bench-deploy.ts --render --runs 20"),
            {
                cwd: projectRoot,
                stdio: ["ignore", "pipe", "pipe"],
            },
        );
        let stderr = "";
        const exited = new Promise<number | null>((resolve) => bench.on("exit", (code) => resolve(code)));
        await new Promise<void>((resolve, reject) => {
            bench.stderr.on("data", (chunk: Buffer) => {
                stderr += chunk.toString();
                if (/fresh 1\/20: /.test(stderr)) resolve();
            });
            void exited.then(() => reject(new Error(`the bench ended before its first run:\n${stderr}`)));
        });
        bench.kill("SIGTERM");
        assert.strictEqual(await exited, 143, stderr);
        assert.match(stderr, /SIGTERM: stopping after the step in progress/);
        assert.match(stderr, /stopped; what it made is removed/);
        assert.doesNotMatch(stderr, /fresh 20\/20/, "it did not run to the end");
        assert.deepStrictEqual(
            [...copies()].filter((name) => !before.has(name)),
            [],
            "no copy of the project is left",
        );
    });
});
