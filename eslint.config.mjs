// ESLint for the page's JavaScript and the scripts around it (npm run lint; scripts/test.sh runs it).
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["web/vendor/**", "node_modules/**", "build/**", "test-artifacts/**", ".venv/**"] },
  js.configs.recommended,
  {
    files: ["web/**/*.js", "bench/bare/*.js", "tests/fixtures/*.js"],
    languageOptions: { ecmaVersion: 2024, sourceType: "module", globals: { ...globals.browser, d3: "readonly" } },
  },
  { files: ["web/js/theme.js"], languageOptions: { sourceType: "script" } },
  { files: ["web/sw.js"], languageOptions: { sourceType: "script", globals: { ...globals.serviceworker } } },
  { files: ["web/js/inference_worker.js"], languageOptions: { globals: { ...globals.worker } } },
  { files: ["scripts/*.mjs"], languageOptions: { ecmaVersion: 2024, sourceType: "module", globals: { ...globals.node } } },
  {
    rules: {
      "no-unused-vars": ["error", { args: "after-used", caughtErrors: "none" }],
      eqeqeq: ["error", "always"],
      "prefer-const": "error",
      "no-var": "error",
    },
  },
];
