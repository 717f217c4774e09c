import pulumi from "@pulumi/eslint-plugin";
import tseslint from "typescript-eslint";

// One lint setup for the three packages: the program (root), the API service (app/) and the policy pack
// (policy/). `npm run lint` runs it from the root; each file is type-checked with its own package's
// tsconfig.json (projectService), and Prettier's one style is .prettierrc.json.
const config = tseslint.config(
    { ignores: ["**/node_modules/", "bin/", "app/dist/", ".pulumi-local/", ".local-cluster/", ".docker-engine/", "**/*.mjs"] },
    ...tseslint.configs.recommendedTypeChecked,
    {
        languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
        plugins: { "@pulumi": pulumi },
        rules: {
            "@pulumi/no-output-in-template-literal": "error",
            "@pulumi/no-output-instance-in-template-literal": "error",
            "@typescript-eslint/no-non-null-assertion": "error",
        },
    },
    {
        // Tests inspect untyped resource inputs recorded by the mocks, and parsed JSON responses.
        files: ["**/test/**/*.ts"],
        rules: {
            "@typescript-eslint/no-unsafe-member-access": "off",
            "@typescript-eslint/no-unsafe-assignment": "off",
            "@typescript-eslint/no-unsafe-argument": "off",
            "@typescript-eslint/no-unsafe-call": "off",
            "@typescript-eslint/no-unsafe-return": "off",
        },
    },
    {
        // @pulumi/policy hands every resource's properties over as `any`: they are whatever the program
        // sent to the provider. The pack reads them through its own guards (policy/lib/k8s.ts), which is
        // where an unexpected shape is caught, not in the type system.
        files: ["policy/**/*.ts"],
        rules: {
            "@typescript-eslint/no-unsafe-member-access": "off",
            "@typescript-eslint/no-unsafe-assignment": "off",
            "@typescript-eslint/no-unsafe-argument": "off",
            "@typescript-eslint/no-unsafe-return": "off",
        },
    },
    {
        // Fastify waits on the promise that an async plugin or handler returns, awaited inside or not.
        files: ["app/**/*.ts"],
        rules: { "@typescript-eslint/require-await": "off" },
    },
);

// Patterns stay relative to this folder even when a package runs this config from its own folder
// (its eslint.config.mjs being `export { default } from "../eslint.config.mjs";`).
export default config.map((entry) => ({ ...entry, basePath: import.meta.dirname }));
