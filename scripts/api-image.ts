/**
 * Builds the API image from app/ with the committed Dockerfile on the engine that DOCKER_HOST names,
 * tagged `<imageRepository default of Pulumi.yaml>:<contentTag(app/)>`: the same function gives the
 * program its tag, so what is built here is what the stacks deploy. An image already built from the
 * same content is kept as it is; otherwise the layer cache makes a rebuild quick.
 *
 * Usage: ts-node scripts/api-image.ts [--print-ref | --print-extra-ca]
 *   --print-ref        print the reference only, build nothing.
 *   --print-extra-ca   print the CA certificates a build needs besides Node's own (see extraCaCerts).
 * Prints the image reference on stdout; the build's own output goes to stderr.
 */
import * as crypto from "crypto";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as tls from "tls";
import { parse } from "yaml";
import { contentTag } from "../components/build-context";

const projectRoot = path.resolve(__dirname, "..");
export const appDir = path.join(projectRoot, "app");

/** The reference the stacks deploy when they do not build: `api-stack/api:sha-...`. */
export function apiImageRef(): string {
    const project = parse(fs.readFileSync(path.join(projectRoot, "Pulumi.yaml"), "utf8")) as {
        config: { imageRepository: { default: string } };
    };
    return `${project.config.imageRepository.default}:${contentTag(appDir)}`;
}

/**
 * The certificates of the host's trust store (NODE_EXTRA_CA_CERTS, else SSL_CERT_FILE) that Node.js
 * does not already trust: the CA of a TLS-inspecting proxy, if there is one. Empty otherwise. Only
 * these few go into a build, not the whole bundle.
 */
export function extraCaCerts(): string {
    const file = process.env.NODE_EXTRA_CA_CERTS || process.env.SSL_CERT_FILE;
    if (!file || !fs.existsSync(file)) {
        return "";
    }
    const known = new Set(tls.rootCertificates.map(fingerprint));
    const blocks = fs.readFileSync(file, "utf8").match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
    return blocks.filter((block) => !known.has(fingerprint(block))).join("\n");
}

function fingerprint(pem: string): string {
    return crypto
        .createHash("sha256")
        .update(pem.replace(/-----[A-Z ]+-----|\s/g, ""))
        .digest("hex");
}

/**
 * The build args: the proxy's CA, and the bases that NODE_IMAGE (build stages) and NODE_RUNTIME_IMAGE (runtime
 * stage) name when set, stand-ins from scripts/images-base.sh; the Dockerfile's defaults otherwise.
 */
export function baseImageBuildArgs(): string[] {
    const args = ["--build-arg", `EXTRA_CA_CERTS=${extraCaCerts()}`];
    for (const name of ["NODE_IMAGE", "NODE_RUNTIME_IMAGE"]) {
        const image = process.env[name];
        if (image) {
            args.push("--build-arg", `${name}=${image}`);
        }
    }
    return args;
}

export interface BuildResult {
    readonly ref: string;
    /** Wall-clock seconds of `docker build`. */
    readonly seconds: number;
    /** The build's output, with each step and whether the layer cache served it. */
    readonly log: string;
}

/**
 * Runs `docker build` of app/, or of a copy of it (classic builder: BuildKit would pull its frontend
 * image). A failing build throws naming the failing step, followed by the build's output.
 */
export function dockerBuild(ref: string, extraArgs: string[] = [], context = appDir): BuildResult {
    const started = Date.now();
    const build = spawnSync("docker", ["build", "--force-rm", "-t", ref, ...baseImageBuildArgs(), ...extraArgs, context], {
        env: { ...process.env, DOCKER_BUILDKIT: "0" },
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
    });
    const log = `${build.stdout}${build.stderr}`;
    if (build.status !== 0) {
        const step = log.match(/^Step \d+\/\d+ : .*$/gm)?.pop() ?? "(before the first step)";
        throw new Error(`docker build of ${context} failed at ${step} (exit ${build.status}):\n${log}`);
    }
    return { ref, seconds: (Date.now() - started) / 1000, log };
}

function imageExists(ref: string): boolean {
    return spawnSync("docker", ["image", "inspect", ref], { stdio: "ignore" }).status === 0;
}

if (require.main === module) {
    const ref = apiImageRef();
    if (process.argv.includes("--print-extra-ca")) {
        console.log(extraCaCerts());
    } else if (process.argv.includes("--print-ref")) {
        console.log(ref);
    } else if (imageExists(ref)) {
        console.error(`api-image: ${ref} is already built from this content`);
        console.log(ref);
    } else {
        console.error(`api-image: building ${ref}`);
        try {
            const result = dockerBuild(ref);
            console.error(result.log);
            console.error(`api-image: built ${ref} in ${result.seconds.toFixed(1)}s`);
            console.log(ref);
        } catch (error) {
            console.error(error instanceof Error ? error.message : String(error));
            console.error("api-image: next: fix the step shown above; a base image missing offline comes from 'npm run images:base'");
            process.exit(1);
        }
    }
}
