import * as assert from "assert";
import { imageTags, parseImage } from "../policies/images";
import { policies } from "../policies";
import { loadBalancerAllowed, networkPolicyCoverage } from "../policies/network";
import { containerResources, noSecretLiterals, podSecurityRestricted, workloadProbes } from "../policies/pods";
import { prodApiReplicas, prodDisruptionBudgets, prodProtectState } from "../policies/prod";
import { isProd } from "../lib/environment";
import { FakeResource, fixture, fixtureObject, runResourcePolicy, runStackPolicy } from "./harness";

const prod = { environment: "prod" };
const dev = { environment: "dev" };

function api(): FakeResource {
    return fixtureObject("good", "Deployment", "server");
}
function postgres(): FakeResource {
    return fixtureObject("good", "Deployment", "database");
}
function apiContainer(resource: FakeResource) {
    return resource.props.spec.template.spec.containers[0];
}
function only(messages: string[], fragment: string): void {
    assert.strictEqual(messages.length, 1, `expected one violation, got ${JSON.stringify(messages)}`);
    assert.ok(messages[0].includes(fragment), `"${messages[0]}" should mention "${fragment}"`);
}

describe("the policy pack", () => {
    it("has unique policy names", () => {
        const names = policies.map((p) => p.name);
        assert.deepStrictEqual([...new Set(names)], names);
    });

    for (const [environment, config] of [
        ["dev", dev],
        ["prod", prod],
    ] as const) {
        it(`passes every object of the good fixtures as ${environment}`, async () => {
            // The fixtures render prod; dev has a ClusterIP Service.
            const resources = fixture("good");
            if (environment === "dev") {
                resources.filter((r) => r.props.kind === "Service").forEach((r) => (r.props.spec.type = "ClusterIP"));
            }
            for (const policy of policies) {
                const messages =
                    "validateStack" in policy
                        ? await runStackPolicy(policy, resources, config)
                        : (await Promise.all(resources.map((r) => runResourcePolicy(policy, r, config)))).flat();
                assert.deepStrictEqual(messages, [], `${policy.name} in ${environment}`);
            }
        });
    }

    it("blocks the bad fixture on images, resources and pod security", async () => {
        const [bad] = fixture("bad");
        for (const policy of [imageTags, containerResources, podSecurityRestricted]) {
            assert.ok((await runResourcePolicy(policy, bad, dev)).length > 0, policy.name);
        }
    });
});

describe("image-tags", () => {
    it("splits registry ports from tags", () => {
        assert.deepStrictEqual(parseImage("localhost:5000/api"), { tag: "", digest: "" });
        assert.deepStrictEqual(parseImage("localhost:5000/api:1.2@sha256:ab"), { tag: "1.2", digest: "sha256:ab" });
    });

    it("refuses a latest image", async () => {
        const resource = api();
        apiContainer(resource).image = "api-stack-api:latest";
        only(await runResourcePolicy(imageTags, resource, dev), "the `latest` tag");
    });

    it("refuses an untagged image", async () => {
        const resource = api();
        apiContainer(resource).image = "postgres";
        only(await runResourcePolicy(imageTags, resource, dev), "no tag");
    });

    it("accepts a version tag in dev but not in prod", async () => {
        const resource = postgres();
        apiContainer(resource).image = "registry.example.com/tools/pgbouncer:1.23";
        assert.deepStrictEqual(await runResourcePolicy(imageTags, resource, dev), []);
        only(await runResourcePolicy(imageTags, resource, prod), "pin it by digest");
    });

    it("accepts the official postgres image by exact release tag in prod, but not by a major tag", async () => {
        const resource = postgres();
        apiContainer(resource).image = "postgres:15.10";
        assert.deepStrictEqual(await runResourcePolicy(imageTags, resource, prod), []);
        apiContainer(resource).image = "postgres:15";
        only(await runResourcePolicy(imageTags, resource, prod), "pin it by digest");
        apiContainer(resource).image = "postgres:15.10";
        only(await runResourcePolicy(imageTags, resource, { ...prod, exactVersionImages: [] }), "pin it by digest");
    });

    it("accepts a content tag or a digest in prod", async () => {
        const resource = api();
        apiContainer(resource).image = "api-stack-api:sha-0123456789abcdef";
        assert.deepStrictEqual(await runResourcePolicy(imageTags, resource, prod), []);
        apiContainer(resource).image = `postgres:15.10@sha256:${"a".repeat(64)}`;
        assert.deepStrictEqual(await runResourcePolicy(imageTags, resource, prod), []);
    });
});

describe("container-resources", () => {
    it("refuses a container without limits", async () => {
        const resource = api();
        delete apiContainer(resource).resources.limits;
        only(await runResourcePolicy(containerResources, resource), "resources.limits.cpu, resources.limits.memory");
    });

    it("refuses a container without a memory request", async () => {
        const resource = postgres();
        delete apiContainer(resource).resources.requests.memory;
        only(await runResourcePolicy(containerResources, resource), "resources.requests.memory");
    });

    it("accepts requests and limits", async () => {
        assert.deepStrictEqual(await runResourcePolicy(containerResources, api()), []);
    });
});

describe("pod-security-restricted", () => {
    it("refuses a root container", async () => {
        const resource = api();
        delete resource.props.spec.template.spec.securityContext.runAsUser;
        apiContainer(resource).securityContext.runAsUser = 0;
        only(await runResourcePolicy(podSecurityRestricted, resource), "runAsUser 0");
    });

    it("refuses a mounted service-account token", async () => {
        const resource = api();
        delete resource.props.spec.template.spec.automountServiceAccountToken;
        only(await runResourcePolicy(podSecurityRestricted, resource), "automountServiceAccountToken to false");
    });

    it("refuses a writable root filesystem", async () => {
        const resource = postgres();
        apiContainer(resource).securityContext.readOnlyRootFilesystem = false;
        only(await runResourcePolicy(podSecurityRestricted, resource), "readOnlyRootFilesystem to true");
    });

    it("refuses privilege escalation, kept capabilities and hostPath volumes", async () => {
        const resource = api();
        const container = apiContainer(resource);
        delete container.securityContext.allowPrivilegeEscalation;
        container.securityContext.capabilities = { add: ["SYS_ADMIN"] };
        resource.props.spec.template.spec.volumes.push({ name: "host", hostPath: { path: "/" } });
        const messages = await runResourcePolicy(podSecurityRestricted, resource);
        for (const fragment of ["allowPrivilegeEscalation", 'drop to ["ALL"]', "adds capabilities SYS_ADMIN", "type hostPath"]) {
            assert.ok(
                messages.some((m) => m.includes(fragment)),
                `${fragment} in ${JSON.stringify(messages)}`,
            );
        }
    });

    it("refuses an unset seccomp profile", async () => {
        const resource = api();
        delete resource.props.spec.template.spec.securityContext.seccompProfile;
        delete apiContainer(resource).securityContext.seccompProfile;
        only(await runResourcePolicy(podSecurityRestricted, resource), "seccompProfile.type to RuntimeDefault");
    });

    it("accepts the restricted pod templates", async () => {
        assert.deepStrictEqual(await runResourcePolicy(podSecurityRestricted, api()), []);
        assert.deepStrictEqual(await runResourcePolicy(podSecurityRestricted, postgres()), []);
    });
});

describe("workload-probes", () => {
    it("refuses a container without a readiness probe", async () => {
        const resource = api();
        delete apiContainer(resource).readinessProbe;
        only(await runResourcePolicy(workloadProbes, resource), "no readinessProbe");
    });

    it("refuses identical readiness and liveness probes", async () => {
        const resource = postgres();
        apiContainer(resource).livenessProbe = apiContainer(resource).readinessProbe;
        only(await runResourcePolicy(workloadProbes, resource), "identical readiness and liveness probes");
    });

    it("accepts distinct probes", async () => {
        assert.deepStrictEqual(await runResourcePolicy(workloadProbes, api()), []);
    });
});

describe("no-secret-literals", () => {
    it("refuses a literal password", async () => {
        const resource = postgres();
        apiContainer(resource).env.push({ name: "POSTGRES_PASSWORD", value: "hunter2" });
        only(await runResourcePolicy(noSecretLiterals, resource), "env POSTGRES_PASSWORD holds a literal secret");
    });

    it("refuses a literal connection URL whatever its name", async () => {
        const resource = api();
        apiContainer(resource).env.push({ name: "DB", value: "postgresql://api:pw@postgres:5432/api" });
        only(await runResourcePolicy(noSecretLiterals, resource), "env DB holds a literal secret or connection URL");
    });

    it("accepts file paths and secretKeyRef", async () => {
        const resource = api();
        apiContainer(resource).env.push({ name: "API_TOKEN", valueFrom: { secretKeyRef: { name: "s", key: "token" } } });
        assert.deepStrictEqual(await runResourcePolicy(noSecretLiterals, resource), []);
    });
});

describe("prod-api-replicas", () => {
    function withoutAutoscaler(replicas: number): FakeResource[] {
        const resources = fixture("good").filter((r) => r.props.kind !== "HorizontalPodAutoscaler");
        const deployment = resources.find((r) => r.props.metadata.name === "api");
        if (deployment) {
            deployment.props.spec.replicas = replicas;
        }
        return resources;
    }

    it("refuses a single API replica in prod", async () => {
        only(await runStackPolicy(prodApiReplicas, withoutAutoscaler(1), prod), "runs 1 replica(s) in prod");
    });

    it("refuses an autoscaler whose minimum is 1 in prod", async () => {
        const resources = fixture("good");
        const hpa = resources.find((r) => r.props.kind === "HorizontalPodAutoscaler");
        assert.ok(hpa);
        hpa.props.spec.minReplicas = 1;
        only(await runStackPolicy(prodApiReplicas, resources, prod), "minReplicas >= 2");
    });

    it("accepts 3 replicas in prod and 1 in dev", async () => {
        assert.deepStrictEqual(await runStackPolicy(prodApiReplicas, withoutAutoscaler(3), prod), []);
        assert.deepStrictEqual(await runStackPolicy(prodApiReplicas, withoutAutoscaler(1), dev), []);
    });
});

describe("prod-disruption-budgets", () => {
    it("refuses a multi-replica workload without a PDB in prod", async () => {
        const resources = fixture("good").filter((r) => r.props.kind !== "PodDisruptionBudget");
        only(await runStackPolicy(prodDisruptionBudgets, resources, prod), "without a PodDisruptionBudget");
    });

    it("accepts a matching PDB, and no PDB in dev", async () => {
        assert.deepStrictEqual(await runStackPolicy(prodDisruptionBudgets, fixture("good"), prod), []);
        const resources = fixture("good").filter((r) => r.props.kind !== "PodDisruptionBudget");
        assert.deepStrictEqual(await runStackPolicy(prodDisruptionBudgets, resources, dev), []);
    });
});

describe("prod-protect-state", () => {
    it("refuses an unprotected database volume and Secret in prod", async () => {
        const volume = { ...fixtureObject("good", "PersistentVolumeClaim", "database"), protect: false };
        only(await runResourcePolicy(prodProtectState, volume, prod), "PersistentVolumeClaim");
        const secret = { ...fixtureObject("good", "Secret", "database"), protect: false };
        only(await runResourcePolicy(prodProtectState, secret, prod), "{ protect: true }");
    });

    it("accepts protected state in prod and unprotected state in dev", async () => {
        assert.deepStrictEqual(await runResourcePolicy(prodProtectState, fixtureObject("good", "Secret", "database"), prod), []);
        const volume = { ...fixtureObject("good", "PersistentVolumeClaim", "database"), protect: false };
        assert.deepStrictEqual(await runResourcePolicy(prodProtectState, volume, dev), []);
    });
});

describe("network-policy-coverage", () => {
    it("refuses pods no NetworkPolicy selects", async () => {
        const resources = fixture("good").filter((r) => r.props.metadata.name !== "default-deny");
        const messages = await runStackPolicy(
            networkPolicyCoverage,
            resources.filter((r) => r.props.metadata.name !== "postgres-from-api"),
        );
        only(messages, "no NetworkPolicy selects its pods");
    });

    it("accepts a default-deny policy that selects every pod", async () => {
        const resources = fixture("good").filter((r) => r.props.kind !== "NetworkPolicy" || r.props.metadata.name === "default-deny");
        assert.deepStrictEqual(await runStackPolicy(networkPolicyCoverage, resources), []);
    });
});

describe("loadbalancer-allowed", () => {
    const service = () => fixtureObject("good", "Service", "server");

    it("refuses a LoadBalancer in dev", async () => {
        only(await runResourcePolicy(loadBalancerAllowed, service(), dev), "is of type LoadBalancer");
    });

    it("accepts a LoadBalancer in prod or where the config allows it, and ClusterIP anywhere", async () => {
        assert.deepStrictEqual(await runResourcePolicy(loadBalancerAllowed, service(), prod), []);
        assert.deepStrictEqual(await runResourcePolicy(loadBalancerAllowed, service(), { ...dev, allowLoadBalancer: true }), []);
        const clusterIp = service();
        clusterIp.props.spec.type = "ClusterIP";
        assert.deepStrictEqual(await runResourcePolicy(loadBalancerAllowed, clusterIp, dev), []);
    });

    it("decides by stack name when the environment is not configured", () => {
        assert.strictEqual(isProd({}, "prod"), true);
        assert.strictEqual(isProd({}, "dev"), false);
        assert.strictEqual(isProd({ prodStacks: ["e2e-prod"] }, "e2e-prod"), true);
        assert.strictEqual(isProd({ environment: "dev" }, "prod"), false);
    });

    it("applies the prod rules when the stack name is unknown and no environment is configured", () => {
        assert.strictEqual(isProd({}, ""), true);
        assert.strictEqual(isProd({ environment: "dev" }, ""), false);
    });
});
