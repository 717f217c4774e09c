import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { configTable } from "./config-table";
import { projectRoot } from "./harness";

describe("the README stays true to the config", () => {
    it("its config table lists every key with the committed dev and prod values", () => {
        const readme = fs.readFileSync(path.join(projectRoot, "README.md"), "utf8");
        assert.ok(
            readme.includes(configTable()),
            "README.md's config table is stale: regenerate it with `npx ts-node scripts/config-table.ts`",
        );
    });
});
