import * as pulumi from "@pulumi/pulumi";
import * as assert from "assert";
import { Api } from "../../components/api";
import { ApiImage } from "../../components/api-image";
import { DatabaseAccess } from "../../components/database-access";
import { Environment } from "../../components/environment";
import { Postgres, PostgresServer } from "../../components/postgres";
import { PostgresBackup } from "../../components/postgres-backup";

/** A component built directly, outside the program, must refuse arguments it cannot honour. */

const resources = { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "100m", memory: "128Mi" } };
const database = {
    host: pulumi.output("postgres.ns.svc.cluster.local"),
    port: 5432,
    secretName: pulumi.output("postgres-credentials"),
    urlKey: "url",
    secretChecksum: pulumi.output("0".repeat(64)),
    selector: { "app.kubernetes.io/name": "postgres" },
    prerequisites: [],
};
const apiArgs = { namespace: "ns", instance: "test", image: "registry.example.com/api:1.0", resources, database };

/** Asserts that `build` throws a ResourceError whose message matches `mentions`. */
function refuses(build: () => unknown, mentions: RegExp) {
    assert.throws(build, (error: unknown) => {
        assert.ok(error instanceof pulumi.ResourceError, `a ResourceError, got ${String(error)}`);
        assert.match(error.message, mentions);
        return true;
    });
}

describe("components refuse arguments they cannot honour, with a ResourceError naming the argument", () => {
    before(() =>
        pulumi.runtime.setMocks(
            { newResource: (args) => ({ id: `${args.name}-id`, state: args.inputs }), call: (args) => args.inputs },
            "api-stack",
            "components",
            false,
            "organization",
        ),
    );

    for (const replicas of [0, -1, 1.5]) {
        it(`Api: replicas ${replicas}`, () => {
            refuses(
                () => new Api(`api-${replicas}`, { ...apiArgs, replicas }),
                new RegExp(`args.replicas must be an integer >= 1, got ${replicas}`),
            );
        });
    }

    it("Api: autoscaling maxReplicas below minReplicas", () => {
        refuses(
            () => new Api("api-hpa", { ...apiArgs, autoscaling: { minReplicas: 5, maxReplicas: 2, targetCpuPercent: 70 } }),
            /args.autoscaling.maxReplicas \(2\) must be >= args.autoscaling.minReplicas \(5\)/,
        );
    });

    for (const version of ["9", "14", "18.1"]) {
        it(`Postgres: version ${version} of an unsupported major`, () => {
            refuses(
                () =>
                    new Postgres(`db-${version}`, {
                        namespace: "ns",
                        instance: "test",
                        version,
                        storageSize: "1Gi",
                        resources,
                        clientSelectors: [],
                    }),
                new RegExp(
                    `args.version "${version.replace(".", "\\.")}" is of major ${version.split(".")[0]}; supported majors: 15, 16, 17`,
                ),
            );
        });
    }

    for (const tag of ["", "latest"]) {
        it(`ApiImage: build tag "${tag}"`, () => {
            refuses(
                () => new ApiImage(`image-${tag}`, { kind: "build", context: "app", dockerfile: "app/Dockerfile", repository: "api", tag }),
                new RegExp(`args.tag "${tag}" must be a content tag`),
            );
        });
    }

    it("ApiImage: empty ref", () => {
        refuses(() => new ApiImage("image-ref", { kind: "ref", ref: "" }), /args.ref is empty/);
    });

    for (const namespace of ["default", "kube-system", "kube-public", "kube-node-lease"]) {
        it(`Environment: system namespace ${namespace}`, () => {
            refuses(
                () => new Environment(`env-${namespace}`, { namespace }),
                new RegExp(`args.namespace "${namespace}" is a system namespace`),
            );
        });
    }

    /** A server as Postgres exposes it, without creating one. */
    const server = (ownerUser = "app"): PostgresServer => ({
        host: pulumi.output("postgres.ns.svc.cluster.local"),
        port: 5432,
        databaseName: "app",
        ownerUser,
        ownerSecretName: pulumi.output("postgres-credentials"),
        image: "postgres:15",
        selector: { "app.kubernetes.io/name": "postgres" },
        deployment: new pulumi.ComponentResource("test:index:Server", `server-${ownerUser}`),
    });

    for (const retention of [0, -3, 2.5]) {
        it(`PostgresBackup: retention ${retention}`, () => {
            refuses(
                () =>
                    new PostgresBackup(`backup-${retention}`, {
                        namespace: "ns",
                        instance: "test",
                        server: server(),
                        schedule: "@daily",
                        retention,
                        storageSize: "1Gi",
                    }),
                new RegExp(`args.retention must be an integer >= 1, got ${retention}`),
            );
        });
    }

    it("DatabaseAccess: a negative password rotation", () => {
        refuses(
            () =>
                new DatabaseAccess("access-rotation", {
                    namespace: "ns",
                    instance: "test",
                    server: server(),
                    image: "api:1",
                    passwordRotation: -1,
                }),
            /args.passwordRotation must be an integer >= 0, got -1/,
        );
    });

    it("DatabaseAccess: an owner that is one of the API's own roles", () => {
        refuses(
            () => new DatabaseAccess("access-owner", { namespace: "ns", instance: "test", server: server("api_b"), image: "api:1" }),
            /the owner "api_b" must differ from the API's roles api, api_a, api_b/,
        );
    });
});
