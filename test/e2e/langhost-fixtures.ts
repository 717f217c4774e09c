/** Plugins (JavaScript, so ts-node plays no part) that the language host's end-to-end tests run. */

/**
 * A Node.js resource provider, run by the host's RunPlugin, with one type whose objects exist for
 * any id `thing-<value>`: enough for `pulumi import` offline.
 */
export const importableProvider = `// @pulumi/pulumi 3.248's provider server reads the properties of every Read request, but
// \`pulumi import\` sends none: hand it an empty object so the import reaches read() below.
const provproto = require("@pulumi/pulumi/proto/provider_pb");
const { Struct } = require("google-protobuf/google/protobuf/struct_pb");
const getProperties = provproto.ReadRequest.prototype.getProperties;
provproto.ReadRequest.prototype.getProperties = function () {
    return getProperties.call(this) ?? Struct.fromJavaScript({});
};
const provider = require("@pulumi/pulumi/provider");
const schema = {
    name: "lhthing",
    version: "1.0.0",
    resources: {
        "lhthing:index:Thing": {
            properties: { value: { type: "string" } },
            required: ["value"],
            inputProperties: { value: { type: "string" } },
            requiredInputs: ["value"],
        },
    },
};
provider.main(
    {
        version: "1.0.0",
        schema: JSON.stringify(schema),
        async check(urn, olds, news) { return { inputs: news }; },
        async diff() { return { changes: false }; },
        async create(urn, inputs) { return { id: "thing-" + inputs.value, outs: inputs }; },
        async read(id) {
            if (!id.startsWith("thing-")) {
                throw new Error("no thing with id " + id);
            }
            const props = { value: id.replace(/^thing-/, "") }; return { id, props, inputs: props }; },
        async delete() {},
    },
    process.argv.slice(2),
);
`;

/** A policy pack whose one stack policy reports, as an advisory violation, what it was told. */
export const environmentReportingPack = `const { PolicyPack } = require("@pulumi/policy");
const pulumi = require("@pulumi/pulumi");
new PolicyPack("lhpack", {
    policies: [{
        name: "report-environment",
        description: "Reports the environment the pack was started with.",
        enforcementLevel: "advisory",
        validateStack: (stack, reportViolation) => {
            reportViolation("environment: stack=" + pulumi.getStack() + " project=" + pulumi.getProject() +
                " organization=" + pulumi.getOrganization() + " dryRun=" + pulumi.runtime.isDryRun() +
                " color=" + new pulumi.Config("lhtest").get("color"));
        },
    }],
});
`;
