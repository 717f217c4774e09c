import { Policies } from "@pulumi/policy";
import { imageTags } from "./images";
import { loadBalancerAllowed, networkPolicyCoverage } from "./network";
import { containerResources, noSecretLiterals, podSecurityRestricted, workloadProbes } from "./pods";
import { prodApiReplicas, prodDisruptionBudgets, prodProtectState } from "./prod";

export const policies: Policies = [
    imageTags,
    containerResources,
    podSecurityRestricted,
    workloadProbes,
    noSecretLiterals,
    prodApiReplicas,
    prodDisruptionBudgets,
    prodProtectState,
    networkPolicyCoverage,
    loadBalancerAllowed,
];
