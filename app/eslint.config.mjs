import tseslint from "typescript-eslint";

// The rule set of the Pulumi program at the repository root, without its Pulumi plugin.
export default tseslint.config(
    { ignores: ["eslint.config.mjs", "node_modules/", "dist/"] },
    ...tseslint.configs.recommendedTypeChecked,
    {
        languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
        rules: {
            "@typescript-eslint/no-non-null-assertion": "error",
            // Fastify waits on the promise an async plugin or handler returns, whether or not it awaits inside.
            "@typescript-eslint/require-await": "off",
        },
    },
    {
        // Tests read response bodies as untyped JSON.
        files: ["test/**/*.ts"],
        rules: {
            "@typescript-eslint/no-unsafe-member-access": "off",
            "@typescript-eslint/no-unsafe-assignment": "off",
            "@typescript-eslint/no-unsafe-argument": "off",
            "@typescript-eslint/no-unsafe-call": "off",
            "@typescript-eslint/no-unsafe-return": "off",
        },
    },
);
