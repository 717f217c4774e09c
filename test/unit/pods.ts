import { ProgramRun } from "./harness";

/** A pod template of the program, with the workload that owns it. */
export interface WorkloadPod {
    readonly workload: string;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    readonly template: any;
    /** The Deployment's selector; undefined for a Job's or CronJob's pods, which Kubernetes selects itself. */
    readonly selector?: Record<string, string>;
}

/** Pod templates of every Deployment the program creates, with the workload's name. */
export function podTemplates(run: ProgramRun): (WorkloadPod & { selector: Record<string, string> })[] {
    return run.all("kubernetes:apps/v1:Deployment").map((deployment) => ({
        workload: deployment.inputs.metadata.name,
        template: deployment.inputs.spec.template,
        selector: deployment.inputs.spec.selector.matchLabels,
    }));
}

/** Pod templates of every Deployment, Job and CronJob: every pod the program can start. */
export function allPodTemplates(run: ProgramRun): WorkloadPod[] {
    return [
        ...podTemplates(run),
        ...run.all("kubernetes:batch/v1:Job").map((job) => ({ workload: `job ${job.name}`, template: job.inputs.spec.template })),
        ...run.all("kubernetes:batch/v1:CronJob").map((cronJob) => ({
            workload: `cronjob ${cronJob.name}`,
            template: cronJob.inputs.spec.jobTemplate.spec.template,
        })),
    ];
}

/** True when every key/value of `selector` is among `labels`. */
export function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
    return Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => labels[key] === value);
}
