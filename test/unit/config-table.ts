import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";

const projectRoot = path.resolve(__dirname, "..", "..");

/** A value in the table: "–" when not set (empty text, map or list), else as code, maps and lists as JSON. */
function shown(value: unknown): string {
    const empty = value === undefined || value === "" || (typeof value === "object" && value !== null && Object.keys(value).length === 0);
    if (empty) {
        return "–";
    }
    return `\`${typeof value === "string" ? value : JSON.stringify(value)}\``;
}

/** The markdown table of config keys with their dev and prod values (defaults from Pulumi.yaml). */
export function configTable(): string {
    const project = parse(fs.readFileSync(path.join(projectRoot, "Pulumi.yaml"), "utf8"));
    const stacks = ["dev", "prod"].map(
        (stack) => parse(fs.readFileSync(path.join(projectRoot, `Pulumi.${stack}.yaml`), "utf8")).config as Record<string, unknown>,
    );
    const rows = Object.entries<{ type: string; description: string; default?: unknown }>(project.config).map(([key, declaration]) => {
        const [dev, prod] = stacks.map((config) => shown(config[`api-stack:${key}`] ?? declaration.default));
        return `| \`${key}\` | ${declaration.type} | ${dev} | ${prod} | ${declaration.description} |`;
    });
    return ["| key (`api-stack:`) | type | dev | prod | what it does |", "|---|---|---|---|---|", ...rows].join("\n");
}
