// W5-style simulator throughput: 10,000 TCP connections (handshake, a small HTTP request and response, FIN
// handshake) from U through the seed-home router (masquerade + `ct state` filter) to the web server, on one event
// clock with every hop's datapath, host stacks and links, captures off. The figure is wall-clock ms for the
// whole run (target < 1 s); building the network is outside the timing.
import type { SeedHome } from "../src/sim/seed-home.fixture.js";
import { buildSeedHome } from "../src/sim/seed-home.fixture.js";
import { addressWords } from "../src/sim/simulation.js";
import { defineSuite, elapsedNs } from "./harness.js";

const CONNECTIONS = 10_000;
/** Connections open one every 50 µs of virtual time, so thousands are in flight at once. */
const SPACING_MS = 0.05;
const NS_PER_MS = 1e6;
const REQUEST = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: web\r\n\r\n");

let net: SeedHome | null = null;

export default defineSuite("sim", [
  {
    id: "sim.tcp-connections-10k-ms",
    unit: "ms",
    runs: 5,
    setup: () => {
      net = null;
    },
    run: () => {
      net = buildSeedHome({ capture: false, seed: 7 });
      const { sim, u } = net;
      const web = addressWords("203.0.113.80")!.words;
      let closed = 0;
      const start = process.hrtime.bigint();
      for (let i = 0; i < CONNECTIONS; i++) {
        sim.clock.at(i * SPACING_MS, () => {
          const r = u.stack.connect(4, web, 80, {
            onEstablished: (c) => c.send(REQUEST),
            onData: (c) => {
              c.close();
            },
            onClose: () => closed++,
          });
          if (!r.ok) throw new Error(`connect ${i}: ${r.error}`);
        });
      }
      sim.run();
      const ms = elapsedNs(start) / NS_PER_MS;
      if (closed !== CONNECTIONS) throw new Error(`only ${closed} of ${CONNECTIONS} connections completed`);
      return ms;
    },
  },
]);
