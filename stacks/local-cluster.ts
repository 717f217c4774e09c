import * as path from "path";
import { contentTag } from "../components/build-context";

/**
 * What differs when a stack runs on the local cluster (scripts/cluster.sh) instead of a real one:
 * the connection, an image reference in place of a Docker build (the Docker provider plugin cannot
 * be had offline; scripts/api-image.ts builds the image and the node imports it), the PostgreSQL
 * image where the official one cannot be pulled, the cluster's statically provisioned storage class,
 * and no wait for a load balancer address that such a cluster cannot assign.
 * The main job (scripts/deploy.sh) and the cluster end-to-end tier both take these from here.
 */

/** StorageClass that scripts/cluster.sh creates, with pre-created volumes behind it. */
export const localStorageClass = "local-static";

/**
 * Config overrides, keyed as in Pulumi.<stack>.yaml.
 * @param kubeconfig path of the local cluster's kubeconfig
 * @param projectRoot root of the project, whose app/ gives the image's content tag
 * @param postgresImage `repository:tag` of the PostgreSQL image the node holds (scripts/images-base.sh
 *   prints it as POSTGRES_IMAGE), when it is not the official one
 */
export function localClusterConfig(kubeconfig: string, projectRoot: string, postgresImage?: string): Record<string, string> {
    return {
        ...postgresImageConfig(postgresImage),
        "kubernetes:kubeconfig": kubeconfig,
        "api-stack:imageBuild": "false",
        "api-stack:imageRef": `api-stack/api:${contentTag(path.join(projectRoot, "app"))}`,
        "api-stack:postgresStorageClass": localStorageClass,
        "api-stack:apiServiceAwaitAddress": "false",
    };
}

/**
 * The config that runs PostgreSQL from `repository:tag` (such as the stand-in that scripts/images-base.sh
 * makes); none when it is undefined, so that the stack's own image stays.
 */
export function postgresImageConfig(postgresImage?: string): Record<string, string> {
    if (!postgresImage) {
        return {};
    }
    const colon = postgresImage.lastIndexOf(":");
    return {
        "api-stack:postgresImageRepository": postgresImage.slice(0, colon),
        "api-stack:postgresVersion": postgresImage.slice(colon + 1),
    };
}
