import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";

/** Registry credentials for pushing a built image. */
export interface RegistryArgs {
    /** Registry host[:port], e.g. `ghcr.io`. */
    readonly server: string;
    /** User name; omit for registries that need no login. */
    readonly username?: string;
    /** Password or token; keep it a secret Output. */
    readonly password?: pulumi.Input<string>;
}

/** Build the image from source with Docker. */
export interface ImageBuildArgs {
    readonly kind: "build";
    /** Docker build context directory. */
    readonly context: string;
    /** Dockerfile path. */
    readonly dockerfile: string;
    /** Image name without tag. When pushing, it should start with the registry server. */
    readonly repository: string;
    /** Tag derived from the build context's content (see `contentTag`); never `latest`. */
    readonly tag: string;
    /** Where to push; without it the image is built locally and not pushed. */
    readonly registry?: RegistryArgs;
}

/** A prebuilt image reference, deployed as given (CI-built images, clusters without Docker). */
export interface ImageRefArgs {
    readonly kind: "ref";
    readonly ref: string;
}

/** Arguments of {@link ApiImage}: where the image comes from. */
export type ApiImageArgs = ImageBuildArgs | ImageRefArgs;

/**
 * The API's container image: built from `app/` with a content-derived tag and pushed when a
 * registry is configured, or a prebuilt reference passed through. Either way `imageRef` is what
 * the Deployment runs: digest-pinned when pushed, so a changed app rolls the pods and an
 * unchanged one does not.
 */
export class ApiImage extends pulumi.ComponentResource {
    /** The image reference for the pod spec. */
    public readonly imageRef: pulumi.Output<string>;

    constructor(name: string, args: ApiImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("api-stack:app:ApiImage", name, {}, opts);
        if (args.kind === "ref") {
            if (args.ref === "") {
                throw new pulumi.ResourceError(`ApiImage ${name}: args.ref is empty; give an image reference`, this);
            }
            this.imageRef = pulumi.output(args.ref);
        } else {
            if (args.tag === "" || args.tag === "latest") {
                throw new pulumi.ResourceError(`ApiImage ${name}: args.tag "${args.tag}" must be a content tag, not empty or latest`, this);
            }
            const image = new docker.Image(
                `${name}-image`,
                {
                    imageName: `${args.repository}:${args.tag}`,
                    build: { context: args.context, dockerfile: args.dockerfile, platform: "linux/amd64" },
                    skipPush: args.registry === undefined,
                    registry: args.registry,
                },
                { parent: this },
            );
            // A pushed image is deployed by digest; a local-only build has no registry digest.
            this.imageRef = args.registry ? image.repoDigest : image.imageName;
        }
        this.registerOutputs({ imageRef: this.imageRef });
    }
}
