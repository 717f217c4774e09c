import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as ts from "typescript";
import { notProgram, programEntries, projectRoot, withoutSecretsSettings } from "../e2e/engine";

/**
 * The end-to-end tests run the program from a copy of the project (test/e2e/engine.ts). The copy must
 * hold every file the program loads, including a folder added later.
 */

/** The project's files that `entry` imports, directly or not, through relative imports. */
function importedFiles(entry: string): Set<string> {
    const seen = new Set<string>();
    const pending = [entry];
    for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
        if (seen.has(file)) {
            continue;
        }
        seen.add(file);
        for (const { fileName } of ts.preProcessFile(fs.readFileSync(file, "utf8")).importedFiles) {
            if (!fileName.startsWith(".")) {
                continue;
            }
            const base = path.resolve(path.dirname(file), fileName);
            const resolved = [`${base}.ts`, path.join(base, "index.ts"), base].find((candidate) =>
                fs.statSync(candidate, { throwIfNoEntry: false })?.isFile(),
            );
            assert.ok(resolved, `${path.relative(projectRoot, file)} imports ${fileName}, which does not exist`);
            pending.push(resolved);
        }
    }
    return seen;
}

describe("e2e project copy", () => {
    it("holds every file the program imports, the project and stack files, package.json and tsconfig.json", () => {
        const main = (JSON.parse(fs.readFileSync(path.join(projectRoot, "package.json"), "utf8")) as { main: string }).main;
        const needed = [...importedFiles(path.join(projectRoot, main))].map((file) => path.relative(projectRoot, file).split(path.sep)[0]);
        const stackFiles = fs.readdirSync(projectRoot).filter((file) => /^Pulumi\.[\w-]+\.yaml$/.test(file));
        assert.ok(needed.includes("components") && needed.includes("stacks"), `the walk found the program's folders: ${needed.join(", ")}`);
        const copied = programEntries();
        for (const entry of new Set([...needed, "Pulumi.yaml", ...stackFiles, "package.json", "tsconfig.json"])) {
            assert.ok(
                copied.includes(entry),
                `the program needs ${entry}, but the e2e copy leaves it out (notProgram in test/e2e/engine.ts)`,
            );
        }
    });

    it("copies a new top-level folder without a change to the list, and leaves out the other packages and the tests", () => {
        const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "api-stack-copy-"));
        try {
            for (const file of ["index.ts", "helpers/names.ts", "app/server.ts", "test/a.test.ts", "node_modules/x/index.js"]) {
                fs.mkdirSync(path.dirname(path.join(scratch, file)), { recursive: true });
                fs.writeFileSync(path.join(scratch, file), "\n");
            }
            fs.writeFileSync(path.join(scratch, ".gitignore"), "node_modules/\n");
            execFileSync("git", ["init", "--quiet"], { cwd: scratch });
            execFileSync("git", ["add", "index.ts", "app", "test", ".gitignore"], { cwd: scratch });
            // helpers/ is new and not yet added to git: it is copied all the same.
            assert.deepStrictEqual(programEntries(scratch), ["helpers", "index.ts"]);
        } finally {
            fs.rmSync(scratch, { recursive: true, force: true });
        }
    });

    it("lists as not the program only entries that exist, so the list stays true", () => {
        const gone = [...notProgram].filter((entry) => !fs.existsSync(path.join(projectRoot, entry)));
        assert.deepStrictEqual(gone, [], "remove these from notProgram in test/e2e/engine.ts");
    });

    it("stack files lose the checkout's secrets settings, so that stacks made from them take the copy's passphrase", () => {
        const written = "config:\n  api-stack:namespace: api-stack-dev\nencryptionsalt: v1:abc=:v1:def\nsecretsprovider: passphrase\n";
        assert.strictEqual(withoutSecretsSettings(written), "config:\n  api-stack:namespace: api-stack-dev\n");
        assert.strictEqual(withoutSecretsSettings("config:\n  a:encryptionsalt: kept\n"), "config:\n  a:encryptionsalt: kept\n");
    });
});
