// The api-stack policy pack: run with `pulumi preview --policy-pack policy` (see docs/guardrails.md).
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";

new PolicyPack("api-stack", {
    description: "Guardrails for the api-stack program: images, resources, pod security, probes, secrets, prod resilience, network.",
    enforcementLevel: "mandatory",
    policies,
});
