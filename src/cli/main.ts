// Entry point of `mallory` (npm run mallory -- ARGS, and the esbuild bundle dist/mallory.js).
import { runCli } from "./program.js";

// `mallory demo --json | head`: the reader went away; stop quietly as other Unix tools do, not with a stack trace.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});

process.exitCode = await runCli(process.argv.slice(2), {
  out: (s) => {
    process.stdout.write(s);
  },
  err: (s) => {
    process.stderr.write(s);
  },
  color: process.stdout.isTTY && process.env.NO_COLOR === undefined,
});
