// Calls a policy's validate function the way the engine does, with fake args, and collects messages.
import {
    PolicyResource,
    PolicyResourceOptions,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationPolicy,
} from "@pulumi/policy";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { types } from "../lib/k8s";

export type Props = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A resource as the engine would pass it: its Pulumi type, inputs and options. */
export interface FakeResource {
    readonly type: string;
    readonly props: Props;
    readonly name?: string;
    readonly protect?: boolean;
}

function options(protect: boolean): PolicyResourceOptions {
    return {
        protect,
        ignoreChanges: [],
        aliases: [],
        additionalSecretOutputs: [],
        customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
    };
}

function notApplicable(reason?: string): never {
    throw new Error(`notApplicable: ${reason ?? ""}`);
}

export async function runResourcePolicy(policy: ResourceValidationPolicy, resource: FakeResource, config: object = {}): Promise<string[]> {
    const messages: string[] = [];
    const report: ReportViolation = (message) => messages.push(message);
    const name = resource.name ?? resource.props.metadata?.name ?? "resource";
    const args: ResourceValidationArgs = {
        type: resource.type,
        props: resource.props,
        urn: `urn:pulumi:test::api-stack::${resource.type}::${name}`,
        name,
        opts: options(resource.protect ?? false),
        stackTags: new Map(),
        isType: () => false,
        asType: () => undefined,
        getConfig: <T extends object>() => config as T,
        notApplicable,
    };
    const validations = policy.validateResource === undefined ? [] : [policy.validateResource].flat();
    for (const validate of validations) {
        await validate(args, report);
    }
    return messages;
}

export async function runStackPolicy(policy: StackValidationPolicy, resources: FakeResource[], config: object = {}): Promise<string[]> {
    const messages: string[] = [];
    const report: ReportViolation = (message) => messages.push(message);
    const policyResources: PolicyResource[] = resources.map((r) => {
        const name = r.name ?? r.props.metadata?.name ?? "resource";
        return {
            type: r.type,
            props: r.props,
            urn: `urn:pulumi:test::api-stack::${r.type}::${name}`,
            name,
            opts: options(r.protect ?? false),
            dependencies: [],
            propertyDependencies: {},
            isType: () => false,
            asType: () => undefined,
        };
    });
    await policy.validateStack(
        { resources: policyResources, stackTags: new Map(), getConfig: <T extends object>() => config as T, notApplicable },
        report,
    );
    return messages;
}

const typeOfKind: Record<string, string> = {
    Namespace: "kubernetes:core/v1:Namespace",
    Deployment: types.deployment,
    StatefulSet: types.statefulSet,
    Service: types.service,
    Secret: types.secret,
    PersistentVolumeClaim: types.pvc,
    NetworkPolicy: types.networkPolicy,
    PodDisruptionBudget: types.pdb,
    HorizontalPodAutoscaler: types.hpa,
};

/** The objects of a fixture directory (test/fixtures/manifests/<dir>), as Pulumi resources. */
export function fixture(dir: string, protect = true): FakeResource[] {
    const root = path.resolve(__dirname, "..", "..", "test", "fixtures", "manifests", dir);
    return fs
        .readdirSync(root)
        .filter((f) => f.endsWith(".yaml"))
        .flatMap((f) => YAML.parseAllDocuments(fs.readFileSync(path.join(root, f), "utf8")).map((d) => d.toJS() as Props))
        .map((props) => ({ type: typeOfKind[props.kind] ?? `kubernetes:unknown:${props.kind}`, props, protect }));
}

/** A deep copy of one fixture object, to weaken in a test. */
export function fixtureObject(dir: string, kind: string, component: string): FakeResource {
    const found = fixture(dir).find(
        (r) => r.props.kind === kind && r.props.metadata?.labels?.["app.kubernetes.io/component"] === component,
    );
    if (!found) {
        throw new Error(`no ${kind} with component ${component} in fixtures/${dir}`);
    }
    return { ...found, props: structuredClone(found.props) };
}
