// Bundles the CLI into one ESM file, dist/mallory.js, for the package's `mallory` bin. CommonJS dependencies need
// `require` inside an ESM bundle, hence the createRequire banner (ARCHITECTURE.md, Dependencies).
import { build } from "esbuild";
import { chmod, copyFile } from "node:fs/promises";

const outfile = "dist/mallory.js";
const common = {
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
};
await build({ ...common, entryPoints: ["src/cli/main.ts"], outfile });
// The lab starts one listener process per namespace; src/lab/lab.ts looks for this file beside the CLI bundle.
await build({ ...common, entryPoints: ["src/lab/listener.ts"], outfile: "dist/lab-listener.js" });
// `lab verify` runs its actors (probes, C2 server, implant) as processes in namespaces; src/lab/verify.ts finds this.
await build({ ...common, entryPoints: ["src/lab/actor.ts"], outfile: "dist/lab-actor.js" });
// The lab's raw-socket helpers are Python; src/lab finds them beside its module, i.e. beside the bundle.
await copyFile("src/lab/raw-actor.py", "dist/raw-actor.py");
await copyFile("src/lab/raw-inject.py", "dist/raw-inject.py");
await chmod(outfile, 0o755);
