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

/** How to build the API image. */
export interface ImageBuildArgs {
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

/** Arguments of {@link ApiImage}: exactly one of `build` or `ref`. */
export interface ApiImageArgs {
    /** Build the image from source with Docker. */
    readonly build?: ImageBuildArgs;
    /** A prebuilt image reference, deployed as given (CI-built images, clusters without Docker). */
    readonly ref?: string;
}

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
        if ((args.build === undefined) === (args.ref === undefined)) {
            throw new Error(`ApiImage ${name}: set exactly one of args.build or args.ref`);
        }
        if (args.build === undefined) {
            this.imageRef = pulumi.output(args.ref ?? "");
        } else {
            const build = args.build;
            if (build.tag === "" || build.tag === "latest") {
                throw new Error(`ApiImage ${name}: args.build.tag "${build.tag}" must be a content tag, not empty or latest`);
            }
            const image = new docker.Image(
                `${name}-image`,
                {
                    imageName: `${build.repository}:${build.tag}`,
                    build: { context: build.context, dockerfile: build.dockerfile, platform: "linux/amd64" },
                    skipPush: build.registry === undefined,
                    registry: build.registry && {
                        server: build.registry.server,
                        username: build.registry.username,
                        password: build.registry.password,
                    },
                },
                { parent: this },
            );
            // A pushed image is deployed by digest; a local-only build has no registry digest.
            this.imageRef = build.registry ? image.repoDigest : image.imageName;
        }
        this.registerOutputs({ imageRef: this.imageRef });
    }
}
