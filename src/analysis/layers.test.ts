import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import type { Chain, Ruleset } from "../engine/filter/index.js";
import { loadNetwork } from "../model/index.js";
import { acceptAllFilter, countLayers } from "./layers.js";

const example = async (file: string) => {
  const { network } = await loadNetwork(new URL(`../../examples/${file}`, import.meta.url).pathname);
  if (network === null) throw new Error(`${file} does not load`);
  return network;
};

describe("countLayers (ablation on the twin)", () => {
  it("homelab: the forwarded NAS admin UI has no layer, its unforwarded ssh has the router filter", async () => {
    const layers = countLayers(await example("homelab.yaml"));
    const by = (s: string) => layers.find((x) => x.service === s);
    expect(by("nas:5000/tcp")?.layers).toEqual([]);
    expect(by("nas:5000/tcp")?.positions.find((p) => p.from === "internet")).toEqual({
      from: "internet",
      reachable: true,
      layers: [],
    });
    expect(by("nas:22/tcp")?.layers).toEqual(["router filter"]);
  }, 30_000);

  it("small-office: guests are kept from the file server by both the VLAN rules and its own firewall", async () => {
    const files = countLayers(await example("small-office.yaml")).find((x) => x.service === "files:445/tcp");
    expect(files?.positions.find((p) => p.from === "lan:guests")?.layers).toEqual(["router filter", "host firewall"]);
    // Staff are meant to reach it: nothing stops them, so nothing counts from there.
    expect(files?.positions.find((p) => p.from === "lan:staff")?.layers).toEqual([]);
  }, 30_000);
});

const chainArb: fc.Arbitrary<Chain> = fc.record({
  name: fc.stringMatching(/^[a-z]{1,8}$/),
  origin: fc.constant({ source: "t.nft", line: 1, column: 1 }),
  base: fc.option(
    fc.record({
      type: fc.constantFrom("filter" as const, "nat" as const, "route" as const),
      hook: fc.constantFrom("prerouting" as const, "input" as const, "forward" as const, "output" as const),
      priority: fc.integer({ min: -300, max: 300 }),
      policy: fc.constantFrom("accept" as const, "drop" as const),
    }),
    { nil: undefined },
  ),
  rules: fc.array(fc.constant({ origin: { source: "t.nft", line: 2, column: 3 }, exprs: [] }), { maxLength: 3 }),
});

describe("acceptAllFilter", () => {
  test.prop([fc.array(chainArb, { maxLength: 6 })])(
    "empties filter base chains, keeps NAT and regular chains",
    (chains) => {
      const rs: Ruleset = {
        tables: [
          { family: "inet", name: "t", origin: chains[0]?.origin ?? { source: "t", line: 1, column: 1 }, chains },
        ],
      };
      const out = acceptAllFilter(rs).tables[0].chains;
      expect(out.length).toBe(chains.length);
      out.forEach((c, i) => {
        const before = chains[i];
        if (before.base === undefined || before.base.type === "nat") expect(c).toEqual(before);
        else {
          expect(c.rules).toEqual([]);
          expect(c.base?.policy).toBe("accept");
          expect(c.base?.hook).toBe(before.base.hook);
        }
      });
    },
  );
});
