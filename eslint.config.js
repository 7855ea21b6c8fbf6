// Lint rules for the browser code (`make test` runs `npx eslint`): ESLint's recommended
// set, for ES modules served as they are to Chromium-based browsers (no build step): each
// page loads its entry module, which imports what it uses (no globals shared).
const js = require("@eslint/js");
const globals = require("globals");

module.exports = [
  {
    // Vendored libraries, installed packages, collected static files; the service worker
    // is a Django template (map_ui/templates), not a file served as it is.
    ignores: [".venv/**", "**/vendor/**", "var/**", "build/**", "test-output/**", "**/templates/**"],
  },
  js.configs.recommended,
  {
    files: ["**/static/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.browser, L: "readonly" },
    },
    rules: {
      "no-unused-vars": ["error", { args: "after-used", caughtErrors: "none" }],
      eqeqeq: ["error", "always", { null: "ignore" }],
      "no-var": "off",
    },
  },
  {
    files: ["eslint.config.js"],
    languageOptions: { sourceType: "commonjs", globals: globals.node },
  },
];
