import { ResourceValidationPolicy } from "@pulumi/policy";
import { EnvironmentConfig, environmentSchema, isProd } from "../lib/environment";
import { allContainers, workloadOf } from "../lib/k8s";

const digestPattern = /@sha256:[0-9a-f]{64}$/;

/** Splits `registry:port/repo:tag@digest` into its tag ("" when absent) and digest. */
export function parseImage(image: string): { readonly tag: string; readonly digest: string } {
    const at = image.indexOf("@");
    const digest = at >= 0 ? image.slice(at + 1) : "";
    const name = at >= 0 ? image.slice(0, at) : image;
    const lastSlash = name.lastIndexOf("/");
    const colon = name.indexOf(":", lastSlash + 1);
    return { tag: colon >= 0 ? name.slice(colon + 1) : "", digest };
}

export interface ImageConfig extends EnvironmentConfig {
    /** Regular expression a tag must match in prod when the image has no digest. */
    readonly contentTagPattern?: string;
    /** Repositories that prod may pin by an exact release tag (see the default's reason). */
    readonly exactVersionImages?: readonly string[];
}

/**
 * The official postgres image: prod pins it by its exact release tag (15.10), because its digest
 * cannot be resolved where the program is written (no registry is reachable); operators who can
 * resolve it set postgresImageDigest, which this policy then accepts as a digest.
 */
export const defaultExactVersionImages = ["postgres"];
const exactVersionTag = /^[0-9]+\.[0-9]+(\.[0-9]+)?(-[a-z0-9]+)?$/;

function repositoryOf(image: string): string {
    const name = image.split("@")[0];
    const colon = name.indexOf(":", name.lastIndexOf("/") + 1);
    return colon >= 0 ? name.slice(0, colon) : name;
}

/** A tag that names content: it ends with a hex hash of at least 7 characters (git sha, image id). */
export const defaultContentTagPattern = "(^|[-_.])(sha256-)?[0-9a-f]{7,64}$";

export const imageTags: ResourceValidationPolicy = {
    name: "image-tags",
    description: "No `latest` or untagged images; in prod every image is pinned by digest or a content tag.",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            ...environmentSchema.properties,
            contentTagPattern: {
                type: "string",
                default: defaultContentTagPattern,
                description: "Tag pattern accepted in prod for images without a digest.",
            },
            exactVersionImages: {
                type: "array",
                items: { type: "string" },
                default: defaultExactVersionImages,
                description: "Third-party repositories that prod may pin by an exact release tag such as 15.10.",
            },
        },
    },
    validateResource: (args, reportViolation) => {
        const workload = workloadOf(args.type, args.props);
        if (!workload) {
            return;
        }
        const config = args.getConfig<ImageConfig>();
        const prod = isProd(config);
        const contentTag = new RegExp(config.contentTagPattern ?? defaultContentTagPattern);
        for (const { where, container } of allContainers(workload.podSpec)) {
            const image = container.image ?? "";
            const { tag, digest } = parseImage(image);
            if (!image) {
                reportViolation(`${where} has no image: set an image with an explicit version tag.`);
            } else if (!digest && (tag === "" || tag === "latest")) {
                reportViolation(
                    `${where} uses image "${image}" with ${tag ? "the `latest` tag" : "no tag"}: ` +
                        "pin a version tag (for example postgres:17.6) or a digest (@sha256:...).",
                );
            } else if (
                prod &&
                !digestPattern.test(image) &&
                !contentTag.test(tag) &&
                !((config.exactVersionImages ?? defaultExactVersionImages).includes(repositoryOf(image)) && exactVersionTag.test(tag))
            ) {
                reportViolation(
                    `${where} uses image "${image}" in prod: pin it by digest (image@sha256:<64 hex>) ` +
                        `or a content tag matching /${contentTag.source}/ so a deploy cannot change what runs.`,
                );
            }
        }
    },
};
