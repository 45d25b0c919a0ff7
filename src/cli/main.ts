// Entry point of `mallory` (npm run mallory -- ARGS, and the esbuild bundle dist/mallory.js).
import { runCli } from "./program.js";

process.exitCode = await runCli(process.argv.slice(2), {
  out: (s) => {
    process.stdout.write(s);
  },
  err: (s) => {
    process.stderr.write(s);
  },
  color: process.stdout.isTTY && process.env.NO_COLOR === undefined,
});
