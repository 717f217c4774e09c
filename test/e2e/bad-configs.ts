import * as assert from "assert";
import { configRefusals, schedulingRefusals } from "../unit/config-refusals";
import { failure, preview, ProjectCopy } from "./engine";

/**
 * Bad configurations that the real engine must refuse at `preview`, shared by the render-mode
 * and the cluster tiers. Each names the key its error message must mention, and what else it must say.
 */
export const badConfigs: { title: string; overrides: Record<string, string>; key: string; mentions?: RegExp }[] = [
    { title: "replicas spelled out", overrides: { apiReplicas: "three" }, key: "apiReplicas" },
    { title: "memory limit below request", overrides: { apiMemoryRequest: "512Mi", apiMemoryLimit: "256Mi" }, key: "apiMemoryLimit" },
    { title: "unknown service type", overrides: { apiServiceType: "Ingress" }, key: "apiServiceType" },
    { title: "storage 0Gi", overrides: { postgresStorageSize: "0Gi" }, key: "postgresStorageSize" },
    { title: "latest image", overrides: { imageRef: "registry.example.com/api:latest" }, key: "imageRef" },
    { title: "namespace not a DNS label", overrides: { namespace: "Prod_Namespace" }, key: "namespace" },
    ...[...configRefusals, ...schedulingRefusals].filter((refusal) => refusal.realEngine),
];

/**
 * Opens a fresh stack of `copy` with `overrides` plus the bad values, and asserts that `preview`
 * fails naming the key and that the stack's state holds no resource. Removes the stack after.
 */
export async function assertRefusedAtPreview(
    copy: ProjectCopy,
    index: number,
    bad: (typeof badConfigs)[number],
    overrides: Record<string, string>,
): Promise<void> {
    const stack = await copy.stack(`bad-${index}`, index % 2 === 0 ? "dev" : "prod", { ...overrides, ...bad.overrides });
    const message = await failure(() => preview(stack));
    assert.ok(message.includes(`api-stack:${bad.key}`) || message.includes(`'${bad.key}'`), `names ${bad.key}:\n${message}`);
    if (bad.mentions) {
        assert.match(message, bad.mentions);
    }
    const state = await stack.exportStack();
    assert.deepStrictEqual((state.deployment as { resources?: unknown[] }).resources ?? [], []);
    await stack.workspace.removeStack(stack.name);
}
