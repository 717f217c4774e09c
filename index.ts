import { Api, apiIdentity } from "./components/api";
import { ApiImage } from "./components/api-image";
import { DatabaseAccess, databaseJobIdentity } from "./components/database-access";
import { Environment } from "./components/environment";
import { selectorLabels } from "./components/labels";
import { Postgres } from "./components/postgres";
import { loadSettings } from "./stacks/settings";

/**
 * The program is a function because one check needs the stack's current state: it reads and
 * validates all config, and that state, before registering a single resource.
 */
export = async () => {
    const settings = await loadSettings();
    const instance = settings.stack;

    const environment = new Environment("environment", { namespace: settings.namespace });
    const namespace = environment.namespaceName;
    const image = new ApiImage("api-image", settings.image);
    const database = new Postgres("postgres", {
        ...settings.postgres,
        namespace,
        instance,
        clientSelectors: [selectorLabels(apiIdentity(instance)), selectorLabels(databaseJobIdentity(instance))],
        protect: settings.protect,
    });
    const access = new DatabaseAccess("api-database", {
        ...settings.databaseAccess,
        namespace,
        instance,
        server: database.server,
        image: image.imageRef,
    });
    const api = new Api("api", { ...settings.api, namespace, instance, image: image.imageRef, database: access.connection });

    return {
        namespaceName: namespace,
        imageRef: image.imageRef,
        apiInternalUrl: api.internalUrl,
        apiExternalEndpoint: api.externalEndpoint,
        databaseHost: database.host,
        /** The owner's credentials; the API's are in apiDatabaseSecretName. */
        databaseSecretName: database.ownerSecretName,
        apiDatabaseSecretName: access.connection.secretName,
        /** The login role the API uses in this password rotation. */
        apiDatabaseLogin: access.login,
        migrationJobName: access.migrationJobName,
        /** The owner's URL, a secret output: `pulumi stack output --show-secrets databaseUrl` from a trusted shell. */
        databaseUrl: database.connectionUrl,
        /** The major the data directory is written in; the next update reads it to refuse a major change. */
        postgresMajor: database.major,
    };
};
