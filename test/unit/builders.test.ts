import * as assert from "assert";
import { apiPodTemplate, apiProbes } from "../../components/api-pod";
import { commonLabels, ownershipLabels, selectorLabels } from "../../components/labels";
import { restrictedPodTemplate, spreadOverNodes } from "../../components/pod";
import { postgresMajor } from "../../components/postgres";
import { postgresPodTemplate, postgresProbes } from "../../components/postgres-pod";
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from "../../components/security";
import { closest } from "../../stacks/declared-keys";

/** The builders return plain objects, but their Kubernetes input types also admit Outputs: look through them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const plain = (value: unknown): any => value;

const resources = { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "100m", memory: "128Mi" } };

describe("pod builders are pure functions with the hardened shape", () => {
    it("a restricted pod template sets the pod and container security contexts, no token, no service links", () => {
        const template = restrictedPodTemplate({
            labels: { a: "b" },
            uid: 4242,
            terminationGracePeriodSeconds: 7,
            container: { name: "c", image: "i:1" },
            volumes: [],
        });
        const spec = plain(template.spec);
        assert.deepStrictEqual(template.metadata, { labels: { a: "b" }, annotations: undefined });
        assert.strictEqual(spec.automountServiceAccountToken, false);
        assert.strictEqual(spec.enableServiceLinks, false);
        assert.strictEqual(spec.terminationGracePeriodSeconds, 7);
        assert.deepStrictEqual(spec.securityContext, restrictedPodSecurityContext(4242));
        assert.deepStrictEqual(spec.containers, [
            { name: "c", image: "i:1", imagePullPolicy: "IfNotPresent", securityContext: restrictedContainerSecurityContext },
        ]);
    });

    it("security contexts: a numeric non-root user owning its volumes, no escalation, no capabilities, read-only root", () => {
        assert.deepStrictEqual(restrictedPodSecurityContext(999), {
            runAsNonRoot: true,
            runAsUser: 999,
            runAsGroup: 999,
            fsGroup: 999,
            seccompProfile: { type: "RuntimeDefault" },
        });
        assert.strictEqual(restrictedContainerSecurityContext.allowPrivilegeEscalation, false);
        assert.strictEqual(restrictedContainerSecurityContext.readOnlyRootFilesystem, true);
        assert.deepStrictEqual(restrictedContainerSecurityContext.capabilities, { drop: ["ALL"] });
    });

    it("spreading over nodes prefers one pod per hostname for the given selector", () => {
        const term = (spreadOverNodes({ app: "x" }).podAntiAffinity as { preferredDuringSchedulingIgnoredDuringExecution: unknown[] })
            .preferredDuringSchedulingIgnoredDuringExecution;
        assert.deepStrictEqual(term, [
            { weight: 100, podAffinityTerm: { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: { app: "x" } } } },
        ]);
    });

    it("API probes: a minute to start on /livez, then liveness on /livez and readiness on /readyz", () => {
        const probes = apiProbes();
        assert.deepStrictEqual(probes.startupProbe, {
            httpGet: { path: "/livez", port: "http" },
            timeoutSeconds: 2,
            periodSeconds: 1,
            failureThreshold: 60,
        });
        assert.deepStrictEqual(probes.livenessProbe, {
            httpGet: { path: "/livez", port: "http" },
            timeoutSeconds: 2,
            periodSeconds: 10,
            failureThreshold: 3,
        });
        assert.deepStrictEqual(probes.readinessProbe, {
            httpGet: { path: "/readyz", port: "http" },
            timeoutSeconds: 2,
            periodSeconds: 5,
            failureThreshold: 2,
        });
    });

    it("PostgreSQL probes: startup every second for up to 10 min, readiness over TCP as the user, liveness on the socket and slower", () => {
        const probes = postgresProbes("owner", "items");
        assert.deepStrictEqual(probes.startupProbe, { ...(probes.readinessProbe as object), periodSeconds: 1, failureThreshold: 600 });
        assert.strictEqual((probes.readinessProbe as { initialDelaySeconds?: number }).initialDelaySeconds, undefined);
        assert.strictEqual((probes.livenessProbe as { initialDelaySeconds?: number }).initialDelaySeconds, undefined);
        assert.deepStrictEqual((probes.readinessProbe as { exec: unknown }).exec, {
            command: ["pg_isready", "--host=127.0.0.1", "--port=5432", "--username=owner", "--dbname=items"],
        });
        assert.deepStrictEqual((probes.livenessProbe as { exec: unknown }).exec, {
            command: ["pg_isready", "--host=/var/run/postgresql", "--port=5432", "--username=owner", "--dbname=items"],
        });
        const [ready, live] = [probes.readinessProbe, probes.livenessProbe] as { periodSeconds: number; failureThreshold: number }[];
        assert.ok(
            live.periodSeconds * live.failureThreshold > ready.periodSeconds * ready.failureThreshold,
            "unready long before restarted",
        );
    });

    it("the API pod spreads over nodes only when more than one pod runs", () => {
        const args = {
            labels: { a: "b" },
            selector: { a: "b" },
            image: "i:1",
            logLevel: "info",
            resources,
            database: { secretName: "s", urlKey: "url", secretChecksum: "c" },
        };
        const affinity = (lowestReplicas: number) => plain(apiPodTemplate({ ...args, lowestReplicas }).spec).affinity;
        assert.strictEqual(affinity(1), undefined);
        assert.deepStrictEqual(affinity(2), spreadOverNodes({ a: "b" }));
        assert.deepStrictEqual(plain(apiPodTemplate({ ...args, lowestReplicas: 1 }).metadata).annotations, {
            "checksum/database-secret": "c",
        });
    });

    it("the PostgreSQL pod mounts its claim and only the password key of its Secret", () => {
        const spec = plain(
            postgresPodTemplate({
                labels: {},
                image: "postgres:16",
                databaseName: "app",
                user: "app",
                resources,
                secretName: "creds",
                secretChecksum: "c",
                volumeClaimName: "claim",
            }).spec,
        );
        assert.deepStrictEqual(
            spec.volumes.find((v: { name: string }) => v.name === "data"),
            { name: "data", persistentVolumeClaim: { claimName: "claim" } },
        );
        assert.deepStrictEqual(
            spec.volumes.find((v: { name: string }) => v.name === "credentials"),
            {
                name: "credentials",
                secret: { secretName: "creds", items: [{ key: "password", path: "password" }], defaultMode: 0o440 },
            },
        );
    });
});

describe("labels have one source", () => {
    it("common labels are the selector labels plus ownership, and ownership alone labels the namespace", () => {
        const identity = { name: "api", instance: "dev", component: "server" };
        assert.deepStrictEqual(ownershipLabels(), { "app.kubernetes.io/part-of": "api-stack", "app.kubernetes.io/managed-by": "pulumi" });
        assert.deepStrictEqual(commonLabels(identity), { ...selectorLabels(identity), ...ownershipLabels() });
    });
});

describe("small helpers", () => {
    it("the major of a postgres tag", () => {
        assert.deepStrictEqual(["15", "15.10", "16.4-bookworm", "17-alpine"].map(postgresMajor), ["15", "15", "16", "17"]);
    });

    it("the nearest declared key to a misspelt one", () => {
        const declared = ["apiReplicas", "apiLogLevel", "namespace", "postgresVersion"];
        assert.strictEqual(closest("apiReplica", declared), "apiReplicas");
        assert.strictEqual(closest("ApiReplicas", declared), "apiReplicas");
        assert.strictEqual(closest("namepsace", declared), "namespace");
        assert.strictEqual(closest("postgresVerison", declared), "postgresVersion");
        assert.strictEqual(closest("x", []), undefined);
    });
});
