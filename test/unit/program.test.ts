import * as assert from "assert";
import * as crypto from "crypto";
import { mockPassword, ProgramRun, runProgram } from "./harness";
import { allPodTemplates, podTemplates, selects } from "./pods";

const prebuilt = { imageBuild: "false", imageRef: "registry.example.com/api-stack/api:1.4.2" };
const deploymentType = "kubernetes:apps/v1:Deployment";
const serviceType = "kubernetes:core/v1:Service";

describe("per-stack sizing follows the committed stack files", () => {
    let dev: ProgramRun;
    let prod: ProgramRun;
    before(async () => {
        dev = await runProgram("dev", prebuilt);
        prod = await runProgram("prod", prebuilt);
    });

    it("dev runs one small API pod behind a ClusterIP Service", () => {
        const deployment = dev.one(deploymentType, "api");
        assert.strictEqual(deployment.spec.replicas, 1);
        assert.deepStrictEqual(deployment.spec.template.spec.containers[0].resources, {
            requests: { cpu: "50m", memory: "64Mi", "ephemeral-storage": "32Mi" },
            limits: { cpu: "500m", memory: "128Mi", "ephemeral-storage": "128Mi" },
        });
        assert.strictEqual(dev.one(serviceType, "api").spec.type, "ClusterIP");
        assert.strictEqual(dev.one("kubernetes:core/v1:PersistentVolumeClaim", "postgres-data").spec.resources.requests.storage, "1Gi");
        assert.strictEqual(dev.outputs.namespaceName, "api-stack-dev");
        assert.strictEqual(dev.outputs.apiInternalUrl, "http://api.api-stack-dev.svc.cluster.local:80");
        assert.match(String(dev.outputs.apiExternalEndpoint), /^none: Service type ClusterIP; use kubectl port-forward service\/api 80$/);
    });

    it("prod runs the reference article's 3 replicas, 128Mi/250m requests and 256Mi/500m limits", () => {
        const deployment = prod.one(deploymentType, "api");
        assert.strictEqual(deployment.spec.replicas, 3);
        assert.deepStrictEqual(deployment.spec.template.spec.containers[0].resources, {
            requests: { cpu: "250m", memory: "128Mi", "ephemeral-storage": "32Mi" },
            limits: { cpu: "500m", memory: "256Mi", "ephemeral-storage": "128Mi" },
        });
        assert.strictEqual(prod.one("kubernetes:core/v1:PersistentVolumeClaim", "postgres-data").spec.resources.requests.storage, "10Gi");
        assert.strictEqual(prod.one(deploymentType, "postgres").spec.template.spec.containers[0].image, "postgres:15.10");
    });

    it("prod exposes a LoadBalancer on port 80 that forwards to the container's port 8000", () => {
        const service = prod.one(serviceType, "api");
        assert.strictEqual(service.spec.type, "LoadBalancer");
        assert.strictEqual(service.spec.ports[0].port, 80);
        const container = prod.one(deploymentType, "api").spec.template.spec.containers[0];
        const target = container.ports.find((port: { name: string }) => port.name === service.spec.ports[0].targetPort);
        assert.strictEqual(target.containerPort, 8000);
        assert.strictEqual(service.metadata.annotations, undefined, "prod waits for its load balancer address");
        assert.match(String(prod.outputs.apiExternalEndpoint), /^pending: /, "no address under mocks: the output says so");
    });

    it("rolls out without losing capacity", () => {
        for (const run of [dev, prod]) {
            const strategy = run.one(deploymentType, "api").spec.strategy;
            assert.deepStrictEqual(strategy, { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
            assert.strictEqual(run.one(deploymentType, "postgres").spec.strategy.type, "Recreate");
            assert.strictEqual(run.one(deploymentType, "postgres").spec.replicas, 1);
        }
    });

    it("lets in-flight requests finish on shutdown", () => {
        const pod = prod.one(deploymentType, "api").spec.template.spec;
        // The kubelet's sleep, not an exec: the distroless image has no sleep binary.
        assert.deepStrictEqual(pod.containers[0].lifecycle.preStop, { sleep: { seconds: 5 } });
        assert.ok(pod.terminationGracePeriodSeconds >= 5 + 20, "grace period covers preStop plus the app's 20 s drain");
    });
});

describe("selectors match their pods", () => {
    for (const stack of ["dev", "prod"]) {
        it(`${stack}: every Deployment, Service, PDB and NetworkPolicy selects the pods it means`, async () => {
            const run = await runProgram(stack, prebuilt);
            const pods = podTemplates(run);
            for (const { workload, template, selector } of pods) {
                assert.ok(selects(selector, template.metadata.labels), `${workload} selector matches its template`);
            }
            const labelsOf = (workload: string) => pods.find((pod) => pod.workload === workload)?.template.metadata.labels;
            assert.ok(selects(run.one(serviceType, "api").spec.selector, labelsOf("api")));
            assert.ok(selects(run.one(serviceType, "postgres").spec.selector, labelsOf("postgres")));
            assert.ok(!selects(run.one(serviceType, "api").spec.selector, labelsOf("postgres")), "API Service skips postgres");
            const toDatabase = run.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "postgres-from-api").spec;
            assert.ok(selects(toDatabase.podSelector.matchLabels, labelsOf("postgres")));
            assert.ok(selects(toDatabase.ingress[0].from[0].podSelector.matchLabels, labelsOf("api")));
            assert.deepStrictEqual(toDatabase.ingress[0].ports, [{ protocol: "TCP", port: 5432 }]);
            for (const pdb of run.all("kubernetes:policy/v1:PodDisruptionBudget")) {
                assert.ok(selects(pdb.inputs.spec.selector.matchLabels, labelsOf("api")));
            }
            const postgresService = run.one(serviceType, "postgres").spec;
            assert.strictEqual(postgresService.type, "ClusterIP");
            assert.strictEqual(postgresService.ports[0].port, 5432);
        });
    }

    it("selectors stay the same when sizing, image or version change", async () => {
        const before = await runProgram("prod", prebuilt);
        const after = await runProgram("prod", {
            imageBuild: "false",
            imageRef: "registry.example.com/api-stack/api:2.0.0",
            apiReplicas: "5",
            postgresVersion: "15.11",
        });
        for (const name of ["api", "postgres"]) {
            assert.deepStrictEqual(after.one(deploymentType, name).spec.selector, before.one(deploymentType, name).spec.selector);
        }
        assert.strictEqual(after.one(deploymentType, "api").spec.replicas, 5);
    });

    it("postgresImageRepository names the PostgreSQL image, with a registry port and path", async () => {
        const run = await runProgram("dev", {
            ...prebuilt,
            postgresImageRepository: "localhost:5000/mirror/postgres",
            postgresVersion: "15.20",
        });
        assert.strictEqual(
            run.one(deploymentType, "postgres").spec.template.spec.containers[0].image,
            "localhost:5000/mirror/postgres:15.20",
        );
        const standard = await runProgram("dev", prebuilt);
        assert.strictEqual(standard.one(deploymentType, "postgres").spec.template.spec.containers[0].image, "postgres:15");
    });
});

describe("the database password stays secret", () => {
    let run: ProgramRun;
    before(async () => {
        run = await runProgram("prod", prebuilt);
    });

    it("reaches the API only as a file mounted from the Secret", () => {
        const pod = run.one(deploymentType, "api").spec.template.spec;
        const container = pod.containers[0];
        const urlFile = container.env.find((env: { name: string }) => env.name === "DATABASE_URL_FILE");
        assert.strictEqual(urlFile.value, "/var/run/secrets/api-stack/database/url");
        assert.ok(!container.env.some((env: { name: string }) => env.name === "DATABASE_URL"), "no DATABASE_URL literal");
        const mount = container.volumeMounts.find((m: { mountPath: string }) => m.mountPath === "/var/run/secrets/api-stack/database");
        assert.strictEqual(mount.readOnly, true);
        const volume = pod.volumes.find((v: { name: string }) => v.name === mount.name);
        assert.match(volume.secret.secretName, /^api-database-[0-9a-f]{10}$/, "the API's own login, not the owner's postgres-credentials");
        assert.deepStrictEqual(volume.secret.items, [{ key: "url", path: "url" }]);
    });

    it("reaches PostgreSQL only as POSTGRES_PASSWORD_FILE from the Secret", () => {
        const pod = run.one(deploymentType, "postgres").spec.template.spec;
        const env = pod.containers[0].env;
        assert.ok(!env.some((e: { name: string }) => e.name === "POSTGRES_PASSWORD"));
        assert.strictEqual(
            env.find((e: { name: string }) => e.name === "POSTGRES_PASSWORD_FILE").value,
            "/var/run/secrets/postgres/password",
        );
        assert.strictEqual(pod.volumes.find((v: { name: string }) => v.name === "credentials").secret.secretName, "postgres-credentials");
    });

    it("is held by the Secrets only, wrapped as secret values", () => {
        const secretMarker = "4dabf18193072939515e22adb298388d";
        const owner = run.one("kubernetes:core/v1:Secret", "postgres-credentials").stringData;
        assert.ok(secretMarker in owner, "stringData is marked secret");
        assert.strictEqual(owner.value.password, mockPassword);
        assert.strictEqual(owner.value.url, `postgresql://app:${mockPassword}@postgres.api-stack-prod.svc.cluster.local:5432/app`);
        const apiSecret = run
            .all("kubernetes:core/v1:Secret")
            .find((secret) => /^api-database-[0-9a-f]{10}$/.test(secret.inputs.metadata.name));
        assert.ok(apiSecret, "the API's Secret, named api-database-<checksum>");
        const api = apiSecret.inputs.stringData;
        assert.ok(secretMarker in api, "the API's stringData is marked secret");
        assert.strictEqual(api.value.url, `postgresql://api_a:${mockPassword}@postgres.api-stack-prod.svc.cluster.local:5432/app`);
        const rotation = run.one("kubernetes:core/v1:Secret", "api-database-rotation-0").stringData;
        assert.ok(secretMarker in rotation, "the rotation's stringData is marked secret");
        assert.strictEqual(run.all("kubernetes:core/v1:Secret").length, 3, "no other Secret");
        // Jobs, the CronJob and every pod template name Secrets only; no password in any other input.
        for (const resource of run.resources.filter((r) => r.type !== "kubernetes:core/v1:Secret")) {
            assert.ok(!JSON.stringify(resource.inputs ?? {}).includes(mockPassword), `${resource.type} ${resource.name} holds no password`);
        }
        assert.deepStrictEqual(run.secretOutputs, ["databaseUrl"]);
        const { databaseUrl, ...plainOutputs } = run.outputs;
        assert.strictEqual(databaseUrl, `postgresql://app:${mockPassword}@postgres.api-stack-prod.svc.cluster.local:5432/app`);
        assert.ok(!JSON.stringify(plainOutputs).includes(mockPassword), "plain stack outputs hold no password");
    });

    it("rolls the API pods when the Secret changes, through a checksum annotation", () => {
        const url = `postgresql://api_a:${mockPassword}@postgres.api-stack-prod.svc.cluster.local:5432/app`;
        const annotations = run.one(deploymentType, "api").spec.template.metadata.annotations;
        assert.strictEqual(annotations["checksum/database-secret"], crypto.createHash("sha256").update(url).digest("hex"));
    });
});

describe("probes point at the app's endpoints", () => {
    it("API: startup and liveness on /livez, readiness on /readyz, all on the http port 8000", async () => {
        const run = await runProgram("dev", prebuilt);
        const container = run.one(deploymentType, "api").spec.template.spec.containers[0];
        assert.deepStrictEqual(container.ports, [{ name: "http", containerPort: 8000, protocol: "TCP" }]);
        assert.deepStrictEqual(container.startupProbe.httpGet, { path: "/livez", port: "http" });
        assert.deepStrictEqual(container.livenessProbe.httpGet, { path: "/livez", port: "http" });
        assert.deepStrictEqual(container.readinessProbe.httpGet, { path: "/readyz", port: "http" });
        assert.strictEqual(container.env.find((e: { name: string }) => e.name === "PORT").value, "8000");
        assert.strictEqual(container.env.find((e: { name: string }) => e.name === "LOG_LEVEL").value, "debug");
    });

    it("PostgreSQL: pg_isready for readiness (TCP) and liveness (socket), different from each other", async () => {
        const run = await runProgram("dev", prebuilt);
        const container = run.one(deploymentType, "postgres").spec.template.spec.containers[0];
        assert.strictEqual(container.readinessProbe.exec.command[0], "pg_isready");
        assert.ok(container.readinessProbe.exec.command.includes("--host=127.0.0.1"));
        assert.strictEqual(container.livenessProbe.exec.command[0], "pg_isready");
        assert.notDeepStrictEqual(container.readinessProbe, container.livenessProbe);
    });
});

describe("every pod passes Pod Security restricted, read-only root and no token", () => {
    for (const stack of ["dev", "prod"]) {
        it(`${stack}`, async () => {
            const run = await runProgram(stack, prebuilt);
            const labels = run.one("kubernetes:core/v1:Namespace").metadata.labels;
            assert.strictEqual(labels["pod-security.kubernetes.io/enforce"], "restricted");
            assert.strictEqual(labels["pod-security.kubernetes.io/warn"], "restricted");
            assert.strictEqual(labels["pod-security.kubernetes.io/audit"], "restricted");
            const pods = allPodTemplates(run);
            assert.deepStrictEqual(pods.map((pod) => pod.workload).sort(), [
                "api",
                ...(stack === "prod" ? ["cronjob postgres-backup-cronjob"] : []),
                "job api-database-migrate",
                "job api-database-roles",
                "postgres",
            ]);
            for (const { workload, template } of pods) {
                const pod = template.spec;
                assert.strictEqual(pod.automountServiceAccountToken, false, `${workload}: no token`);
                assert.strictEqual(pod.securityContext.runAsNonRoot, true, `${workload}: runAsNonRoot`);
                assert.ok(Number.isInteger(pod.securityContext.runAsUser) && pod.securityContext.runAsUser > 0, `${workload}: numeric uid`);
                assert.deepStrictEqual(pod.securityContext.seccompProfile, { type: "RuntimeDefault" });
                assert.ok(!pod.hostNetwork && !pod.hostPID && !pod.hostIPC, `${workload}: no host namespaces`);
                for (const volume of pod.volumes) {
                    assert.ok(
                        volume.emptyDir || volume.secret || volume.persistentVolumeClaim,
                        `${workload}: volume ${volume.name} allowed`,
                    );
                }
                for (const container of pod.containers) {
                    const context = container.securityContext;
                    assert.strictEqual(context.allowPrivilegeEscalation, false);
                    assert.strictEqual(context.readOnlyRootFilesystem, true);
                    assert.deepStrictEqual(context.capabilities, { drop: ["ALL"] });
                    assert.ok(!/:latest$/.test(container.image) && /:[^/]+$/.test(container.image), `${workload}: pinned image`);
                    const tmp = container.volumeMounts.find((mount: { mountPath: string }) => mount.mountPath === "/tmp");
                    assert.ok(pod.volumes.find((v: { name: string }) => v.name === tmp.name).emptyDir, `${workload}: /tmp is an emptyDir`);
                }
            }
            const postgres = pods.find((pod) => pod.workload === "postgres")?.template.spec;
            assert.strictEqual(postgres.securityContext.runAsUser, 999);
            assert.strictEqual(postgres.securityContext.fsGroup, 999);
            assert.strictEqual(
                postgres.containers[0].env.find((e: { name: string }) => e.name === "PGDATA").value,
                "/var/lib/postgresql/data/pgdata",
            );
            assert.deepStrictEqual(postgres.containers[0].volumeMounts.map((mount: { mountPath: string }) => mount.mountPath).sort(), [
                "/tmp",
                "/var/lib/postgresql/data",
                "/var/run/postgresql",
                "/var/run/secrets/postgres",
            ]);
        });
    }
});

describe("availability and protection differ between dev and prod", () => {
    it("a default-deny NetworkPolicy covers the namespace; the API admits HTTP on 8000 and reaches only the database and DNS", async () => {
        const run = await runProgram("dev", prebuilt);
        const deny = run.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "default-deny").spec;
        assert.deepStrictEqual(deny, { podSelector: {}, policyTypes: ["Ingress", "Egress"] });
        const http = run.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "api-http").spec;
        assert.deepStrictEqual(http.ingress, [{ ports: [{ protocol: "TCP", port: 8000 }] }]);
        const databaseLabels = run.one("kubernetes:apps/v1:Deployment", "postgres").spec.template.metadata.labels;
        assert.ok(selects(http.egress[0].to[0].podSelector.matchLabels, databaseLabels));
        assert.deepStrictEqual(http.egress[0].ports, [{ protocol: "TCP", port: 5432 }]);
        assert.deepStrictEqual(
            http.egress[1].ports.map((p: { port: number }) => p.port),
            [53, 53],
        );
        assert.deepStrictEqual(run.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "postgres-from-api").spec.egress, []);
    });

    it("prod spreads API replicas across nodes; dev's single pod needs no anti-affinity", async () => {
        const prod = await runProgram("prod", prebuilt);
        const term = prod.one(deploymentType, "api").spec.template.spec.affinity.podAntiAffinity
            .preferredDuringSchedulingIgnoredDuringExecution[0];
        assert.strictEqual(term.podAffinityTerm.topologyKey, "kubernetes.io/hostname");
        assert.deepStrictEqual(term.podAffinityTerm.labelSelector.matchLabels, prod.one(deploymentType, "api").spec.selector.matchLabels);
        const dev = await runProgram("dev", prebuilt);
        assert.strictEqual(dev.one(deploymentType, "api").spec.template.spec.affinity, undefined);
    });

    it("the postgres image can be pinned by digest", async () => {
        const digest = `sha256:${"b".repeat(64)}`;
        const run = await runProgram("prod", { ...prebuilt, postgresImageDigest: digest });
        assert.strictEqual(run.one(deploymentType, "postgres").spec.template.spec.containers[0].image, `postgres:15.10@${digest}`);
    });

    it("prod has a PodDisruptionBudget of maxUnavailable 1; dev with one pod has none", async () => {
        const prod = await runProgram("prod", prebuilt);
        assert.strictEqual(prod.one("kubernetes:policy/v1:PodDisruptionBudget").spec.maxUnavailable, 1);
        const dev = await runProgram("dev", prebuilt);
        assert.strictEqual(dev.all("kubernetes:policy/v1:PodDisruptionBudget").length, 0);
    });

    it("autoscaling adds an HPA and leaves the Deployment's replica count to it", async () => {
        const run = await runProgram("prod", {
            ...prebuilt,
            apiAutoscaling: "true",
            apiAutoscalingMinReplicas: "3",
            apiAutoscalingMaxReplicas: "12",
            apiAutoscalingTargetCpuPercent: "65",
        });
        const hpa = run.one("kubernetes:autoscaling/v2:HorizontalPodAutoscaler").spec;
        assert.strictEqual(hpa.minReplicas, 3);
        assert.strictEqual(hpa.maxReplicas, 12);
        assert.strictEqual(hpa.metrics[0].resource.target.averageUtilization, 65);
        assert.deepStrictEqual(hpa.scaleTargetRef, { apiVersion: "apps/v1", kind: "Deployment", name: "api" });
        assert.strictEqual(run.one(deploymentType, "api").spec.replicas, undefined);
        assert.strictEqual((await runProgram("prod", prebuilt)).all("kubernetes:autoscaling/v2:HorizontalPodAutoscaler").length, 0);
    });

    it("prod protects and retains exactly the data and backup volumes and the owner's Secret; dev protects nothing", async () => {
        const prod = await runProgram("prod", prebuilt);
        const protectedInProd = prod.resources.filter((r) => r.protect).map((r) => `${r.type} ${r.name}`);
        assert.deepStrictEqual(protectedInProd.sort(), [
            "kubernetes:core/v1:PersistentVolumeClaim postgres-backup-volume",
            "kubernetes:core/v1:PersistentVolumeClaim postgres-data",
            "kubernetes:core/v1:Secret postgres-credentials",
        ]);
        assert.ok(prod.resources.filter((r) => r.protect).every((r) => r.retainOnDelete));
        const dev = await runProgram("dev", prebuilt);
        assert.deepStrictEqual(
            dev.resources.filter((r) => r.protect || r.retainOnDelete),
            [],
        );
    });
});

describe("the provider awaits the rollouts, and a Service only for a load balancer address", () => {
    const skipAwait = { "pulumi.com/skipAwait": "true" };

    /** Both Deployments stay awaited: no annotation that could turn the provider's rollout wait off. */
    function assertDeploymentsAwaited(run: ProgramRun): void {
        for (const name of ["api", "postgres"]) {
            const annotations = run.one(deploymentType, name).metadata.annotations ?? {};
            assert.strictEqual(annotations["pulumi.com/skipAwait"], undefined, `Deployment ${name} is awaited`);
        }
    }

    for (const [stack, apiServiceType] of [
        ["dev", "ClusterIP"],
        ["dev", "NodePort"],
        ["prod", "ClusterIP"],
    ] as const) {
        it(`${stack}, ${apiServiceType}: both Services skip the endpoint settle; both Deployments are awaited`, async () => {
            const run = await runProgram(stack, { ...prebuilt, apiServiceType });
            assert.strictEqual(run.one(serviceType, "api").spec.type, apiServiceType);
            assert.deepStrictEqual(run.one(serviceType, "api").metadata.annotations, skipAwait);
            assert.deepStrictEqual(run.one(serviceType, "postgres").metadata.annotations, skipAwait);
            assertDeploymentsAwaited(run);
        });
    }

    it("prod's LoadBalancer is awaited for its address; the database's ClusterIP Service is not", async () => {
        const run = await runProgram("prod", prebuilt);
        assert.strictEqual(run.one(serviceType, "api").spec.type, "LoadBalancer");
        assert.strictEqual(run.one(serviceType, "api").metadata.annotations, undefined);
        assert.deepStrictEqual(run.one(serviceType, "postgres").metadata.annotations, skipAwait);
        assertDeploymentsAwaited(run);
    });

    it("a local cluster without load balancers opts out of the address wait, and the rollouts are still awaited", async () => {
        const run = await runProgram("prod", { ...prebuilt, apiServiceAwaitAddress: "false" });
        assert.strictEqual(run.one(serviceType, "api").spec.type, "LoadBalancer");
        assert.deepStrictEqual(run.one(serviceType, "api").metadata.annotations, skipAwait);
        assertDeploymentsAwaited(run);
    });
});
