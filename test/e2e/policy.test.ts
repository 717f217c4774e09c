import * as assert from "assert";
import * as path from "path";
import { failure, preview, ProjectCopy, projectRoot } from "./engine";

/**
 * The CrossGuard pack in policy/, run by the real engine: the committed program passes it for
 * dev and prod, and deliberately weakened copies of the program are stopped at preview.
 */

const policyPack = path.join(projectRoot, "policy");

/** No --policy-pack-config: the pack learns the stack name (and so dev or prod) from the engine. */
const policyOptions = { policyPacks: [policyPack] };

function overrides(copy: ProjectCopy): Record<string, string> {
    return {
        imageBuild: "false",
        imageRef: "registry.example.com/api-stack/api:sha-0123456789abcdef",
        "kubernetes:renderYamlToDirectory": path.join(copy.dir, "rendered"),
    };
}

describe("policy pack through the real engine", function () {
    this.timeout(10 * 60 * 1000);

    for (const stackName of ["dev", "prod"] as const) {
        it(`${stackName}: the committed program passes every policy`, async () => {
            const copy = new ProjectCopy(`policy-${stackName}`);
            try {
                const stack = await copy.stack(stackName, stackName, overrides(copy));
                const run = await preview(stack, policyOptions);
                assert.doesNotMatch(run.output, /violation/i);
                assert.ok(run.steps.length > 10, "the preview planned the stack");
            } finally {
                copy.remove();
            }
        });
    }

    it("holds a stack named prod to the prod rules by its name alone, even with dev's settings", async () => {
        const copy = new ProjectCopy("policy-stack-name");
        try {
            const stack = await copy.stack("prod", "dev", overrides(copy));
            const message = await failure(() => preview(stack, policyOptions));
            assert.match(message, /prod-api-replicas/);
            assert.match(message, /prod-protect-state/);
        } finally {
            copy.remove();
        }
    });

    const weakened: { title: string; file: string; from: string; to: string; policy: string }[] = [
        {
            title: "a container without limits",
            file: "components/api-pod.ts",
            from: 'resources: containerResources(args.resources, { request: "32Mi", limit: "128Mi" }),',
            to: 'resources: { requests: containerResources(args.resources, { request: "32Mi", limit: "128Mi" }).requests },',
            policy: "container-resources",
        },
        {
            title: "a root container",
            file: "components/pod.ts",
            from: "securityContext: restrictedPodSecurityContext(args.uid),",
            to: "securityContext: { ...restrictedPodSecurityContext(args.uid), runAsUser: 0, runAsNonRoot: false },",
            policy: "pod-security-restricted",
        },
        {
            title: "a latest image",
            file: "index.ts",
            from: "image: image.imageRef,",
            to: 'image: "registry.example.com/api-stack/api:latest",',
            policy: "image-tags",
        },
    ];
    for (const variant of weakened) {
        it(`blocks ${variant.title} (${variant.policy})`, async () => {
            const copy = new ProjectCopy("policy-weakened");
            try {
                copy.patch(variant.file, variant.from, variant.to);
                const stack = await copy.stack("prod", "prod", overrides(copy));
                const message = await failure(() => preview(stack, policyOptions));
                assert.match(message, new RegExp(variant.policy));
                assert.match(message, /mandatory/);
            } finally {
                copy.remove();
            }
        });
    }
});
