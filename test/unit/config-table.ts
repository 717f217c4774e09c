import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";

const projectRoot = path.resolve(__dirname, "..", "..");

/** The markdown table of config keys with their dev and prod values (defaults from Pulumi.yaml). */
export function configTable(): string {
    const project = parse(fs.readFileSync(path.join(projectRoot, "Pulumi.yaml"), "utf8"));
    const stacks = ["dev", "prod"].map(
        (stack) => parse(fs.readFileSync(path.join(projectRoot, `Pulumi.${stack}.yaml`), "utf8")).config as Record<string, unknown>,
    );
    const rows = Object.entries<{ type: string; description: string; default?: unknown }>(project.config).map(([key, declaration]) => {
        const shown = (value: string | number | boolean | undefined) =>
            value === undefined || value === "" ? "–" : `\`${String(value)}\``;
        const [dev, prod] = stacks.map((config) =>
            shown((config[`api-stack:${key}`] as string | undefined) ?? (declaration.default as string | undefined)),
        );
        return `| \`${key}\` | ${declaration.type} | ${dev} | ${prod} | ${declaration.description} |`;
    });
    return ["| key (`api-stack:`) | type | dev | prod | what it does |", "|---|---|---|---|---|", ...rows].join("\n");
}
