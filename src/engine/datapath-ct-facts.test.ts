// The datapath copies an entry's status, mark and helper into the evaluator's context only when the ruleset in
// force reads them (`ct status`, `ct mark`, `ct helper`); a ruleset installed at runtime must see them from its
// first packet on.
import { describe, expect, it } from "vitest";
import { rulesetReadsCtFacts } from "./filter/index.js";
import type { Expr, Ruleset } from "./filter/index.js";
import {
  ACCEPT,
  LAN,
  RecordingSink,
  SeedLine,
  WAN,
  match,
  rule,
  seedRouter,
  seedRuleset,
  sym,
  int,
  tcpPacket,
} from "./datapath.fixture.js";
import { TcpFlag } from "./packet-meta.js";

const ctStatusSnat: Expr = match({ kind: "ct", key: "status" }, sym("snat"), "in");
const ctMark = (v: number): Expr => match({ kind: "ct", key: "mark" }, int(v));

/** seed-home with `forward` replaced by one accept rule and a drop policy. */
function forwardOnly(...exprs: Expr[]): Ruleset {
  const rs = seedRuleset();
  const table = rs.tables[0];
  return {
    tables: [
      {
        ...table,
        chains: table.chains.map((c) =>
          c.name === "forward" ? { ...c, rules: [rule(SeedLine.FORWARD_CT, ...exprs, ACCEPT)] } : c,
        ),
      },
    ],
  };
}

describe("ct facts in the evaluation context", () => {
  it("knows which rulesets read them", () => {
    expect(rulesetReadsCtFacts(seedRuleset())).toBe(false);
    expect(rulesetReadsCtFacts(forwardOnly(ctStatusSnat))).toBe(true);
    expect(rulesetReadsCtFacts(forwardOnly(ctMark(0)))).toBe(true);
    expect(
      rulesetReadsCtFacts(forwardOnly(match({ kind: "ct", key: "helper" }, { kind: "string", value: "ftp" }))),
    ).toBe(true);
    expect(rulesetReadsCtFacts(forwardOnly(match({ kind: "ct", key: "direction" }, sym("original"))))).toBe(false);
    const vmap: Expr = {
      kind: "vmap",
      key: {
        kind: "concat",
        parts: [
          { kind: "meta", key: "iifname" },
          { kind: "ct", key: "mark" },
        ],
      },
      map: { kind: "anonymous", entries: [] },
    };
    expect(rulesetReadsCtFacts(forwardOnly(vmap))).toBe(true);
  });

  it("a ruleset installed mid-connection reads the entry's status and mark on its first packet", () => {
    const dp = seedRouter();
    const sink = new RecordingSink();
    const syn = tcpPacket("192.168.1.20", 40000, "203.0.113.9", 443, { flags: TcpFlag.SYN, seq: 1 });
    expect(dp.receive(syn, 0, syn.length, LAN, 0, sink).kind).toBe("forwarded");
    const synAck = tcpPacket("203.0.113.9", 443, "198.51.100.2", 40000, {
      flags: TcpFlag.SYN | TcpFlag.ACK,
      seq: 100,
      ack: 2,
    });
    expect(dp.receive(synAck, 0, synAck.length, WAN, 1, sink).kind).toBe("forwarded");
    const ack = () => tcpPacket("192.168.1.20", 40000, "203.0.113.9", 443, { flags: TcpFlag.ACK, seq: 2, ack: 101 });

    // The masqueraded flow has SRC_NAT: accepted by `ct status snat`.
    expect(dp.replaceRuleset(forwardOnly(ctStatusSnat)).ok).toBe(true);
    let p = ack();
    expect(dp.receive(p, 0, p.length, LAN, 2, sink)).toMatchObject({ kind: "forwarded", oif: WAN });
    // Mark 0 matches `ct mark 0`, not `ct mark 7`.
    expect(dp.replaceRuleset(forwardOnly(ctMark(7))).ok).toBe(true);
    p = ack();
    expect(dp.receive(p, 0, p.length, LAN, 3, sink)).toMatchObject({ kind: "dropped", hook: "forward" });
    expect(dp.replaceRuleset(forwardOnly(ctMark(0))).ok).toBe(true);
    p = ack();
    expect(dp.receive(p, 0, p.length, LAN, 4, sink)).toMatchObject({ kind: "forwarded", oif: WAN });
  });
});
