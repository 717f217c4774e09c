// Which rules apply to which stack. The engine tells a policy pack its stack name (pulumi.getStack());
// policy config can override it, so an end-to-end stack with a throwaway name can still be checked
// as `prod` (see policy/config/*.json).
import * as pulumi from "@pulumi/pulumi";
import { PolicyConfigSchema } from "@pulumi/policy";

/** Config every stack-dependent policy accepts. */
export interface EnvironmentConfig {
    /** "dev" or "prod"; when unset, the stack name decides (see `prodStacks`). */
    readonly environment?: "dev" | "prod";
    /** Stack names treated as production when `environment` is unset. @default ["prod"] */
    readonly prodStacks?: string[];
}

export const environmentSchema: PolicyConfigSchema = {
    properties: {
        environment: {
            type: "string",
            enum: ["dev", "prod"],
            description: "Environment the rules are checked for; the stack name decides when unset.",
        },
        prodStacks: {
            type: "array",
            items: { type: "string" },
            default: ["prod"],
            description: "Stack names treated as production when `environment` is unset.",
        },
    },
};

/** The stack being checked, or "" outside the engine (unit tests). */
export function currentStack(): string {
    try {
        return pulumi.getStack();
    } catch {
        return "";
    }
}

export function isProd(config: EnvironmentConfig, stack: string = currentStack()): boolean {
    if (config.environment) {
        return config.environment === "prod";
    }
    return (config.prodStacks ?? ["prod"]).includes(stack);
}
