import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { APP_DIR } from "./helpers";

const REPO = path.join(APP_DIR, "..");

/** Reads KEY=value lines, as docker compose reads .env. */
function readEnvFile(file: string): Map<string, string> {
    const entries = readFileSync(file, "utf8")
        .split("\n")
        .filter((line) => line.trim() !== "" && !line.trim().startsWith("#"))
        .map((line) => {
            const at = line.indexOf("=");
            return [line.slice(0, at), line.slice(at + 1)] as [string, string];
        });
    return new Map(entries);
}

// docker compose cannot run here: check the file's structure and that .env.example feeds every variable it needs.
describe("docker-compose.yml", function () {
    const text = readFileSync(path.join(REPO, "docker-compose.yml"), "utf8");
    const compose = parse(text);

    it("builds the api from app/ and publishes port 8000 once the database is healthy", function () {
        const api = compose.services.api;
        assert.equal(api.build.context, "./app");
        assert.deepEqual(api.depends_on, { db: { condition: "service_healthy" } });
        assert.ok(
            api.ports.some((p: string) => /^(\$\{API_PORT:-8000\}|8000):8000$/.test(p)),
            api.ports,
        );
        assert.equal(api.environment.PORT, "8000");
        const url = api.environment.DATABASE_URL as string;
        assert.match(url, /^postgres:\/\/\$\{POSTGRES_USER\}:\$\{POSTGRES_PASSWORD\}@db:5432\/\$\{POSTGRES_DB\}$/);
        assert.equal(api.read_only, true);
        assert.deepEqual(api.tmpfs, ["/tmp"]);
    });

    it("runs postgres:15 (or a stand-in named by POSTGRES_IMAGE) on a named volume with a pg_isready healthcheck", function () {
        const db = compose.services.db;
        assert.equal(db.image, "${POSTGRES_IMAGE:-postgres:15}", "the official image unless a stand-in or mirror is given");
        const [volume, mountPoint] = (db.volumes[0] as string).split(":");
        assert.equal(mountPoint, "/var/lib/postgresql/data");
        assert.ok(Object.keys(compose.volumes).includes(volume), `${volume} is a named volume`);
        assert.equal(db.healthcheck.test[0], "CMD-SHELL");
        assert.match(db.healthcheck.test[1], /^pg_isready /);
        for (const key of ["POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"]) {
            assert.match(db.environment[key], new RegExp(`^\\$\\{${key}:\\?`), `${key} comes from .env and is required`);
        }
    });

    it("takes credentials from .env: .env.example sets every variable without a default and names the others, .env stays out of git", function () {
        const exampleText = readFileSync(path.join(REPO, ".env.example"), "utf8");
        const example = readEnvFile(path.join(REPO, ".env.example"));
        const used = [...text.matchAll(/(?<!\$)\$\{([A-Z_]+)(:-)?/g)].map((m) => ({ name: m[1], hasDefault: m[2] !== undefined }));
        for (const { name, hasDefault } of used) {
            if (hasDefault) assert.match(exampleText, new RegExp(`^(# )?${name}=`, "m"), `.env.example does not mention ${name}`);
            else assert.ok(example.has(name), `.env.example lacks ${name}`);
        }
        const gitignore = readFileSync(path.join(REPO, ".gitignore"), "utf8").split("\n");
        assert.ok(gitignore.includes(".env"));
    });
});
