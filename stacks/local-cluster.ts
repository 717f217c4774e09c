import * as path from "path";
import { contentTag } from "../components/build-context";

/**
 * What differs when a stack runs on the local simulated cluster (scripts/cluster.sh) instead of
 * a real one: the connection, an image reference in place of a Docker build (no Docker engine
 * runs there, and the simulated kubelet never pulls), the cluster's statically provisioned
 * storage class, and no wait for a load balancer address that such a cluster cannot assign.
 * The main job (scripts/deploy.sh) and the cluster end-to-end tier both take these from here.
 */

/** StorageClass that scripts/cluster.sh creates, with pre-created volumes behind it. */
export const localStorageClass = "local-static";

/**
 * Config overrides, keyed as in Pulumi.<stack>.yaml.
 * @param kubeconfig path of the local cluster's kubeconfig
 * @param projectRoot root of the project, whose app/ gives the image's content tag
 */
export function localClusterConfig(kubeconfig: string, projectRoot: string): Record<string, string> {
    return {
        "kubernetes:kubeconfig": kubeconfig,
        "api-stack:imageBuild": "false",
        "api-stack:imageRef": `api-stack/api:${contentTag(path.join(projectRoot, "app"))}`,
        "api-stack:postgresStorageClass": localStorageClass,
        "api-stack:apiServiceAwaitAddress": "false",
    };
}
