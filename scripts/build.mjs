// Bundles the CLI into one ESM file, dist/mallory.js, for the package's `mallory` bin. CommonJS dependencies need
// `require` inside an ESM bundle, hence the createRequire banner (ARCHITECTURE.md, Dependencies).
import { build } from "esbuild";
import { chmod } from "node:fs/promises";

const outfile = "dist/mallory.js";
await build({
  entryPoints: ["src/cli/main.ts"],
  outfile,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  banner: {
    js: [
      "#!/usr/bin/env node",
      "import { createRequire as __mallory_createRequire } from 'node:module';",
      "const require = __mallory_createRequire(import.meta.url);",
    ].join("\n"),
  },
  logLevel: "warning",
});
await chmod(outfile, 0o755);
