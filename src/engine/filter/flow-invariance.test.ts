import { describe, expect, it } from "vitest";
import { fc, test as fcTest } from "@fast-check/vitest";
import {
  ACCEPT,
  DROP,
  addr,
  at,
  baseChain,
  ctState,
  iifname,
  int,
  match,
  oifname,
  rule,
  seedRuleset,
  str,
  sym,
} from "../datapath.fixture.js";
import { compileRuleset } from "./compile.js";
import { forwardPathFlowInvariance, selectorInvariant } from "./flow-invariance.js";
import type {
  Chain,
  Expr,
  Hook,
  NamedMap,
  Rule,
  Ruleset,
  Selector,
  Statement,
  Table,
  TableFamily,
  Value,
} from "./ir.js";

const INTERFACES = ["wan", "lan"];

const table = (family: TableFamily, chains: Chain[], maps?: NamedMap[]): Table => ({
  family,
  name: "t",
  origin: at(1),
  chains,
  ...(maps === undefined ? {} : { maps }),
});
const regular = (name: string, rules: Rule[]): Chain => ({ name, origin: at(20), rules });
const forward = (...rules: Rule[]): Chain => baseChain("forward", 2, "filter", "forward", 0, "drop", rules);
const one = (t: Table): Ruleset => ({ tables: [t] });

/** The ruleset compiles: the IR in these tests is something the datapath would accept. */
function expectCompiles(rs: Ruleset): void {
  const compiled = compileRuleset(rs, { interfaces: INTERFACES });
  expect(compiled.ok ? "ok" : compiled.error.message).toBe("ok");
}

const ipTtl: Selector = { kind: "payload", protocol: "ip", field: "ttl" };
const ipLength: Selector = { kind: "payload", protocol: "ip", field: "length" };
const ip6Hoplimit: Selector = { kind: "payload", protocol: "ip6", field: "hoplimit" };
const ip6Length: Selector = { kind: "payload", protocol: "ip6", field: "length" };
const ip6Nexthdr: Selector = { kind: "payload", protocol: "ip6", field: "nexthdr" };
const tcpFlags: Selector = { kind: "payload", protocol: "tcp", field: "flags" };
const ipSaddr: Selector = { kind: "payload", protocol: "ip", field: "saddr" };
const ip6Saddr: Selector = { kind: "payload", protocol: "ip6", field: "saddr" };
const tcpDport: Selector = { kind: "payload", protocol: "tcp", field: "dport" };

const limit: Statement = { kind: "limit", rate: 10, per: "second", burst: 0, unit: "packets", over: false };
const tcpSyn: Expr = match(tcpFlags, sym("syn"));

/** Each per-packet selector with the family whose table it naturally sits in, a value and a concat partner. */
const PER_PACKET: readonly {
  readonly name: string;
  readonly family: "ip" | "ip6" | "inet";
  readonly sel: Selector;
  readonly value: Value;
  readonly partner: Selector;
  readonly partnerValue: Value;
}[] = [
  { name: "ip ttl", family: "ip", sel: ipTtl, value: int(1), partner: ipSaddr, partnerValue: addr("192.0.2.1") },
  { name: "ip length", family: "ip", sel: ipLength, value: int(60), partner: ipSaddr, partnerValue: addr("192.0.2.1") },
  {
    name: "ip6 hoplimit",
    family: "ip6",
    sel: ip6Hoplimit,
    value: int(1),
    partner: ip6Saddr,
    partnerValue: addr("2001:db8::1"),
  },
  {
    name: "ip6 length",
    family: "ip6",
    sel: ip6Length,
    value: int(40),
    partner: ip6Saddr,
    partnerValue: addr("2001:db8::1"),
  },
  {
    name: "ip6 nexthdr",
    family: "ip6",
    sel: ip6Nexthdr,
    value: int(6),
    partner: ip6Saddr,
    partnerValue: addr("2001:db8::1"),
  },
  { name: "tcp flags", family: "inet", sel: tcpFlags, value: int(2), partner: tcpDport, partnerValue: int(22) },
];

/** What the answer must be when a family's forward path is dirty, by the family of the table holding it. */
const DIRTY_ANSWER = {
  ip: { v4: false, v6: true },
  ip6: { v4: true, v6: false },
  inet: { v4: false, v6: false },
} as const;

const STATEFUL: readonly { readonly name: string; readonly stmt: Statement }[] = [
  { name: "log", stmt: { kind: "log", prefix: "fwd " } },
  { name: "limit", stmt: limit },
  { name: "meta mark set", stmt: { kind: "mark-set", target: "meta", value: 1 } },
  { name: "ct mark set", stmt: { kind: "mark-set", target: "ct", value: 1 } },
  { name: "notrack", stmt: { kind: "notrack" } },
  { name: "ct helper set", stmt: { kind: "ct-helper-set", name: "ftp" } },
  { name: "tcp option maxseg size set rt mtu", stmt: { kind: "tcp-mss-set", size: "rt-mtu" } },
  { name: "tcp option maxseg size set 1400", stmt: { kind: "tcp-mss-set", size: 1400 } },
];

describe("forwardPathFlowInvariance: the seed rulesets", () => {
  it("seed-home is invariant for v4 and v6", () => {
    expect(forwardPathFlowInvariance(seedRuleset())).toEqual({ v4: true, v6: true });
  });
  it("seed-home-hardened is invariant for v4 and v6", () => {
    const rs = seedRuleset({ hardened: true });
    expectCompiles(rs);
    expect(forwardPathFlowInvariance(rs)).toEqual({ v4: true, v6: true });
  });
  it("an empty ruleset is invariant", () => {
    expect(forwardPathFlowInvariance({ tables: [] })).toEqual({ v4: true, v6: true });
  });
  it("a tcp flags rule put first in the seed's forward chain makes both families non-invariant", () => {
    const rs = seedRuleset({ forwardHead: [rule(8, tcpSyn, DROP)] });
    expectCompiles(rs);
    expect(forwardPathFlowInvariance(rs)).toEqual({ v4: false, v6: false });
  });
});

describe("forwardPathFlowInvariance: per-packet selectors", () => {
  for (const p of PER_PACKET) {
    it(`${p.name} alone makes the ${p.family} table's families non-invariant`, () => {
      const rs = one(table(p.family, [forward(rule(3, match(p.sel, p.value), DROP))]));
      expectCompiles(rs);
      expect(forwardPathFlowInvariance(rs)).toEqual(DIRTY_ANSWER[p.family]);
    });
    it(`${p.name} inside a concat does too`, () => {
      const concat: Selector = { kind: "concat", parts: [p.partner, p.sel] };
      const rs = one(
        table(p.family, [forward(rule(3, match(concat, { kind: "concat", parts: [p.partnerValue, p.value] }), DROP))]),
      );
      expect(forwardPathFlowInvariance(rs)).toEqual(DIRTY_ANSWER[p.family]);
    });
    it(`${p.name} in an inet table makes both families non-invariant`, () => {
      const rs = one(table("inet", [forward(rule(3, match(p.sel, p.value), DROP))]));
      expect(forwardPathFlowInvariance(rs)).toEqual({ v4: false, v6: false });
    });
  }
  it("per-flow selectors on every forward-path hook keep both families invariant", () => {
    const clean = [
      rule(3, ctState("established", "related"), ACCEPT),
      rule(4, iifname("lan"), oifname("wan"), match(ipSaddr, addr("192.168.1.20")), match(tcpDport, int(22)), DROP),
      rule(5, match({ kind: "ct", key: "mark" }, int(3)), { kind: "counter" }, ACCEPT),
      rule(6, match({ kind: "fib", flags: ["saddr", "iif"], result: "oif" }, sym("missing")), DROP),
    ];
    const rs = one(
      table("inet", [
        baseChain("pre", 1, "filter", "prerouting", -150, "accept", clean),
        forward(...clean),
        baseChain("post", 1, "filter", "postrouting", 0, "accept", clean),
      ]),
    );
    expectCompiles(rs);
    expect(forwardPathFlowInvariance(rs)).toEqual({ v4: true, v6: true });
  });
});

describe("forwardPathFlowInvariance: statements", () => {
  for (const s of STATEFUL) {
    for (const family of ["ip", "ip6", "inet"] as const) {
      it(`${s.name} in a ${family} forward chain makes it non-invariant`, () => {
        const rs = one(table(family, [forward(rule(3, iifname("lan"), s.stmt, ACCEPT))]));
        expectCompiles(rs);
        expect(forwardPathFlowInvariance(rs)).toEqual(DIRTY_ANSWER[family]);
      });
    }
  }
  it("counter keeps the path invariant", () => {
    const rs = one(
      table("inet", [forward(rule(3, { kind: "counter" }, ctState("established"), { kind: "counter" }, ACCEPT))]),
    );
    expectCompiles(rs);
    expect(forwardPathFlowInvariance(rs)).toEqual({ v4: true, v6: true });
  });
  it("reject, return and continue verdicts keep the path invariant", () => {
    const rs = one(
      table("inet", [
        forward(
          rule(3, { kind: "continue" }),
          rule(4, match(tcpDport, int(23)), { kind: "reject", with: { type: "tcp-reset" } }),
          rule(5, { kind: "return" }),
        ),
      ]),
    );
    expectCompiles(rs);
    expect(forwardPathFlowInvariance(rs)).toEqual({ v4: true, v6: true });
  });
  it("a stateful statement on a prerouting or postrouting filter chain counts too", () => {
    for (const hook of ["prerouting", "postrouting"] as const) {
      const rs = one(table("ip", [baseChain("c", 1, "filter", hook, -150, "accept", [rule(3, limit, ACCEPT)])]));
      expectCompiles(rs);
      expect(forwardPathFlowInvariance(rs)).toEqual({ v4: false, v6: true });
    }
  });
});

describe("forwardPathFlowInvariance: family scoping", () => {
  const dirty = (family: TableFamily): Table => table(family, [forward(rule(3, tcpSyn, DROP))]);
  const clean = (family: TableFamily): Table => table(family, [forward(rule(3, ctState("established"), ACCEPT))]);
  it("a dirty ip table makes only v4 non-invariant", () => {
    expect(forwardPathFlowInvariance(one(dirty("ip")))).toEqual({ v4: false, v6: true });
  });
  it("a dirty ip6 table makes only v6 non-invariant", () => {
    expect(forwardPathFlowInvariance(one(dirty("ip6")))).toEqual({ v4: true, v6: false });
  });
  it("a dirty inet table makes both non-invariant", () => {
    expect(forwardPathFlowInvariance(one(dirty("inet")))).toEqual({ v4: false, v6: false });
  });
  it("each table is judged on its own: dirty ip beside clean ip6 and inet", () => {
    const rs: Ruleset = {
      tables: [
        { ...clean("inet"), name: "a" },
        { ...dirty("ip"), name: "b" },
        { ...clean("ip6"), name: "c" },
      ],
    };
    expectCompiles(rs);
    expect(forwardPathFlowInvariance(rs)).toEqual({ v4: false, v6: true });
  });
  it("dirty ip and dirty ip6 tables together make both non-invariant", () => {
    const rs: Ruleset = {
      tables: [
        { ...dirty("ip"), name: "a" },
        { ...dirty("ip6"), name: "b" },
      ],
    };
    expect(forwardPathFlowInvariance(rs)).toEqual({ v4: false, v6: false });
  });
});

describe("forwardPathFlowInvariance: chains off the forward path", () => {
  const offPath: readonly { readonly name: string; readonly chain: Chain }[] = [
    { name: "filter input", chain: baseChain("in", 1, "filter", "input", 0, "drop", [rule(3, tcpSyn, limit, DROP)]) },
    {
      name: "filter output",
      chain: baseChain("out", 1, "filter", "output", 0, "accept", [rule(3, tcpSyn, { kind: "log" }, DROP)]),
    },
    {
      name: "nat prerouting",
      chain: baseChain("dstnat", 1, "nat", "prerouting", -100, "accept", [
        rule(3, tcpSyn, { kind: "mark-set", target: "ct", value: 1 }, { kind: "dnat", addr: addr("192.168.1.20") }),
      ]),
    },
    {
      name: "nat postrouting",
      chain: baseChain("srcnat", 1, "nat", "postrouting", 100, "accept", [
        rule(3, tcpSyn, limit, oifname("wan"), { kind: "masquerade" }),
      ]),
    },
  ];
  for (const o of offPath) {
    it(`tcp flags and statements in a ${o.name} chain leave both families invariant`, () => {
      const rs = one(table("ip", [o.chain, forward(rule(4, ctState("established"), ACCEPT))]));
      expectCompiles(rs);
      expect(forwardPathFlowInvariance(rs)).toEqual({ v4: true, v6: true });
    });
  }
  it("a dirty chain jumped to only from input or a nat chain is left out", () => {
    const rs = one(
      table("inet", [
        baseChain("in", 1, "filter", "input", 0, "drop", [rule(3, { kind: "jump", target: "dirty" })]),
        baseChain("dstnat", 1, "nat", "prerouting", -100, "accept", [rule(4, { kind: "jump", target: "dirty" })]),
        regular("dirty", [rule(21, tcpSyn, limit, ACCEPT)]),
        forward(rule(5, ctState("established"), ACCEPT)),
      ]),
    );
    expectCompiles(rs);
    expect(forwardPathFlowInvariance(rs)).toEqual({ v4: true, v6: true });
  });
  it("the same dirty chain jumped to from input and from forward counts", () => {
    const rs = one(
      table("inet", [
        baseChain("in", 1, "filter", "input", 0, "drop", [rule(3, { kind: "jump", target: "dirty" })]),
        regular("dirty", [rule(21, limit, ACCEPT)]),
        forward(rule(5, { kind: "jump", target: "dirty" })),
      ]),
    );
    expectCompiles(rs);
    expect(forwardPathFlowInvariance(rs)).toEqual({ v4: false, v6: false });
  });
});

describe("forwardPathFlowInvariance: jumps, gotos and verdict maps", () => {
  const dirtyX = regular("x", [rule(21, limit, ACCEPT)]);
  const cleanX = regular("x", [rule(21, iifname("lan"), { kind: "counter" }, ACCEPT)]);
  for (const kind of ["jump", "goto"] as const) {
    it(`a forward chain that does ${kind} to a chain with limit is non-invariant`, () => {
      const rs = one(table("ip", [forward(rule(3, iifname("lan"), { kind, target: "x" })), dirtyX]));
      expectCompiles(rs);
      expect(forwardPathFlowInvariance(rs)).toEqual({ v4: false, v6: true });
    });
    it(`a forward chain that does ${kind} to a clean chain is invariant`, () => {
      const rs = one(table("ip", [forward(rule(3, iifname("lan"), { kind, target: "x" })), cleanX]));
      expectCompiles(rs);
      expect(forwardPathFlowInvariance(rs)).toEqual({ v4: true, v6: true });
    });
  }
  it("a dirty chain two jumps deep counts", () => {
    const rs = one(
      table("ip6", [
        forward(rule(3, { kind: "jump", target: "a" })),
        regular("a", [rule(21, { kind: "goto", target: "b" })]),
        regular("b", [rule(22, match(ip6Hoplimit, int(1)), DROP)]),
      ]),
    );
    expectCompiles(rs);
    expect(forwardPathFlowInvariance(rs)).toEqual({ v4: true, v6: false });
  });
  it("a regular chain that is never jumped to may contain anything", () => {
    const rs = one(
      table("inet", [
        forward(rule(3, ctState("established"), ACCEPT)),
        regular("unused", [
          rule(21, tcpSyn, limit, { kind: "log" }, { kind: "mark-set", target: "meta", value: 2 }, DROP),
        ]),
      ]),
    );
    expectCompiles(rs);
    expect(forwardPathFlowInvariance(rs)).toEqual({ v4: true, v6: true });
  });
  const ctVmap = (target: string): Expr => ({
    kind: "vmap",
    key: { kind: "ct", key: "state" },
    map: {
      kind: "anonymous",
      entries: [
        { key: sym("established"), verdict: { kind: "jump", target } },
        { key: sym("invalid"), verdict: { kind: "drop" } },
      ],
    },
  });
  it("ct state vmap { established : jump x } to a dirty chain is non-invariant", () => {
    const rs = one(table("inet", [forward(rule(3, ctVmap("x"))), dirtyX]));
    expectCompiles(rs);
    expect(forwardPathFlowInvariance(rs)).toEqual({ v4: false, v6: false });
  });
  it("ct state vmap { established : jump x } to a clean chain is invariant", () => {
    const rs = one(table("inet", [forward(rule(3, ctVmap("x"))), cleanX]));
    expectCompiles(rs);
    expect(forwardPathFlowInvariance(rs)).toEqual({ v4: true, v6: true });
  });
  const namedVmap: Expr = { kind: "vmap", key: tcpDport, map: { kind: "named", name: "ports" } };
  const portsMap = (target: string): NamedMap => ({
    name: "ports",
    origin: at(30),
    keyType: ["inet_service"],
    dataType: "verdict",
    elements: [
      { key: int(80), data: { kind: "verdict", verdict: { kind: "accept" } } },
      { key: int(22), data: { kind: "verdict", verdict: { kind: "goto", target } } },
    ],
  });
  it("a named verdict map with an element going to a dirty chain is non-invariant", () => {
    const rs = one(table("ip", [forward(rule(3, namedVmap)), dirtyX], [portsMap("x")]));
    expectCompiles(rs);
    expect(forwardPathFlowInvariance(rs)).toEqual({ v4: false, v6: true });
  });
  it("a named verdict map whose elements go to clean chains is invariant", () => {
    const rs = one(table("ip", [forward(rule(3, namedVmap)), cleanX], [portsMap("x")]));
    expectCompiles(rs);
    expect(forwardPathFlowInvariance(rs)).toEqual({ v4: true, v6: true });
  });
  it("a named verdict map used only from input leaves the forward path invariant", () => {
    const rs = one(
      table(
        "ip",
        [
          baseChain("in", 1, "filter", "input", 0, "drop", [rule(3, namedVmap)]),
          forward(rule(4, ctState("established"), ACCEPT)),
          dirtyX,
        ],
        [portsMap("x")],
      ),
    );
    expectCompiles(rs);
    expect(forwardPathFlowInvariance(rs)).toEqual({ v4: true, v6: true });
  });
  it("a vmap keyed on tcp flags is non-invariant even when every verdict is plain", () => {
    const flagsVmap: Expr = {
      kind: "vmap",
      key: tcpFlags,
      map: { kind: "anonymous", entries: [{ key: sym("syn"), verdict: { kind: "drop" } }] },
    };
    const rs = one(table("inet", [forward(rule(3, flagsVmap))]));
    expectCompiles(rs);
    expect(forwardPathFlowInvariance(rs)).toEqual({ v4: false, v6: false });
  });
  it("a vmap keyed on a concat with ip ttl is non-invariant", () => {
    const ttlVmap: Expr = {
      kind: "vmap",
      key: { kind: "concat", parts: [ipSaddr, ipTtl] },
      map: {
        kind: "anonymous",
        entries: [{ key: { kind: "concat", parts: [addr("192.0.2.1"), int(1)] }, verdict: { kind: "drop" } }],
      },
    };
    expect(forwardPathFlowInvariance(one(table("ip", [forward(rule(3, ttlVmap))])))).toEqual({ v4: false, v6: true });
  });
  it("a jump cycle of clean chains ends and answers invariant", () => {
    const cyclic = one(
      table("inet", [
        baseChain("a", 2, "filter", "forward", 0, "accept", [rule(3, { kind: "jump", target: "b" })]),
        regular("b", [rule(21, iifname("lan"), { kind: "jump", target: "a" }), rule(22, { kind: "counter" })]),
      ]),
    );
    expect(forwardPathFlowInvariance(cyclic)).toEqual({ v4: true, v6: true });
  });
  it("a cycle between regular chains ends too, and a dirty chain behind it still counts", () => {
    const withTail = (tail: Rule): Ruleset =>
      one(
        table("ip", [
          forward(rule(3, { kind: "jump", target: "a" })),
          regular("a", [rule(21, { kind: "jump", target: "b" })]),
          regular("b", [rule(22, { kind: "jump", target: "a" }), tail]),
        ]),
      );
    expect(forwardPathFlowInvariance(withTail(rule(23, ACCEPT)))).toEqual({ v4: true, v6: true });
    expect(forwardPathFlowInvariance(withTail(rule(23, limit, ACCEPT)))).toEqual({ v4: false, v6: true });
  });
});

describe("selectorInvariant", () => {
  const payload: readonly [Selector, boolean][] = [
    [{ kind: "payload", protocol: "ip", field: "saddr" }, true],
    [{ kind: "payload", protocol: "ip", field: "daddr" }, true],
    [{ kind: "payload", protocol: "ip", field: "protocol" }, true],
    [{ kind: "payload", protocol: "ip", field: "length" }, false],
    [{ kind: "payload", protocol: "ip", field: "ttl" }, false],
    [{ kind: "payload", protocol: "ip6", field: "saddr" }, true],
    [{ kind: "payload", protocol: "ip6", field: "daddr" }, true],
    [{ kind: "payload", protocol: "ip6", field: "nexthdr" }, false],
    [{ kind: "payload", protocol: "ip6", field: "length" }, false],
    [{ kind: "payload", protocol: "ip6", field: "hoplimit" }, false],
    [{ kind: "payload", protocol: "tcp", field: "sport" }, true],
    [{ kind: "payload", protocol: "tcp", field: "dport" }, true],
    [{ kind: "payload", protocol: "tcp", field: "flags" }, false],
    [{ kind: "payload", protocol: "udp", field: "sport" }, true],
    [{ kind: "payload", protocol: "udp", field: "dport" }, true],
    [{ kind: "payload", protocol: "th", field: "sport" }, true],
    [{ kind: "payload", protocol: "th", field: "dport" }, true],
    [{ kind: "payload", protocol: "icmp", field: "type" }, true],
    [{ kind: "payload", protocol: "icmp", field: "code" }, true],
    [{ kind: "payload", protocol: "icmp", field: "id" }, true],
    [{ kind: "payload", protocol: "icmpv6", field: "type" }, true],
    [{ kind: "payload", protocol: "icmpv6", field: "code" }, true],
    [{ kind: "payload", protocol: "icmpv6", field: "id" }, true],
  ];
  const meta: readonly [Selector, boolean][] = (
    ["iif", "oif", "iifname", "oifname", "l4proto", "nfproto", "mark"] as const
  ).map((key) => [{ kind: "meta", key }, true]);
  const ct: readonly [Selector, boolean][] = (["state", "status", "direction", "mark", "helper"] as const).map(
    (key) => [{ kind: "ct", key }, true],
  );
  const fib: readonly [Selector, boolean][] = [
    [{ kind: "fib", flags: ["saddr", "iif"], result: "oif" }, true],
    [{ kind: "fib", flags: ["daddr", "mark"], result: "type" }, true],
    [{ kind: "fib", flags: ["daddr", "oif"], result: "oif" }, true],
  ];
  const concat: readonly [Selector, boolean][] = [
    [{ kind: "concat", parts: [ipSaddr, tcpDport] }, true],
    [{ kind: "concat", parts: [ipSaddr, { kind: "meta", key: "iifname" }, { kind: "ct", key: "mark" }] }, true],
    [{ kind: "concat", parts: [ipSaddr, tcpFlags] }, false],
    [{ kind: "concat", parts: [ip6Nexthdr, tcpDport] }, false],
    [{ kind: "concat", parts: [ipSaddr, { kind: "concat", parts: [tcpDport, ipTtl] }] }, false],
    [{ kind: "concat", parts: [ipSaddr, { kind: "concat", parts: [tcpDport, ipSaddr] }] }, true],
  ];
  it.each([...payload, ...meta, ...ct, ...fib, ...concat].map(([s, want]) => ({ s, want, name: JSON.stringify(s) })))(
    "$name → $want",
    ({ s, want }) => {
      expect(selectorInvariant(s)).toBe(want);
    },
  );
  fcTest.prop([fc.array(fc.constantFrom(...payload, ...meta, ...ct, ...fib), { minLength: 1, maxLength: 6 })])(
    "a concat is invariant exactly when every part is",
    (parts) => {
      const s: Selector = { kind: "concat", parts: parts.map(([p]) => p) };
      expect(selectorInvariant(s)).toBe(parts.every(([, want]) => want));
    },
  );
});

// An independent model: walk what each forward-path base chain can reach (breadth first over jumps, gotos and vmap
// targets) and look for anything not per flow, on random acyclic tables.
describe("forwardPathFlowInvariance against a reachability model", () => {
  type Item = { readonly t: "clean" } | { readonly t: "dirty" } | { readonly t: "to"; readonly chain: number };
  interface GenChain {
    readonly base: { readonly hook: Hook; readonly nat: boolean } | null;
    readonly rules: readonly (readonly Item[])[];
  }
  const CLEAN: readonly Expr[] = [
    iifname("lan"),
    ctState("established"),
    { kind: "counter" },
    match(tcpDport, int(22)),
  ];
  const DIRTY: readonly Expr[] = [tcpSyn, limit, { kind: "log" }, { kind: "notrack" }, match(ipTtl, int(1))];
  const HOOKS: readonly Hook[] = ["prerouting", "input", "forward", "output", "postrouting"];

  const genTable = fc.integer({ min: 1, max: 6 }).chain((n) =>
    fc.tuple(
      fc.constantFrom<TableFamily>("ip", "ip6", "inet"),
      fc.tuple(
        ...Array.from({ length: n }, (_, i) =>
          fc.record({
            base: fc.option(fc.record({ hook: fc.constantFrom(...HOOKS), nat: fc.boolean() }), { nil: null }),
            rules: fc.array(
              fc.array(
                fc.oneof(
                  fc.constant<Item>({ t: "clean" }),
                  fc.constant<Item>({ t: "dirty" }),
                  // Only to later chains, so the graph has no cycle.
                  ...(i + 1 < n
                    ? [fc.integer({ min: i + 1, max: n - 1 }).map((chain): Item => ({ t: "to", chain }))]
                    : []),
                ),
                { maxLength: 3 },
              ),
              { maxLength: 3 },
            ),
          }),
        ),
      ),
      fc.nat(),
      fc.nat(),
    ),
  );

  function toIr(family: TableFamily, chains: readonly GenChain[], pickClean: number, pickDirty: number): Table {
    const irChains = chains.map((c, i): Chain => {
      const rules = c.rules.map((items, r) =>
        rule(
          10 * i + r,
          ...items.map((it, k): Expr => {
            switch (it.t) {
              case "clean":
                return CLEAN[(pickClean + i + k) % CLEAN.length];
              case "dirty":
                return DIRTY[(pickDirty + i + k) % DIRTY.length];
              case "to":
                return (i + k) % 3 === 0
                  ? { kind: "goto", target: `c${String(it.chain)}` }
                  : (i + k) % 3 === 1
                    ? { kind: "jump", target: `c${String(it.chain)}` }
                    : {
                        kind: "vmap",
                        key: { kind: "meta", key: "iifname" },
                        map: {
                          kind: "anonymous",
                          entries: [{ key: str("lan"), verdict: { kind: "jump", target: `c${String(it.chain)}` } }],
                        },
                      };
            }
          }),
        ),
      );
      const name = `c${String(i)}`;
      return c.base === null
        ? regular(name, rules)
        : baseChain(name, i, c.base.nat ? "nat" : "filter", c.base.hook, 0, "accept", rules);
    });
    return table(family, irChains);
  }

  function modelDirty(chains: readonly GenChain[]): boolean {
    const seen = new Set<number>();
    const queue: number[] = [];
    chains.forEach((c, i) => {
      if (c.base !== null && !c.base.nat && ["prerouting", "forward", "postrouting"].includes(c.base.hook))
        queue.push(i);
    });
    while (queue.length > 0) {
      const i = queue.shift() ?? 0;
      if (seen.has(i)) continue;
      seen.add(i);
      for (const items of chains[i].rules)
        for (const it of items) {
          if (it.t === "dirty") return true;
          if (it.t === "to") queue.push(it.chain);
        }
    }
    return false;
  }

  fcTest.prop([genTable], { numRuns: 300 })(
    "answers what the reachability model answers",
    ([family, chains, pc, pd]) => {
      const got = forwardPathFlowInvariance(one(toIr(family, chains, pc, pd)));
      const dirty = modelDirty(chains);
      expect(got).toEqual(dirty ? DIRTY_ANSWER[family] : { v4: true, v6: true });
    },
  );
});
