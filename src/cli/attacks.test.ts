// `mallory attacks`: the catalogue as an aligned table and as {"attacks":[{id,capability,summary}]}, both from the
// command line and from the library.

import { describe, expect, it } from "vitest";
import { catalogue } from "../attacks/index.js";
import type { Attack } from "../attacks/index.js";
import { attacksCommand, listAttacks } from "./attacks.js";
import { runCli } from "./program.js";

const fake = (id: string, capability: Attack["capability"], summary: string): Attack => ({
  id,
  capability,
  summary,
  plan: () => ({ plans: [] }),
  run: () => ({ ok: false, error: { kind: "attack-setup", message: "not run" } }),
});

describe("mallory attacks", () => {
  it("aligns id, capability and summary under a heading", () => {
    const text = attacksCommand(false, [fake("a", "remote", "first"), fake("longer-id", "lan-device", "second")]);
    expect(text).toBe(
      ["ID         CAPABILITY  SUMMARY", "a          remote      first", "longer-id  lan-device  second", ""].join(
        "\n",
      ),
    );
  });

  it("prints the JSON form with exactly id, capability and summary per attack", () => {
    const doc = JSON.parse(attacksCommand(true, [fake("x", "user-code", "does x")])) as unknown;
    expect(doc).toEqual({ attacks: [{ id: "x", capability: "user-code", summary: "does x" }] });
  });

  it("lists the whole catalogue, including this engineer's six attacks", () => {
    const ids = listAttacks().map((a) => a.id);
    expect(ids).toEqual(catalogue.map((a) => a.id));
    for (const id of [
      "inbound-scan",
      "port-forward-exposure",
      "lateral-movement",
      "rogue-device",
      "ipv6-no-nat",
      "c2-beacon",
    ])
      expect(ids).toContain(id);
  });

  it("runs from the command line, text and --json", async () => {
    let out = "";
    const io = { out: (s: string) => (out += s), err: () => undefined, color: false };
    expect(await runCli(["attacks", "--json"], io)).toBe(0);
    const doc = JSON.parse(out) as { attacks: { id: string; capability: string; summary: string }[] };
    expect(doc.attacks.find((a) => a.id === "c2-beacon")).toEqual({
      id: "c2-beacon",
      capability: "user-code",
      summary: catalogue.find((a) => a.id === "c2-beacon")?.summary,
    });
    out = "";
    expect(await runCli(["attacks"], io)).toBe(0);
    expect(out.split("\n")[0]).toMatch(/^ID +CAPABILITY +SUMMARY$/);
    expect(out).toMatch(/^inbound-scan +remote +SYN and UDP probes/m);
  });
});
