import { describe, expect, it } from "vitest";
import { fromHex } from "../../wire/bytes.js";
import { parseIpv4 } from "../../wire/address.js";
import { CtState, NONE, PacketMeta, Proto } from "../packet-meta.js";
import { fillPacketMeta } from "../packet-parse.js";
import { compileRuleset, Filter, newEvalContext } from "./index.js";
import type { Chain, Expr, Hook, Rule, Ruleset, Selector, Table, TraceEvent, Value, Verdict } from "./index.js";

const IFACES = ["lo", "br-lan", "eth0", "wg0"];
const LO = 0;
const LAN = 1;
const WAN = 2;

let line = 0;
const at = () => ({ source: "test.nft", line: ++line, column: 1 });
const rule = (...exprs: Expr[]): Rule => ({ origin: at(), exprs });
const match = (left: Selector, op: "==" | "!=" | "in" | "<" | ">", right: Value, mask?: Value): Expr => ({
  kind: "match",
  left,
  op,
  right,
  ...(mask ? { mask } : {}),
});
const sym = (name: string): Value => ({ kind: "symbol", name });
const str = (value: string): Value => ({ kind: "string", value });
const int = (value: number): Value => ({ kind: "int", value });
const addr = (a: string): Value => ({ kind: "address", addr: a });
const prefix = (a: string, len: number): Value => ({ kind: "prefix", addr: a, len });
const meta = (key: "iifname" | "oifname" | "l4proto" | "mark" | "nfproto" | "iif"): Selector => ({ kind: "meta", key });
const ct = (key: "state" | "status" | "mark"): Selector => ({ kind: "ct", key });
const tcpDport: Selector = { kind: "payload", protocol: "tcp", field: "dport" };
const ipSaddr: Selector = { kind: "payload", protocol: "ip", field: "saddr" };
const base = (
  name: string,
  hook: Hook,
  priority: number,
  policy: "accept" | "drop",
  rules: Rule[],
  type: "filter" | "nat" = "filter",
): Chain => ({
  name,
  origin: at(),
  base: { type, hook, priority, policy },
  rules,
});
const chain = (name: string, rules: Rule[]): Chain => ({ name, origin: at(), rules });
const table = (chains: Chain[], extra: Partial<Table> = {}): Table => ({
  family: "inet",
  name: "t",
  origin: at(),
  chains,
  ...extra,
});

function filterOf(rs: Ruleset): Filter {
  const c = compileRuleset(rs, { interfaces: IFACES });
  if (!c.ok) throw new Error(JSON.stringify(c.error));
  return new Filter(c.value);
}

interface Pkt {
  src?: string;
  dst?: string;
  proto?: number;
  sport?: number;
  dport?: number;
  iif?: number;
  oif?: number;
  state?: number;
  flags?: number;
  ctEntry?: number;
}
function packet(p: Pkt, m = new PacketMeta()): PacketMeta {
  m.reset();
  m.family = 4;
  m.saddr[0] = parseIpv4(p.src ?? "198.51.100.7")!;
  m.daddr[0] = parseIpv4(p.dst ?? "198.51.100.2")!;
  m.proto = p.proto ?? Proto.TCP;
  m.l4 = 20;
  m.length = 60;
  m.sport = p.sport ?? 40000;
  m.dport = p.dport ?? 22;
  m.tcpFlags = p.flags ?? 2;
  m.iif = p.iif ?? WAN;
  m.oif = p.oif ?? NONE;
  m.ctState = p.state ?? CtState.NEW;
  m.ctEntry = p.ctEntry ?? 0;
  return m;
}

const causeLine = (v: Verdict | null): number | string => {
  if (v === null) return "none";
  if (v.by.kind === "rule") return v.by.rule.origin.line;
  return v.by.kind === "policy" ? `policy ${v.by.chain.chain}` : "no-chain";
};

describe("fw4-style router (SEMANTICS §4.1)", () => {
  line = 0;
  const vmapRule = rule({
    kind: "vmap",
    key: ct("state"),
    map: {
      kind: "anonymous",
      entries: [
        { key: sym("established"), verdict: { kind: "accept" } },
        { key: sym("related"), verdict: { kind: "accept" } },
        { key: sym("invalid"), verdict: { kind: "drop" } },
      ],
    },
  });
  const tcpReset = rule(match(meta("l4proto"), "==", sym("tcp")), { kind: "reject", with: { type: "tcp-reset" } });
  const icmpx = rule({ kind: "reject", with: { type: "icmpx", code: "port-unreachable" } });
  const lanAccept = rule({ kind: "accept" });
  const rs: Ruleset = {
    tables: [
      table([
        base("input", "input", 0, "drop", [
          rule(match(meta("iifname"), "==", str("lo")), { kind: "accept" }),
          vmapRule,
          rule(match(meta("iifname"), "==", str("br-lan")), { kind: "jump", target: "input_lan" }),
          rule(match(meta("iifname"), "==", str("eth*")), { kind: "jump", target: "input_wan" }),
          rule({ kind: "jump", target: "handle_reject" }),
        ]),
        chain("input_lan", [lanAccept]),
        chain("input_wan", [
          rule(match({ kind: "payload", protocol: "udp", field: "dport" }, "==", int(68)), { kind: "accept" }),
          rule({ kind: "jump", target: "reject_from_wan" }),
        ]),
        chain("reject_from_wan", [rule({ kind: "jump", target: "handle_reject" })]),
        chain("handle_reject", [tcpReset, icmpx]),
      ]),
    ],
  };
  const f = filterOf(rs);
  const ctx = newEvalContext();

  it("accepts established traffic through the ct state vmap, naming that rule", () => {
    const r = f.evaluateHook("input", packet({ state: CtState.ESTABLISHED }), ctx);
    expect(r.verdict?.kind).toBe("accept");
    expect(causeLine(r.verdict)).toBe(vmapRule.origin.line);
  });
  it("drops invalid traffic through the vmap", () => {
    const r = f.evaluateHook("input", packet({ state: CtState.INVALID }), ctx);
    expect(r.verdict?.kind).toBe("drop");
    expect(causeLine(r.verdict)).toBe(vmapRule.origin.line);
  });
  it("rejects a new TCP SYN from the WAN with a TCP reset from handle_reject", () => {
    const r = f.evaluateHook("input", packet({}), ctx);
    expect(r.verdict).toMatchObject({ kind: "reject", reply: { kind: "tcp-reset" } });
    expect(causeLine(r.verdict)).toBe(tcpReset.origin.line);
  });
  it("rejects new UDP from the WAN with ICMP port-unreachable (icmpx → 3/3 for IPv4)", () => {
    const r = f.evaluateHook("input", packet({ proto: Proto.UDP, dport: 53 }), ctx);
    expect(r.verdict).toMatchObject({ kind: "reject", reply: { kind: "icmp", type: 3, code: 3 } });
    expect(causeLine(r.verdict)).toBe(icmpx.origin.line);
  });
  it("accepts DHCP renew on the WAN and anything from the LAN zone", () => {
    expect(f.evaluateHook("input", packet({ proto: Proto.UDP, dport: 68 }), ctx).verdict?.kind).toBe("accept");
    const r = f.evaluateHook("input", packet({ iif: LAN, src: "192.168.1.10" }), ctx);
    expect(causeLine(r.verdict)).toBe(lanAccept.origin.line);
  });
  it("accepts loopback first", () => {
    expect(f.evaluateHook("input", packet({ iif: LO }), ctx).verdict?.kind).toBe("accept");
  });
  it("emits nft-monitor-trace-like events only when a sink is given", () => {
    const events: TraceEvent[] = [];
    const tctx = { ...newEvalContext(), trace: (e: TraceEvent) => events.push(e) };
    f.evaluateHook("input", packet({ proto: Proto.UDP, dport: 53 }), tctx);
    const kinds = events.map((e) =>
      e.kind === "chain-enter" ? `enter ${e.chain.chain}` : e.kind === "rule" ? `rule ${e.verdict}` : e.kind,
    );
    expect(kinds).toEqual([
      "enter input",
      "rule jump",
      "enter input_wan",
      "rule jump",
      "enter reject_from_wan",
      "rule jump",
      "enter handle_reject",
      "rule reject",
    ]);
  });
  it("reads a real packet's bytes through fillPacketMeta", () => {
    // IPv4 198.51.100.7 → 198.51.100.2, TCP 40000 → 22, SYN.
    const bytes = fromHex("45000028000100004006265fc6336407c6336402" + "9c40001600000001000000005002ffffbf1a0000");
    const m = new PacketMeta();
    expect(fillPacketMeta(bytes, 0, bytes.length, m)).toBeNull();
    m.iif = WAN;
    m.ctState = CtState.NEW;
    expect(f.evaluateHook("input", m, ctx).verdict).toMatchObject({ kind: "reject", reply: { kind: "tcp-reset" } });
  });
});

describe("chain walk", () => {
  it("accept is not final across base chains; drop is", () => {
    line = 0;
    const dropper = rule(match(tcpDport, "==", int(22)), { kind: "drop" });
    const f = filterOf({
      tables: [
        table([
          base("early", "forward", -10, "accept", [rule({ kind: "accept" })]),
          base("late", "forward", 0, "accept", [dropper]),
        ]),
      ],
    });
    const r = f.evaluateHook("forward", packet({}), newEvalContext());
    expect(r.verdict?.kind).toBe("drop");
    expect(causeLine(r.verdict)).toBe(dropper.origin.line);
    expect(causeLine(f.evaluateHook("forward", packet({ dport: 80 }), newEvalContext()).verdict)).toBe("policy late");
    expect(causeLine(f.evaluateHook("output", packet({}), newEvalContext()).verdict)).toBe("no-chain");
  });
  it("orders base chains by priority, then by creation; ip6 tables do not see IPv4", () => {
    line = 0;
    const f = filterOf({
      tables: [
        { family: "ip6", name: "six", origin: at(), chains: [base("b", "input", -50, "drop", [])] },
        table([base("second", "input", 5, "drop", []), base("first", "input", 5, "accept", [])]),
      ],
    });
    expect(causeLine(f.evaluateHook("input", packet({}), newEvalContext()).verdict)).toBe("policy second");
  });
  it("jump returns, goto does not, return in a base chain applies the policy", () => {
    line = 0;
    const after = rule(match(tcpDport, "==", int(22)), { kind: "accept" });
    const f = filterOf({
      tables: [
        table([
          base("in", "input", 0, "drop", [
            rule(match(tcpDport, "==", int(1)), { kind: "return" }),
            rule(match(tcpDport, "==", int(2)), { kind: "goto", target: "sub" }),
            rule({ kind: "jump", target: "sub" }),
            after,
          ]),
          chain("sub", [
            rule(match(tcpDport, "==", int(3)), { kind: "accept" }),
            rule({ kind: "continue" }),
            rule({ kind: "return" }),
          ]),
        ]),
      ],
    });
    const ctx = newEvalContext();
    expect(causeLine(f.evaluateHook("input", packet({ dport: 22 }), ctx).verdict)).toBe(after.origin.line);
    expect(causeLine(f.evaluateHook("input", packet({ dport: 1 }), ctx).verdict)).toBe("policy in");
    // goto: sub returns with an empty stack, so the base chain's policy applies and `after` never runs.
    expect(causeLine(f.evaluateHook("input", packet({ dport: 2 }), ctx).verdict)).toBe("policy in");
    expect(f.evaluateHook("input", packet({ dport: 3 }), ctx).verdict?.kind).toBe("accept");
  });
});

describe("matches", () => {
  it("negation, ranges, comparisons and wildcards", () => {
    line = 0;
    const notSsh = rule(match(tcpDport, "!=", int(22)), { kind: "drop" });
    const high = rule(match({ kind: "payload", protocol: "th", field: "sport" }, "<", int(1024)), { kind: "drop" });
    const f = filterOf({ tables: [table([base("in", "input", 0, "accept", [notSsh, high])])] });
    const ctx = newEvalContext();
    expect(causeLine(f.evaluateHook("input", packet({ dport: 80 }), ctx).verdict)).toBe(notSsh.origin.line);
    expect(causeLine(f.evaluateHook("input", packet({ dport: 22, sport: 80 }), ctx).verdict)).toBe(high.origin.line);
    expect(causeLine(f.evaluateHook("input", packet({ dport: 22 }), ctx).verdict)).toBe("policy in");
    // `tcp dport != 22` carries the l4proto tcp dependency: UDP never matches it.
    expect(causeLine(f.evaluateHook("input", packet({ proto: Proto.UDP, dport: 80 }), ctx).verdict)).toBe("policy in");
  });
  it("named interval sets, anonymous sets and concatenations", () => {
    line = 0;
    const bySet = rule(match(ipSaddr, "==", { kind: "setref", name: "blocked" }), { kind: "drop" });
    const byConcat = rule(
      match({ kind: "concat", parts: [ipSaddr, tcpDport] }, "==", {
        kind: "set",
        elements: [
          { kind: "concat", parts: [addr("192.0.2.1"), int(22)] },
          { kind: "concat", parts: [prefix("203.0.113.0", 24), { kind: "range", lo: int(8000), hi: int(8999) }] },
        ],
      }),
      { kind: "accept" },
    );
    const f = filterOf({
      tables: [
        table([base("in", "input", 0, "drop", [bySet, byConcat])], {
          sets: [
            {
              name: "blocked",
              origin: at(),
              keyType: ["ipv4_addr"],
              flags: ["interval"],
              elements: [prefix("198.51.100.0", 25), { kind: "range", lo: addr("10.0.0.5"), hi: addr("10.0.0.9") }],
            },
          ],
        }),
      ],
    });
    const ctx = newEvalContext();
    expect(causeLine(f.evaluateHook("input", packet({ src: "198.51.100.127" }), ctx).verdict)).toBe(bySet.origin.line);
    expect(causeLine(f.evaluateHook("input", packet({ src: "10.0.0.9" }), ctx).verdict)).toBe(bySet.origin.line);
    expect(causeLine(f.evaluateHook("input", packet({ src: "10.0.0.10" }), ctx).verdict)).toBe("policy in");
    expect(causeLine(f.evaluateHook("input", packet({ src: "192.0.2.1", dport: 22 }), ctx).verdict)).toBe(
      byConcat.origin.line,
    );
    expect(causeLine(f.evaluateHook("input", packet({ src: "192.0.2.1", dport: 23 }), ctx).verdict)).toBe("policy in");
    expect(causeLine(f.evaluateHook("input", packet({ src: "203.0.113.77", dport: 8999 }), ctx).verdict)).toBe(
      byConcat.origin.line,
    );
    expect(causeLine(f.evaluateHook("input", packet({ src: "203.0.114.77", dport: 8999 }), ctx).verdict)).toBe(
      "policy in",
    );
  });
  it("named verdict maps and tcp flags with a mask", () => {
    line = 0;
    const synOnly = rule(
      match({ kind: "payload", protocol: "tcp", field: "flags" }, "==", sym("syn"), {
        kind: "set",
        elements: [sym("fin"), sym("syn"), sym("rst"), sym("ack")],
      }),
      {
        kind: "vmap",
        key: tcpDport,
        map: { kind: "named", name: "ports" },
      },
    );
    const f = filterOf({
      tables: [
        table([base("in", "input", 0, "accept", [synOnly]), chain("ssh", [rule({ kind: "drop" })])], {
          maps: [
            {
              name: "ports",
              origin: at(),
              keyType: ["inet_service"],
              dataType: "verdict",
              elements: [{ key: int(22), data: { kind: "verdict", verdict: { kind: "jump", target: "ssh" } } }],
            },
          ],
        }),
      ],
    });
    const ctx = newEvalContext();
    expect(f.evaluateHook("input", packet({ dport: 22, flags: 0x02 | 0x08 }), ctx).verdict?.kind).toBe("drop");
    expect(f.evaluateHook("input", packet({ dport: 22, flags: 0x12 }), ctx).verdict?.kind).toBe("accept");
    expect(f.evaluateHook("input", packet({ dport: 23, flags: 0x02 }), ctx).verdict?.kind).toBe("accept");
  });
  it("fib saddr . iif oif missing drops off-path sources", () => {
    line = 0;
    const rpf = rule(match({ kind: "fib", flags: ["saddr", "iif"], result: "oif" }, "==", sym("missing")), {
      kind: "drop",
    });
    const f = filterOf({ tables: [table([base("pre", "prerouting", -150, "accept", [rpf])])] });
    const lan = parseIpv4("192.168.1.0")!;
    const ctx = {
      ...newEvalContext(),
      fib: {
        // Reverse path: 192.168.1.0/24 is reachable only through br-lan.
        oif: (m: PacketMeta) => ((m.saddr[0] & 0xffffff00) >>> 0 === lan && m.iif === LAN ? LAN : NONE),
        addrType: () => 1,
      },
    };
    expect(causeLine(f.evaluateHook("prerouting", packet({ src: "192.168.1.9", iif: WAN }), ctx).verdict)).toBe(
      rpf.origin.line,
    );
    expect(f.evaluateHook("prerouting", packet({ src: "192.168.1.9", iif: LAN }), ctx).verdict?.kind).toBe("accept");
  });
});

describe("statements", () => {
  it("counters, meta mark set (seen by later rules), ct mark set, log, notrack, helper", () => {
    line = 0;
    const counted = rule(
      match(tcpDport, "==", int(22)),
      { kind: "counter" },
      { kind: "mark-set", target: "meta", value: 7 },
    );
    const byMark = rule(
      match(meta("mark"), "==", int(7)),
      { kind: "mark-set", target: "ct", value: 9 },
      { kind: "log", prefix: "ssh " },
      { kind: "notrack" },
      { kind: "ct-helper-set", name: "ftp" },
    );
    const f = filterOf({ tables: [table([base("raw", "prerouting", -300, "accept", [counted, byMark])])] });
    const m = packet({});
    const r = f.evaluateHook("prerouting", m, newEvalContext());
    expect(m.mark).toBe(7);
    expect(m.notrack).toBe(true);
    expect(r).toMatchObject({ ctMarkSet: true, ctMark: 9, helper: "ftp", notrack: true });
    expect(r.logs.map((l) => l.prefix)).toEqual(["ssh "]);
    f.evaluateHook("prerouting", packet({}), newEvalContext());
    f.evaluateHook("prerouting", packet({ dport: 80 }), newEvalContext());
    const idx = f.ruleset.rules.findIndex((x) => x.origin === counted.origin);
    expect(f.packets[idx]).toBe(2);
    expect(f.bytes[idx]).toBe(120);
  });
  it("limit is a token bucket on virtual time (fw4 syn_flood: return under the rate, else drop)", () => {
    line = 0;
    const f = filterOf({
      tables: [
        table([
          base("in", "input", 0, "accept", [rule({ kind: "jump", target: "syn_flood" })]),
          chain("syn_flood", [
            rule(
              { kind: "limit", rate: 25, per: "second", burst: 5, unit: "packets", over: false },
              { kind: "return" },
            ),
            rule({ kind: "drop" }),
          ]),
        ]),
      ],
    });
    const ctx = newEvalContext();
    const verdicts = [];
    for (let i = 0; i < 7; i++) verdicts.push(f.evaluateHook("input", packet({}), ctx).verdict?.kind);
    expect(verdicts).toEqual(["accept", "accept", "accept", "accept", "accept", "drop", "drop"]);
    ctx.now += 40; // one token per 40 ms at 25/s
    expect(f.evaluateHook("input", packet({}), ctx).verdict?.kind).toBe("accept");
    expect(f.evaluateHook("input", packet({}), ctx).verdict?.kind).toBe("drop");
  });
  it("nat chains run only for first packets and return the NAT request", () => {
    line = 0;
    const dnat = rule(match(meta("iifname"), "==", str("eth0")), match(tcpDport, "==", int(8080)), {
      kind: "dnat",
      family: "ip",
      addr: addr("192.168.1.10"),
      port: { lo: 80, hi: 80 },
    });
    const f = filterOf({
      tables: [
        table([
          base("dstnat", "prerouting", -100, "accept", [dnat], "nat"),
          base(
            "srcnat",
            "postrouting",
            100,
            "accept",
            [rule(match(meta("oifname"), "==", str("eth0")), { kind: "masquerade" })],
            "nat",
          ),
        ]),
      ],
    });
    const ctx = newEvalContext();
    const r = f.evaluateHook("prerouting", packet({ dport: 8080 }), ctx);
    expect(r.nat).toMatchObject({ kind: "dnat", family: 4, portMin: 80, portMax: 80 });
    expect(r.nat?.addrMin?.[0]).toBe(parseIpv4("192.168.1.10"));
    expect(causeLine(r.verdict)).toBe(dnat.origin.line);
    ctx.firstPacket = false;
    expect(f.evaluateHook("prerouting", packet({ dport: 8080 }), ctx).nat).toBeNull();
    ctx.firstPacket = true;
    expect(f.evaluateHook("postrouting", packet({ oif: WAN }), ctx).nat?.kind).toBe("masquerade");
  });
});

describe("compile errors (what nft refuses at load time)", () => {
  const err = (rs: Ruleset): string => {
    const c = compileRuleset(rs, { interfaces: IFACES });
    return c.ok ? "ok" : c.error.code;
  };
  it("finds loops, unknown chains and sets, deep jumps, misplaced NAT, unknown interfaces", () => {
    expect(
      err({
        tables: [
          table([
            base("a", "input", 0, "accept", [rule({ kind: "jump", target: "b" })]),
            chain("b", [rule({ kind: "goto", target: "a" })]),
          ]),
        ],
      }),
    ).toBe("chain-loop");
    expect(err({ tables: [table([base("a", "input", 0, "accept", [rule({ kind: "jump", target: "nope" })])])] })).toBe(
      "unknown-chain",
    );
    expect(
      err({
        tables: [table([base("a", "input", 0, "accept", [rule(match(ipSaddr, "==", { kind: "setref", name: "x" }))])])],
      }),
    ).toBe("unknown-set");
    const deep = Array.from({ length: 17 }, (_, i) =>
      chain(`c${i}`, i < 16 ? [rule({ kind: "jump", target: `c${i + 1}` })] : []),
    );
    expect(
      err({ tables: [table([base("a", "input", 0, "accept", [rule({ kind: "jump", target: "c0" })]), ...deep])] }),
    ).toBe("jump-depth");
    expect(err({ tables: [table([base("a", "forward", 0, "accept", [rule({ kind: "masquerade" })])])] })).toBe(
      "nat-outside-nat-chain",
    );
    expect(
      err({ tables: [table([base("a", "prerouting", -100, "accept", [rule({ kind: "masquerade" })], "nat")])] }),
    ).toBe("nat-wrong-hook");
    expect(
      err({ tables: [table([base("a", "input", 0, "accept", [rule(match(meta("iif"), "==", str("eth9")))])])] }),
    ).toBe("unknown-interface");
    expect(
      err({ tables: [table([base("a", "input", 0, "accept", [rule(match(ct("state"), "==", sym("bogus")))])])] }),
    ).toBe("unknown-symbol");
  });
});

describe("reject with tcp reset", () => {
  it("matches only TCP, as nft's implicit `meta l4proto tcp` dependency makes it", () => {
    line = 0;
    const resetRule = rule({ kind: "reject", with: { type: "tcp-reset" } });
    const f = filterOf({ tables: [table([base("input", "input", 0, "drop", [resetRule])])] });
    const ctx = newEvalContext();
    const tcp = f.evaluateHook("input", packet({ proto: Proto.TCP }), ctx).verdict;
    expect(tcp).toMatchObject({ kind: "reject", reply: { kind: "tcp-reset" } });
    expect(causeLine(tcp)).toBe(resetRule.origin.line);
    // A UDP packet falls through the rule to the chain's policy instead of being answered with a reset.
    const udp = f.evaluateHook("input", packet({ proto: Proto.UDP, dport: 53 }), ctx).verdict;
    expect(udp).toMatchObject({ kind: "drop" });
    expect(causeLine(udp)).toBe("policy input");
  });
});
