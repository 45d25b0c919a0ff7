// The kernel is the referee (issue 7): random packet sequences are replayed through a real Linux router in three
// network namespaces and through the engine, and must give the same packets out (side, addresses, ports or the
// same port-selection rule, TTL, valid checksums) and the same conntrack entries (tuples, TCP state, flags).
// Skipped, with the reason in the test name, only without root, namespaces, nft, python3, conntrack or ethtool.

import { describe, expect, it } from "vitest";
import { generateScenario } from "./generator.js";
import { KernelRouter } from "./kernel-rig.js";
import { kernelRigSkip, useKernelRig } from "./kernel-rig.fixture.js";
import { engineRouterFor, firstDifference, replay } from "./replay.js";
import { variantRuleset } from "./scenario.js";

const { skip, needs } = kernelRigSkip();
const SEQUENCES = 240;

/** Seeds that once disagreed, each with the engine fix (or rig fix) that made them agree. */
const REGRESSIONS: readonly { readonly seed: number; readonly what: string }[] = [
  { seed: 30, what: "ICMP port unreachable carries TOS 0xc0 (icmp_send precedence; engine reject.ts)" },
  { seed: 175, what: "null binding on a clashing reply tuple searches a source port (engine nat.ts)" },
  { seed: 84, what: "same, UDP from a WAN host straight to a LAN address" },
  { seed: 63, what: "a packet to the snat address from outside is forwarded back out of the WAN (rig neighbour)" },
  { seed: 91, what: "no late 'host unreachable' from a previous case's ARP queue (rig neighbour)" },
];

describe("differential: engine vs kernel router", () => {
  const rig = useKernelRig(skip);

  async function disagreement(seed: number): Promise<string | null> {
    const s = generateScenario(seed);
    const kernel = await replay(new KernelRouter(rig(), (x) => variantRuleset(x.variant)), s);
    const engine = await replay(
      engineRouterFor((x) => variantRuleset(x.variant)),
      s,
    );
    const d = firstDifference(engine, kernel);
    return d === null ? null : `${s.name} ${JSON.stringify(s.variant)}\n${d}`;
  }

  for (const r of REGRESSIONS)
    it.skipIf(skip)(`regression seed-${String(r.seed)}: ${r.what}${needs}`, async () => {
      expect(await disagreement(r.seed)).toBeNull();
    });

  it.skipIf(skip)(
    `${String(SEQUENCES)} random sequences give the same packets and conntrack entries${needs}`,
    async () => {
      const failures: string[] = [];
      let agreed = 0;
      for (let seed = 1; seed <= SEQUENCES; seed++) {
        const d = await disagreement(seed);
        if (d !== null) failures.push(d);
        else agreed++;
      }
      console.log(`differential: ${String(agreed)}/${String(SEQUENCES)} sequences agree`);
      expect(failures).toEqual([]);
    },
    180_000,
  );

  it.skipIf(skip)(`exercises what it claims: forwarding both ways, NAT, drops and conntrack${needs}`, async () => {
    // Guards against a rig that sees nothing (every packet "dropped" on both sides would agree trivially).
    let out = 0;
    let lanOut = 0;
    let silent = 0;
    let entries = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const s = generateScenario(seed);
      const run = await replay(new KernelRouter(rig(), (x) => variantRuleset(x.variant)), s);
      for (const st of run.steps) {
        if (st.outputs.length === 0) silent++;
        out += st.outputs.filter((o) => o.startsWith("wan ") && !o.includes("id=local")).length;
        lanOut += st.outputs.filter((o) => o.startsWith("lan ")).length;
      }
      entries += run.conntrack.length;
    }
    expect(out).toBeGreaterThan(10);
    expect(lanOut).toBeGreaterThan(5);
    expect(silent).toBeGreaterThan(10);
    expect(entries).toBeGreaterThan(10);
  });
});
