// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

// Layers of ARCHITECTURE.md: a folder may import only from the folders below it.
const layers = ["wire", "pcap", "engine", "model", "config", "sim", "attacks", "analysis", "lab", "report", "cli"];
const pureLayers = new Set(["wire", "engine"]);

/** Imports a layer may not make: every layer above it, and for pure layers, ambient I/O. */
function layerRules(layer) {
  const above = layers.slice(layers.indexOf(layer) + 1);
  const patterns = above.map((l) => ({
    group: [`**/${l}/**`, `**/${l}`],
    message: `src/${layer} sits below src/${l} (ARCHITECTURE.md layers): it must not import from it.`,
  }));
  const paths = pureLayers.has(layer)
    ? ["fs", "node:fs", "fs/promises", "node:fs/promises", "child_process", "node:child_process"].map((name) => ({
        name,
        message: `src/${layer} is pure: no file or process I/O (STYLE.md §14).`,
      }))
    : [];
  return {
    files: [`src/${layer}/**/*.ts`],
    ignores: [`src/${layer}/**/*.test.ts`],
    rules: {
      "no-restricted-imports": ["error", { patterns, paths }],
      ...(pureLayers.has(layer)
        ? {
            "no-restricted-properties": [
              "error",
              { object: "Date", property: "now", message: "Time is injected (STYLE.md §6)." },
              { object: "Math", property: "random", message: "Chance is injected (STYLE.md §6)." },
            ],
            "no-restricted-globals": ["error", { name: "Buffer", message: "Use Uint8Array in pure layers." }],
          }
        : {}),
    },
  };
}

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**", "src/**/assembly/**"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ["scripts/*.mjs"] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true, allowBoolean: true }],
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-unnecessary-condition": ["error", { allowConstantLoopConditions: true }],
      "no-bitwise": "off",
      "@typescript-eslint/prefer-literal-enum-member": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    files: ["**/*.test.ts"],
    rules: {
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
    },
  },
  ...layers.map(layerRules),
);
