import { ProgramRun } from "./harness";

/** Pod templates of every workload the program creates, with the workload's name. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function podTemplates(run: ProgramRun): { workload: string; template: any; selector: Record<string, string> }[] {
    return run.all("kubernetes:apps/v1:Deployment").map((deployment) => ({
        workload: deployment.inputs.metadata.name,
        template: deployment.inputs.spec.template,
        selector: deployment.inputs.spec.selector.matchLabels,
    }));
}

/** True when every key/value of `selector` is among `labels`. */
export function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
    return Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => labels[key] === value);
}
