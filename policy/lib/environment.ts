// Which rules apply to which stack. The engine tells a policy pack its stack name (pulumi.getStack(),
// also through this project's own language host), so `dev` and `prod` need no policy config. A stack
// with another name is checked as dev unless `prodStacks` lists it or `environment` says prod; a pack
// that is told no stack name at all applies the prod rules rather than silently skipping them.
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
    if (stack === "") {
        return true;
    }
    return (config.prodStacks ?? ["prod"]).includes(stack);
}
