import * as pulumi from "@pulumi/pulumi";

/**
 * What the stack has already deployed, read through the engine from the stack's own outputs of
 * its last update: no second record to keep in step. The engine's built-in `readStackOutputs`
 * function is what a StackReference reads; called directly, it adds only the built-in provider
 * to the state (created once), not a StackReference and a "read" step in every preview.
 */

/** The engine's built-in function that returns a stack's outputs. */
const readStackOutputs = "pulumi:pulumi:readStackOutputs";

/**
 * The PostgreSQL major of the stack's last update (its `postgresMajor` output), or undefined for
 * a stack that has not deployed one (new, destroyed, or last updated before the output existed).
 */
export async function deployedPostgresMajor(): Promise<string | undefined> {
    const name = `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`;
    const result: unknown = await pulumi.runtime.invoke(readStackOutputs, { name }, { async: true });
    const major = (result as { outputs?: Record<string, unknown> } | undefined)?.outputs?.postgresMajor;
    return typeof major === "string" ? major : undefined;
}
