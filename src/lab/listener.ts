// The listener process the lab starts in a node's namespace (`ip netns exec NS node --import tsx listener.ts
// CONFIG.json`, or a bundled lab-listener.js): binds the node's services (listener-service.ts), prints the ready
// marker once every port is bound, and exits on SIGTERM. Nothing imports this file; it is an entry point only, so a
// bundle of the CLI never runs it by accident.

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { READY_LINE, startListener } from "./listener-service.js";
import type { ListenerConfig } from "./listener-service.js";

async function main(configPath: string): Promise<void> {
  const config = JSON.parse(readFileSync(configPath, "utf8")) as ListenerConfig;
  const running = await startListener(config);
  process.stdout.write(`${READY_LINE}\n`);
  const stop = (): void => {
    void running.close().then(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

if (process.argv.length > 1 && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.length < 3) {
    process.stderr.write("usage: listener CONFIG.json\n");
    process.exit(2);
  }
  main(process.argv[2]).catch((e: unknown) => {
    process.stderr.write(`listener: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
