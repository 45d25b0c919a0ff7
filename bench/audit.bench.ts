// W5: the full attack catalogue on seed-home, as `mallory audit` runs it: every plan of every attack on its own
// fresh twin, every intent, and the layer count by ablation (target < 1 s). Loading the YAML is outside the timing.
import { audit } from "../src/analysis/audit.js";
import { loadNetwork } from "../src/model/index.js";
import type { Network } from "../src/model/index.js";
import { defineSuite, elapsedNs } from "./harness.js";

const NS_PER_MS = 1e6;
const SEED_HOME = new URL("../examples/seed-home.yaml", import.meta.url).pathname;

let network: Network | null = null;

export default defineSuite("audit", [
  {
    id: "audit.seed-home-ms",
    unit: "ms",
    runs: 5,
    setup: async () => {
      network = (await loadNetwork(SEED_HOME)).network;
      if (network === null) throw new Error("examples/seed-home.yaml does not load");
    },
    run: () => {
      if (network === null) throw new Error("setup did not run");
      const start = process.hrtime.bigint();
      const r = audit(network);
      const ms = elapsedNs(start) / NS_PER_MS;
      if (r.findings.length === 0) throw new Error("the seed-home audit found nothing");
      return ms;
    },
  },
]);
