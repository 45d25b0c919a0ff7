// Entry point of `mallory` (npm run mallory -- ARGS, and the esbuild bundle dist/mallory.js).
import { setFlagsFromString } from "node:v8";
import { DATAPATH_V8_FLAGS } from "../engine/v8-flags.js";
import { runCli } from "./program.js";

// Before any packet is simulated: the datapath's hot path needs a larger inlining budget (engine/v8-flags.ts).
for (const flag of DATAPATH_V8_FLAGS) setFlagsFromString(flag);

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
