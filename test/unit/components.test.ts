import * as pulumi from "@pulumi/pulumi";
import * as assert from "assert";
import { Api } from "../../components/api";
import { ApiImage } from "../../components/api-image";
import { Environment } from "../../components/environment";
import { Postgres } from "../../components/postgres";

/** A component built directly, outside the program, must refuse arguments it cannot honour. */

const resources = { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "100m", memory: "128Mi" } };
const database = {
    host: pulumi.output("postgres.ns.svc.cluster.local"),
    port: 5432,
    secretName: pulumi.output("postgres-credentials"),
    urlKey: "url",
    secretChecksum: pulumi.output("0".repeat(64)),
    selector: { "app.kubernetes.io/name": "postgres" },
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
                        clientSelector: {},
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
});
