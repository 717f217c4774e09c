import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { ProjectCopy } from "./engine";
import { expectedSummaryCreates } from "./expected";

/**
 * The language host type-checks the program once per change (tools/pulumi/pulumi-language-nodejs,
 * compile.go), not on every run: a user's own `pulumi preview` must still refuse a program that
 * does not compile, with tsc's message, and run nothing of it.
 */

function pulumi(copy: ProjectCopy, ...args: string[]): { code: number; output: string } {
    const run = spawnSync("pulumi", [...args, "--stack", "dev", "--non-interactive"], {
        cwd: copy.programDir,
        env: { ...process.env, ...copy.envVars },
        encoding: "utf8",
    });
    return { code: run.status ?? -1, output: `${run.stdout}${run.stderr}` };
}

/** The stamp of the host's last compile of this copy (there is one compile cache per program folder). */
function compileStamp(copy: ProjectCopy): fs.Stats {
    const cache = path.join(copy.programDir, "node_modules", ".cache", "pulumi-language-nodejs");
    const stamps = fs
        .readdirSync(cache)
        .map((entry) => path.join(cache, entry, "stamp.json"))
        .filter((file) => fs.existsSync(file) && fs.readFileSync(file, "utf8").includes(copy.programDir));
    assert.strictEqual(stamps.length, 1, `one compile stamp for ${copy.programDir}`);
    return fs.statSync(stamps[0]);
}

describe("render mode: the program is type-checked once, and a program that does not compile is refused", function () {
    this.timeout(10 * 60 * 1000);
    const copy = new ProjectCopy("typecheck");
    const renderDir = path.join(copy.dir, "rendered");

    before(async () => {
        await copy.stack("dev", "dev", {
            imageBuild: "false",
            imageRef: "registry.example.com/api-stack/api:1.4.2",
            "kubernetes:renderYamlToDirectory": renderDir,
        });
    });
    after(() => copy.remove());

    it("a second preview of an unchanged program runs the compile of the first", () => {
        const first = pulumi(copy, "preview");
        assert.strictEqual(first.code, 0, first.output);
        const compiled = compileStamp(copy).mtimeMs;
        const second = pulumi(copy, "preview");
        assert.strictEqual(second.code, 0, second.output);
        assert.strictEqual(compileStamp(copy).mtimeMs, compiled, "no compile: the stamp is as the first preview left it");
    });

    it("`pulumi preview` of a program with a type error fails with tsc's message, and nothing is rendered", () => {
        copy.patch("index.ts", "const instance = settings.stack;", "const instance: number = settings.stack;");
        const run = pulumi(copy, "preview");
        assert.notStrictEqual(run.code, 0, run.output);
        assert.match(run.output, /the program does not compile, so nothing of it ran; tsc says:/);
        assert.match(run.output, /index\.ts\(\d+,\d+\): error TS2322: Type 'string' is not assignable to type 'number'\./);
        assert.ok(!fs.existsSync(renderDir), "nothing rendered");
    });

    it("once fixed, the program compiles again and previews", () => {
        copy.patch("index.ts", "const instance: number = settings.stack;", "const instance = settings.stack;");
        const run = pulumi(copy, "preview");
        assert.strictEqual(run.code, 0, run.output);
        assert.match(run.output, new RegExp(`\\+ ${expectedSummaryCreates("dev")} to create\\n`));
    });
});
