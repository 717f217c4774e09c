/**
 * The environment the image gives the service: the ENV lines of the Dockerfile's last stage, so the bench starts
 * `node dist/server.js` with the same settings (NODE_OPTIONS and the like) that a pod gets, without a copy of them.
 */
export function runtimeEnv(dockerfile: string): Record<string, string> {
    const env: Record<string, string> = {};
    for (const raw of dockerfile.replace(/\\\n/g, " ").split("\n")) {
        const line = raw.trim();
        if (/^FROM\s/i.test(line)) {
            for (const key of Object.keys(env)) delete env[key];
            continue;
        }
        const match = /^ENV\s+(.*)$/i.exec(line);
        if (match === null) continue;
        for (const assignment of match[1].match(/[A-Za-z_]\w*=("[^"]*"|'[^']*'|\S*)/g) ?? []) {
            const at = assignment.indexOf("=");
            env[assignment.slice(0, at)] = assignment.slice(at + 1).replace(/^"(.*)"$|^'(.*)'$/, "$1$2");
        }
        if (!match[1].includes("=")) throw new Error(`Dockerfile: "${line}" is the legacy ENV form; write ENV NAME=value`);
    }
    return env;
}
