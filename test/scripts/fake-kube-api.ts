import * as fs from "fs";
import * as http from "http";

/**
 * A stand-in Kubernetes API server for running kube-router and CoreDNS without a cluster: it lists the
 * objects of a JSON file (`{ "<list path>": [objects] }`), answers GETs of single objects by name, and
 * holds watches open without events. A watch that asks for the initial objects as events (client-go's
 * streaming list, which CoreDNS's client-go uses) gets them, then the bookmark that ends them.
 * Usage: fake-kube-api.ts <objects.json> <host> <port>. Prints "listening" once it accepts connections.
 */

const [objectsFile, host, port] = process.argv.slice(2);
const objects = JSON.parse(fs.readFileSync(objectsFile, "utf8")) as Record<string, { kind: string; metadata: { name: string } }[]>;

function listKind(path: string): { kind: string; apiVersion: string } {
    const resource = path.split("/").pop() ?? "";
    const kinds: Record<string, string> = {
        nodes: "Node",
        pods: "Pod",
        namespaces: "Namespace",
        services: "Service",
        endpoints: "Endpoints",
        endpointslices: "EndpointSlice",
        networkpolicies: "NetworkPolicy",
    };
    const group = path.startsWith("/apis/") ? path.split("/").slice(2, 4).join("/") : "v1";
    return { kind: `${kinds[resource] ?? "Unknown"}List`, apiVersion: group };
}

http.createServer((request, response) => {
    const url = new URL(request.url ?? "/", `http://${host}`);
    response.setHeader("Content-Type", "application/json");
    if (url.searchParams.get("watch") === "true") {
        response.writeHead(200);
        if (url.searchParams.get("sendInitialEvents") === "true") {
            for (const object of objects[url.pathname] ?? []) {
                response.write(JSON.stringify({ type: "ADDED", object }) + "\n");
            }
            const { kind, apiVersion } = listKind(url.pathname);
            const end = { resourceVersion: "1", annotations: { "k8s.io/initial-events-end": "true" } };
            response.write(
                JSON.stringify({ type: "BOOKMARK", object: { kind: kind.replace(/List$/, ""), apiVersion, metadata: end } }) + "\n",
            );
        }
        response.flushHeaders();
        return; // held open until the client goes away
    }
    if (url.pathname in objects) {
        response.end(JSON.stringify({ ...listKind(url.pathname), metadata: { resourceVersion: "1" }, items: objects[url.pathname] }));
        return;
    }
    const slash = url.pathname.lastIndexOf("/");
    const item = objects[url.pathname.slice(0, slash)]?.find((o) => o.metadata.name === url.pathname.slice(slash + 1));
    if (item) {
        response.end(JSON.stringify(item));
        return;
    }
    response.writeHead(404);
    response.end(JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404 }));
}).listen(Number(port), host, () => console.log("listening"));
