// The repository's one lint config (../eslint.config.mjs), for `npm run lint` inside app/.
export { default } from "../eslint.config.mjs";
