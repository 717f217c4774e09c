/**
 * How the image runs the service: the ENV lines and the CMD of the Dockerfile's last stage, so the bench starts
 * the server with the same node flags and environment that a pod gets, without a copy of them.
 */
export interface Runtime {
    readonly env: Readonly<Record<string, string>>;
    /** The CMD in exec form, e.g. ["node", "--max-old-space-size=64", "dist/server.js"]. */
    readonly command: readonly string[];
}

export function imageRuntime(dockerfile: string): Runtime {
    let env: Record<string, string> = {};
    let command: string[] | undefined;
    for (const raw of dockerfile.replace(/\\\n/g, " ").split("\n")) {
        const line = raw.trim();
        const [keyword = "", rest = ""] = /^(\S+)\s*(.*)$/.exec(line)?.slice(1) ?? [];
        switch (keyword.toUpperCase()) {
            case "FROM":
                [env, command] = [{}, undefined];
                break;
            case "ENV":
                if (!rest.includes("=")) throw new Error(`Dockerfile: "${line}" is the legacy ENV form; write ENV NAME=value`);
                for (const assignment of rest.match(/[A-Za-z_]\w*=("[^"]*"|'[^']*'|\S*)/g) ?? []) {
                    const at = assignment.indexOf("=");
                    env[assignment.slice(0, at)] = assignment.slice(at + 1).replace(/^"(.*)"$|^'(.*)'$/, "$1$2");
                }
                break;
            case "CMD": {
                const parsed: unknown = rest.startsWith("[") ? JSON.parse(rest) : undefined;
                if (!Array.isArray(parsed) || !parsed.every((word) => typeof word === "string")) {
                    throw new Error(`Dockerfile: "${line}" is not the exec form; write CMD ["node", ...]`);
                }
                command = parsed;
                break;
            }
        }
    }
    if (command === undefined) throw new Error("Dockerfile: the last stage has no CMD");
    return { env, command };
}
