import * as path from "path";
import { Api, apiIdentity } from "./components/api";
import { ApiImage } from "./components/api-image";
import { contentTag } from "./components/build-context";
import { Environment } from "./components/environment";
import { selectorLabels } from "./components/labels";
import { Postgres, postgresIdentity } from "./components/postgres";
import { loadSettings } from "./stacks/settings";

// Validate all config before registering a single resource.
const settings = loadSettings();
const instance = settings.stack;

const environment = new Environment("environment", { namespace: settings.namespace });
const namespace = environment.namespaceName;

const image =
    settings.image.kind === "ref"
        ? new ApiImage("api-image", { ref: settings.image.ref })
        : new ApiImage("api-image", {
              build: {
                  context: path.resolve(settings.image.context),
                  dockerfile: path.resolve(settings.image.dockerfile),
                  repository: settings.image.repository,
                  tag: contentTag(path.resolve(settings.image.context)),
                  registry:
                      settings.image.push && settings.image.registryServer
                          ? {
                                server: settings.image.registryServer,
                                username: settings.image.registryUsername,
                                password: settings.image.registryPassword,
                            }
                          : undefined,
              },
          });

const database = new Postgres("postgres", {
    namespace,
    instance,
    imageRepository: settings.postgres.imageRepository,
    version: settings.postgres.version,
    imageDigest: settings.postgres.imageDigest,
    storageSize: settings.postgres.storageSize,
    storageClassName: settings.postgres.storageClass,
    databaseName: settings.postgres.databaseName,
    user: settings.postgres.user,
    resources: settings.postgres.resources,
    clientSelector: selectorLabels(apiIdentity(instance)),
    protect: settings.protect,
});

const api = new Api("api", {
    namespace,
    instance,
    image: image.imageRef,
    replicas: settings.api.replicas,
    resources: settings.api.resources,
    logLevel: settings.api.logLevel,
    database: { secretName: database.secretName, urlKey: database.urlKey, secretChecksum: database.secretChecksum },
    databaseSelector: selectorLabels(postgresIdentity(instance)),
    serviceType: settings.api.serviceType,
    servicePort: settings.api.servicePort,
    awaitServiceAddress: settings.api.awaitServiceAddress,
    autoscaling: settings.api.autoscaling,
});

export const namespaceName = namespace;
export const imageRef = image.imageRef;
export const apiInternalUrl = api.internalUrl;
export const apiExternalEndpoint = api.externalEndpoint;
export const databaseHost = database.host;
export const databaseSecretName = database.secretName;
/** A secret output: `pulumi stack output --show-secrets databaseUrl` to connect from a trusted shell. */
export const databaseUrl = database.connectionUrl;
