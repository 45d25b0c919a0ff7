import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import type { Ruleset } from "../../engine/filter/ir.js";
import { probeSandbox, withNetns } from "./kernel-sandbox.js";
import { DEPENDENCIES, MSS_CLAMP, SETS_MAPS_NAT, THREE_FAMILIES } from "./json-reader.fixture.js";
import { readNftJson } from "./json-reader.js";
import { writeNftJson } from "./json-writer.js";
import { normalizeRuleset } from "./normalize.js";

const FIXTURES = { SETS_MAPS_NAT, THREE_FAMILIES, DEPENDENCIES, MSS_CLAMP };
const read = (json: string): Ruleset => {
  const r = readNftJson(json, { source: "k.json" });
  expect(r.diagnostics).toEqual([]);
  return r.ruleset!;
};
const sandbox = probeSandbox();

describe("writeNftJson", () => {
  it.each(Object.entries(FIXTURES))("%s: write → read gives the same IR, with the kernel's objects", (_name, f) => {
    const ir = read(f.json);
    const ours = writeNftJson(ir);
    expect(normalizeRuleset(read(ours))).toEqual(normalizeRuleset(ir));
    // Apart from handles and the metainfo version, every object is the kernel's own.
    const strip = (json: string): unknown[] =>
      (JSON.parse(json) as { nftables: Record<string, Record<string, unknown>>[] }).nftables
        .filter((o) => !("metainfo" in o))
        .map((o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, { ...v, handle: undefined }])));
    const kernel = strip(f.json);
    for (const o of strip(ours)) expect(kernel).toContainEqual(o);
  });

  it.each(Object.entries(FIXTURES))("%s: nft -j -f loads our JSON and stores the same ruleset", (_name, f) => {
    if (sandbox.missing !== null) {
      console.warn(`skipped: needs ${sandbox.missing}`);
      return;
    }
    const ours = writeNftJson(read(f.json));
    // nft -j cannot read JSON from a pipe (it opens /dev/stdin as a file), so the JSON goes through a file.
    const dir = mkdtempSync(join(tmpdir(), "mallory-nft-json-"));
    const file = join(dir, "ruleset.json");
    writeFileSync(file, ours);
    onTestFinished(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    withNetns((ns) => {
      expect(ns.nft(["-j", "-c", "-f", file]).stderr).toBe("");
      expect(ns.nft(["-j", "-f", file]).status).toBe(0);
      // The IR keeps sets before maps, so only the order of set and map declarations may differ.
      const listed = ns.nft(["-j", "list", "ruleset"]).stdout;
      expect(normalizeRuleset(read(listed))).toEqual(normalizeRuleset(read(f.json)));
    });
  });
});

describe("writeNftJson object order", () => {
  const O = { source: "t", line: 1, column: 1 };
  const vmapFirst: Ruleset = {
    tables: [
      {
        family: "inet",
        name: "t",
        origin: O,
        maps: [
          {
            name: "guard",
            origin: O,
            keyType: ["inet_service"],
            dataType: "verdict",
            elements: [
              {
                key: { kind: "int", value: 22 },
                data: { kind: "verdict", verdict: { kind: "jump", target: "ssh_guard" } },
              },
            ],
          },
        ],
        chains: [
          {
            name: "input",
            origin: O,
            base: { type: "filter", hook: "input", priority: 0, policy: "accept" },
            rules: [
              {
                origin: O,
                exprs: [
                  {
                    kind: "vmap",
                    key: { kind: "payload", protocol: "tcp", field: "dport" },
                    map: { kind: "named", name: "guard" },
                  },
                ],
              },
            ],
          },
          { name: "ssh_guard", origin: O, rules: [{ origin: O, exprs: [{ kind: "drop" }] }] },
        ],
      },
    ],
  };

  it("declares every chain before a map whose elements jump to it, and maps before the rules using them", () => {
    const kinds = (JSON.parse(writeNftJson(vmapFirst)) as { nftables: Record<string, unknown>[] }).nftables.map(
      (o) => Object.keys(o)[0],
    );
    expect(kinds).toEqual(["metainfo", "table", "chain", "chain", "map", "rule", "rule"]);
  });

  it("is accepted by nft -j -c when a verdict map jumps to a chain", () => {
    if (sandbox.missing !== null) {
      console.warn(`skipped: needs ${sandbox.missing}`);
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), "mallory-nft-json-"));
    const file = join(dir, "vmap.json");
    writeFileSync(file, writeNftJson(vmapFirst));
    onTestFinished(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    withNetns((ns) => {
      const out = ns.nft(["-j", "-c", "-f", file]);
      expect(out.stderr).toBe("");
      expect(out.status).toBe(0);
    });
  });
});
