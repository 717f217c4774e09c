import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";

/**
 * A tag derived from what `docker build` would see: the same build context gives the same tag,
 * any change to a file in it gives a new one. Tagging by content (never `latest`) is what lets
 * an unchanged app leave the pods alone and a changed one roll them.
 *
 * Entries listed in the context's `.dockerignore` are left out, as Docker leaves them out; but not the
 * `Dockerfile` and `.dockerignore` themselves, which Docker reads even when listed: a change in how the
 * image is built must give a new tag too.
 * Supported patterns: plain names and paths (matching at any depth for a bare name), a leading
 * `/`, and `*` within a name. Negations (`!`) are not used by this project and are refused.
 */
export function contentTag(contextDir: string): string {
    const ignore = readDockerignore(contextDir);
    const hash = crypto.createHash("sha256");
    for (const file of listFiles(contextDir, "", ignore)) {
        hash.update(file);
        hash.update("\0");
        hash.update(fs.readFileSync(path.join(contextDir, file)));
        hash.update("\0");
    }
    return `sha-${hash.digest("hex").slice(0, 16)}`;
}

function readDockerignore(contextDir: string): RegExp[] {
    const file = path.join(contextDir, ".dockerignore");
    if (!fs.existsSync(file)) {
        return [];
    }
    return fs
        .readFileSync(file, "utf8")
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line !== "" && !line.startsWith("#"))
        .map((pattern) => {
            if (pattern.startsWith("!")) {
                throw new Error(`${file}: negated pattern "${pattern}" is not supported by contentTag`);
            }
            const anchored = pattern.startsWith("/") || pattern.includes("/");
            const body = pattern
                .replace(/^\//, "")
                .replace(/\/$/, "")
                .split("*")
                .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
                .join("[^/]*");
            return new RegExp(anchored ? `^${body}(/|$)` : `(^|/)${body}(/|$)`);
        });
}

/** Read by Docker for every build, whatever `.dockerignore` says. */
const alwaysRead = new Set(["Dockerfile", ".dockerignore"]);

function listFiles(root: string, relative: string, ignore: RegExp[]): string[] {
    const entries = fs.readdirSync(path.join(root, relative), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const files: string[] = [];
    for (const entry of entries) {
        const entryPath = relative === "" ? entry.name : `${relative}/${entry.name}`;
        if (!alwaysRead.has(entryPath) && ignore.some((pattern) => pattern.test(entryPath))) {
            continue;
        }
        if (entry.isDirectory()) {
            files.push(...listFiles(root, entryPath, ignore));
        } else if (entry.isFile()) {
            files.push(entryPath);
        }
    }
    return files;
}
