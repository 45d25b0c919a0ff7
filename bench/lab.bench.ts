// Whole-lab timings on the real kernel (issue 7: `lab up` of seed-home < 5 s, `lab down` < 2 s): wall-clock ms of
// `labUp` (namespaces, veths, addresses, routes, sysctls, nft rulesets, listeners ready) and of `labDown` (processes
// stopped, namespaces deleted). Needs root, `ip netns` and `nft`; without them the suite has no measures and says
// why on stderr. Namespaces carry a per-run prefix, so a lab the user has up is never touched.
import { loadNetwork } from "../src/model/index.js";
import type { Network } from "../src/model/index.js";
import { labDown, labUp, probeLab } from "../src/lab/index.js";
import { defineSuite } from "./harness.js";
import type { Measure } from "./harness.js";

const SEED_HOME = new URL("../examples/seed-home.yaml", import.meta.url).pathname;
const PREFIX = `mlab-b${process.pid}`;
const RUNS = 5;

async function seedHome(): Promise<Network> {
  const loaded = await loadNetwork(SEED_HOME);
  if (loaded.network === null) throw new Error("examples/seed-home.yaml does not load");
  return loaded.network;
}

async function up(network: Network): Promise<number> {
  const r = await labUp(network, { prefix: PREFIX, handleSignals: false });
  if (!r.ok) {
    await labDown(network, { prefix: PREFIX });
    throw new Error(`lab up failed: ${r.error.message}`);
  }
  return r.value.elapsedMs;
}

async function down(network: Network): Promise<number> {
  const r = await labDown(network, { prefix: PREFIX });
  if (!r.ok) throw new Error(`lab down failed: ${r.error.message}`);
  return r.value.elapsedMs;
}

const caps = await probeLab();
let network: Network | null = null;
const measures: Measure[] = [
  {
    id: "lab.up-seed-home-ms",
    unit: "ms",
    runs: RUNS,
    setup: async () => {
      network = await seedHome();
      await down(network);
    },
    run: async () => {
      const ms = await up(network!);
      await down(network!);
      return ms;
    },
  },
  {
    id: "lab.down-seed-home-ms",
    unit: "ms",
    runs: RUNS,
    setup: async () => {
      network = await seedHome();
      await down(network);
    },
    run: async () => {
      await up(network!);
      return down(network!);
    },
  },
];

if (caps.missing !== null) process.stderr.write(`bench lab: skipped: ${caps.missing}\n`);

export default defineSuite("lab", caps.missing === null ? measures : []);
