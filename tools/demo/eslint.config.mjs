import eslint from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["node_modules/**"] },
  eslint.configs.recommended,
  { files: ["public/**/*.js"], languageOptions: { sourceType: "module", globals: globals.browser } },
  { files: ["*.mjs"], languageOptions: { sourceType: "module", globals: globals.node } },
];
