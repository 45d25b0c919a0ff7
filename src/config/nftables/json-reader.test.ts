import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import type { Expr, Rule, Ruleset } from "../../engine/filter/ir.js";
import { DEPENDENCIES, MSS_CLAMP, SETS_MAPS_NAT, THREE_FAMILIES } from "./json-reader.fixture.js";
import { parseJsonWithPositions, readNftJson } from "./json-reader.js";

function read(json: string): Ruleset {
  const r = readNftJson(json, { source: "k.json" });
  expect(r.diagnostics).toEqual([]);
  expect(r.ruleset).not.toBeNull();
  return r.ruleset!;
}

const rules = (rs: Ruleset, table: string, chain: string): readonly Rule[] =>
  rs.tables.find((t) => t.name === table)!.chains.find((c) => c.name === chain)!.rules;
const exprsOf = (rs: Ruleset, table: string, chain: string): (readonly Expr[])[] =>
  rules(rs, table, chain).map((r) => r.exprs);

describe("parseJsonWithPositions", () => {
  it("keeps line and column of nested values and decodes escapes", () => {
    const doc = parseJsonWithPositions('{\n  "a": [1, {"b": "x\\u0041\\n"}],\n\t"c": null }');
    expect("message" in doc).toBe(false);
    if ("message" in doc || doc.k !== "object") return;
    const arr = doc.entries[0].value;
    expect(arr).toMatchObject({ k: "array", line: 2, column: 8 });
    if (arr.k !== "array") return;
    expect(arr.items[1]).toMatchObject({ k: "object", line: 2, column: 12 });
    expect(arr.items[1].k === "object" && arr.items[1].entries[0].value).toMatchObject({ value: "xA\n" });
    expect(doc.entries[1].value).toMatchObject({ k: "null", line: 3, column: 7 });
  });

  it("reports syntax errors at their position", () => {
    expect(parseJsonWithPositions('{"a": [1, 2,, 3]}')).toEqual({
      message: 'unexpected character ","',
      line: 1,
      column: 13,
    });
    expect(parseJsonWithPositions('{"a": 1}\n x')).toMatchObject({ line: 2, column: 2 });
    expect(parseJsonWithPositions('"abc')).toMatchObject({ message: "unterminated string" });
    expect(parseJsonWithPositions("[".repeat(100_000))).toMatchObject({ message: expect.stringContaining("nested") });
  });
});

describe("readNftJson on kernel output", () => {
  it("reads tables, base and regular chains with priorities and policies", () => {
    const rs = read(SETS_MAPS_NAT.json);
    const t = rs.tables[0];
    expect([t.family, t.name]).toEqual(["inet", "filter"]);
    expect(t.chains.map((c) => [c.name, c.base ?? null])).toEqual([
      ["input", { type: "filter", hook: "input", priority: 0, policy: "drop" }],
      ["other", null],
      ["pre", { type: "nat", hook: "prerouting", priority: -100, policy: "accept" }],
      ["post", { type: "nat", hook: "postrouting", priority: 100, policy: "accept" }],
    ]);
  });

  it("gives every object the line and column of its JSON object", () => {
    const rs = read(SETS_MAPS_NAT.json);
    const line1 = SETS_MAPS_NAT.json.split("\n")[0];
    const t = rs.tables[0];
    const at = (c: number): string => line1.slice(c - 1, c + 80);
    expect(at(t.origin.column)).toMatch(/^\{"family": "inet", "name": "filter"/);
    expect(at(t.chains[1].origin.column)).toMatch(/^\{"family": "inet", "table": "filter", "name": "other"/);
    const rule = rules(rs, "filter", "input")[0];
    expect(line1.slice(rule.origin.column - 1)).toMatch(/^\{"family": "inet", "table": "filter", "chain": "input"/);
    expect(rule).toMatchObject({ comment: "loopback", handle: expect.any(Number) });
    expect(at(t.sets![0].origin.column)).toMatch(/"name": "allowed"/);
  });

  it("reads sets and maps with prefixes, ranges, concatenations, names and verdicts", () => {
    const t = read(SETS_MAPS_NAT.json).tables[0];
    expect(t.sets!.map((s) => [s.name, s.keyType, s.flags ?? [], s.elements])).toEqual([
      [
        "allowed",
        ["ipv4_addr"],
        ["interval"],
        [
          { kind: "prefix", addr: "192.0.2.0", len: 24 },
          {
            kind: "range",
            lo: { kind: "address", addr: "198.51.100.1" },
            hi: { kind: "address", addr: "198.51.100.9" },
          },
          { kind: "address", addr: "203.0.113.5" },
        ],
      ],
      [
        "svc",
        ["ipv4_addr", "inet_service"],
        [],
        [
          {
            kind: "concat",
            parts: [
              { kind: "address", addr: "192.0.2.1" },
              { kind: "int", value: 22 },
            ],
          },
          {
            kind: "concat",
            parts: [
              { kind: "address", addr: "192.0.2.2" },
              { kind: "int", value: 443 },
            ],
          },
        ],
      ],
      [
        "ifs",
        ["ifname"],
        [],
        [
          { kind: "string", value: "eth0" },
          { kind: "string", value: "br-lan" },
        ],
      ],
    ]);
    expect(t.maps!.map((m) => [m.name, m.dataType, m.elements])).toEqual([
      [
        "portmap",
        "verdict",
        [
          { key: { kind: "int", value: 22 }, data: { kind: "verdict", verdict: { kind: "accept" } } },
          { key: { kind: "int", value: 23 }, data: { kind: "verdict", verdict: { kind: "drop" } } },
        ],
      ],
      [
        "dmap",
        "ipv4_addr",
        [
          {
            key: { kind: "int", value: 80 },
            data: { kind: "value", value: { kind: "address", addr: "192.168.1.10" } },
          },
        ],
      ],
    ]);
  });

  it("reads matches, flag lists, masks, fib, vmaps and statements", () => {
    const x = exprsOf(read(SETS_MAPS_NAT.json), "filter", "input");
    expect(x[0][0]).toEqual({
      kind: "match",
      left: { kind: "meta", key: "iif" },
      op: "==",
      right: { kind: "string", value: "lo" },
    });
    expect(x[1][0]).toEqual({
      kind: "match",
      left: { kind: "ct", key: "state" },
      op: "in",
      right: {
        kind: "set",
        elements: [
          { kind: "symbol", name: "established" },
          { kind: "symbol", name: "related" },
        ],
      },
    });
    expect(x[6]).toEqual([
      {
        kind: "match",
        left: { kind: "payload", protocol: "tcp", field: "dport" },
        op: "==",
        right: { kind: "set", elements: [22, 80, 443].map((value) => ({ kind: "int", value })) },
      },
      { kind: "counter" },
      { kind: "accept" },
    ]);
    expect(x[9][1]).toEqual({ kind: "limit", rate: 10, per: "second", burst: 5, unit: "packets", over: false });
    expect(x[14][0]).toMatchObject({ right: { kind: "setref", name: "svc" } });
    expect(x[15][0]).toEqual({
      kind: "vmap",
      key: { kind: "payload", protocol: "tcp", field: "dport" },
      map: { kind: "named", name: "portmap" },
    });
    expect(x[16][0]).toMatchObject({
      map: {
        kind: "anonymous",
        entries: [
          { verdict: { kind: "accept" } },
          { key: { value: 8080 }, verdict: { kind: "jump", target: "other" } },
        ],
      },
    });
    expect(x[17][0]).toMatchObject({ left: { key: "iifname" }, right: { kind: "setref", name: "ifs" } });
    expect(x[19][0]).toEqual({
      kind: "match",
      left: { kind: "payload", protocol: "tcp", field: "flags" },
      op: "==",
      right: { kind: "symbol", name: "syn" },
      mask: {
        kind: "set",
        elements: [
          { kind: "symbol", name: "syn" },
          { kind: "symbol", name: "ack" },
        ],
      },
    });
    expect(x[21][0]).toMatchObject({ right: { kind: "int", value: 16 } });
    expect(x[22][0]).toEqual({ kind: "mark-set", target: "meta", value: 32 });
    expect(x[23][0]).toEqual({ kind: "mark-set", target: "ct", value: 5 });
    expect(x[24][0]).toEqual({ kind: "log", prefix: "in: ", level: "info" });
    expect(x[26][0]).toEqual({
      kind: "match",
      left: { kind: "fib", flags: ["saddr", "iif"], result: "oif" },
      op: "==",
      right: { kind: "symbol", name: "missing" },
    });
    expect(x[28][0]).toEqual({ kind: "reject", with: { type: "icmp", code: "host-prohibited" } });
    expect(x[29][1]).toEqual({ kind: "reject", with: { type: "tcp-reset" } });
    expect(x[31][0]).toEqual({ kind: "reject", with: { type: "icmpx", code: "port-unreachable" } });
    expect(x[34][0]).toEqual({ kind: "limit", rate: 100, per: "minute", burst: 10, unit: "packets", over: true });
  });

  it("reads NAT statements with families, ranges, ports and flags", () => {
    const rs = read(SETS_MAPS_NAT.json);
    expect(exprsOf(rs, "filter", "pre").map((e) => e[e.length - 1])).toEqual([
      { kind: "dnat", family: "ip", addr: { kind: "address", addr: "192.168.1.10" }, port: { lo: 80, hi: 80 } },
      { kind: "redirect", port: { lo: 5353, hi: 5353 } },
      { kind: "notrack" },
    ]);
    expect(exprsOf(rs, "filter", "post").map((e) => e[e.length - 1])).toEqual([
      { kind: "masquerade" },
      { kind: "masquerade", port: { lo: 1024, hi: 2000 }, flags: ["random", "persistent"] },
      {
        kind: "snat",
        family: "ip",
        addr: {
          kind: "range",
          lo: { kind: "address", addr: "203.0.113.1" },
          hi: { kind: "address", addr: "203.0.113.5" },
        },
      },
      {
        kind: "snat",
        family: "ip",
        addr: { kind: "address", addr: "203.0.113.9" },
        port: { lo: 1000, hi: 2000 },
        flags: ["fully-random"],
      },
    ]);
    const ipNat = exprsOf(read(THREE_FAMILIES.json), "nat", "pre");
    expect(ipNat[1][2]).toEqual({
      kind: "dnat",
      addr: { kind: "address", addr: "192.168.1.10" },
      port: { lo: 8000, hi: 8010 },
    });
  });

  it("reads fw4's MSS clamp into tcp-mss-set", () => {
    const x = exprsOf(read(MSS_CLAMP.json), "fw4", "mangle_forward");
    expect(x[0][2]).toEqual({ kind: "tcp-mss-set", size: "rt-mtu" });
    expect(x[1][1]).toEqual({ kind: "tcp-mss-set", size: 1400 });
  });

  it("reads every captured fixture without diagnostics", () => {
    for (const f of [SETS_MAPS_NAT, THREE_FAMILIES, DEPENDENCIES, MSS_CLAMP]) read(f.json);
  });
});

describe("readNftJson diagnostics", () => {
  const wrap = (...objs: string[]): string =>
    `{"nftables": [{"table": {"family": "inet", "name": "t"}},\n {"chain": {"family": "inet", "table": "t", "name": "c"}},\n${objs.join(",\n")}]}`;

  it("reports an unsupported statement at its object, and no ruleset", () => {
    const r = readNftJson(
      wrap(
        ' {"rule": {"family": "inet", "table": "t", "chain": "c", "expr": [{"accept": null}]}}',
        ' {"rule": {"family": "inet", "table": "t", "chain": "c", "expr": [{"queue": {"num": 1}}]}}',
      ),
      { source: "q.json" },
    );
    expect(r.ruleset).toBeNull();
    expect(r.diagnostics).toEqual([
      expect.objectContaining({ severity: "unsupported", code: "unsupported", source: "q.json", line: 4, column: 67 }),
    ]);
    expect(r.diagnostics[0].message).toContain('"queue"');
  });

  it("reports objects the model lacks (ct timeout, netdev) as unsupported", () => {
    const r = readNftJson(
      wrap(
        ' {"ct timeout": {"family": "inet", "name": "h", "table": "t", "protocol": "tcp", "l3proto": "ip"}}',
        ' {"table": {"family": "netdev", "name": "n"}}',
        ' {"rule": {"family": "inet", "table": "t", "chain": "c", "expr": [{"match": {"op": "==", "left": {"ct": {"key": "mark", "dir": "reply"}}, "right": 1}}]}}',
      ),
      { source: "u.json" },
    );
    expect(r.diagnostics.map((d) => [d.severity, d.line, d.column])).toEqual([
      ["unsupported", 3, 2],
      ["unsupported", 4, 12],
      ["unsupported", 5, 98],
    ]);
  });

  it("reads ct helper objects, and refuses one for another protocol", () => {
    const ok = readNftJson(
      wrap(
        ' {"table": {"family": "inet", "name": "t"}}',
        ' {"ct helper": {"family": "inet", "table": "t", "name": "ftp-standard", "handle": 3, "type": "ftp", "protocol": "tcp", "l3proto": "inet"}}',
      ),
      { source: "h.json" },
    );
    expect(ok.diagnostics).toEqual([]);
    expect(ok.ruleset!.tables[0].ctHelpers).toEqual([
      {
        name: "ftp-standard",
        origin: { source: "h.json", line: 4, column: 16 },
        type: "ftp",
        protocol: "tcp",
        l3proto: "inet",
      },
    ]);
    const bad = readNftJson(
      wrap(
        ' {"table": {"family": "inet", "name": "t"}}',
        ' {"ct helper": {"family": "inet", "table": "t", "name": "x", "type": "ftp", "protocol": "sctp"}}',
      ),
      { source: "h.json" },
    );
    expect(bad.diagnostics.map((d) => d.severity)).toEqual(["unsupported"]);
  });

  it("reports rules of unknown chains and bad shapes as errors", () => {
    const r = readNftJson(
      wrap(' {"rule": {"family": "inet", "table": "t", "chain": "nope", "expr": []}}', ' {"chain": {"name": 3}}'),
      { source: "e.json" },
    );
    expect(r.diagnostics.map((d) => [d.code, d.line])).toEqual([
      ["unknown-chain", 3],
      ["json-shape", 4],
    ]);
    expect(readNftJson("[1, 2]", { source: "x" }).diagnostics[0]).toMatchObject({
      code: "json-shape",
      line: 1,
      column: 1,
    });
    expect(readNftJson('{"nftables": [}', { source: "x" }).diagnostics[0]).toMatchObject({
      code: "json-syntax",
      column: 15,
    });
  });

  it("accepts `nft -j -f` input made of add commands and flush ruleset", () => {
    const r = readNftJson(
      '{"nftables": [{"flush": {"ruleset": null}}, {"add": {"table": {"family": "ip", "name": "t"}}},' +
        ' {"add": {"chain": {"family": "ip", "table": "t", "name": "c", "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}}},' +
        ' {"add": {"rule": {"family": "ip", "table": "t", "chain": "c", "expr": [{"drop": null}]}}}]}',
      { source: "a.json" },
    );
    expect(r.diagnostics).toEqual([]);
    expect(r.ruleset!.tables[0].chains[0].rules[0].exprs).toEqual([{ kind: "drop" }]);
  });
});

const FIXTURE_JSON = [DEPENDENCIES.json, SETS_MAPS_NAT.json];

test.prop(
  [
    fc.integer({ min: 0, max: FIXTURE_JSON.length - 1 }),
    fc.array(
      fc.record({
        at: fc.nat(),
        cut: fc.integer({ min: 0, max: 12 }),
        insert: fc.oneof(
          fc.constantFrom("", "{", "}", "[", "]", '"', ",", ":", "null", "-1", "1e999", '"@x"', "true"),
          fc.string({ maxLength: 4 }),
        ),
      }),
      { minLength: 1, maxLength: 4 },
    ),
  ],
  { numRuns: 2000 },
)("never throws on mutated kernel JSON; a ruleset comes back only without errors", (which, edits) => {
  let text = FIXTURE_JSON[which];
  for (const e of edits) {
    const at = e.at % (text.length + 1);
    text = text.slice(0, at) + e.insert + text.slice(at + e.cut);
  }
  const r = readNftJson(text, { source: "m.json" });
  for (const d of r.diagnostics) {
    expect(d.line).toBeGreaterThanOrEqual(1);
    expect(d.column).toBeGreaterThanOrEqual(1);
  }
  expect(r.ruleset === null).toBe(r.diagnostics.some((d) => d.severity !== "warning"));
});

describe("readNftJson: forms nft 1.0.6 prints that the corpus found", () => {
  const rule = (expr: string): string =>
    '{"nftables": [{"table": {"family": "inet", "name": "t"}}, {"chain": {"family": "inet", "table": "t", "name": "c"}},' +
    `{"rule": {"family": "inet", "table": "t", "chain": "c", "expr": [${expr}]}}]}`;
  const exprs1 = (expr: string): readonly Expr[] => exprsOf(read(rule(expr)), "t", "c")[0];
  const flags = { kind: "payload", protocol: "tcp", field: "flags" } as const;

  it("scales kbytes and mbytes limits to bytes, as the text parser does", () => {
    expect(
      exprs1('{"limit": {"rate": 512, "burst": 0, "per": "second", "rate_unit": "kbytes", "burst_unit": "bytes"}}'),
    ).toEqual([{ kind: "limit", rate: 512 * 1024, per: "second", burst: 0, unit: "bytes", over: false }]);
    expect(
      exprs1(
        '{"limit": {"rate": 10, "burst": 2, "per": "minute", "inv": true, "rate_unit": "mbytes", "burst_unit": "kbytes"}}',
      ),
    ).toEqual([{ kind: "limit", rate: 10 * 1024 * 1024, per: "minute", burst: 2048, unit: "bytes", over: true }]);
    const bad = readNftJson(rule('{"limit": {"rate": 1, "per": "second", "rate_unit": "gbytes"}}'), { source: "k" });
    expect(bad.ruleset).toBeNull();
    expect(bad.diagnostics.map((d) => d.message).join()).toContain("unknown limit unit");
    const mixed = readNftJson(
      rule('{"limit": {"rate": 1, "per": "second", "rate_unit": "kbytes", "burst_unit": "packets"}}'),
      {
        source: "k",
      },
    );
    expect(mixed.ruleset).toBeNull();
  });

  it('reads op "!" (`tcp flags ! fin,syn`) as the masked flags equal to zero', () => {
    expect(
      exprs1(
        '{"match": {"op": "!", "left": {"payload": {"protocol": "tcp", "field": "flags"}}, "right": ["fin", "syn"]}}',
      ),
    ).toEqual([
      {
        kind: "match",
        left: flags,
        op: "==",
        right: { kind: "int", value: 0 },
        mask: {
          kind: "set",
          elements: [
            { kind: "symbol", name: "fin" },
            { kind: "symbol", name: "syn" },
          ],
        },
      },
    ]);
  });

  it("reads a bare list compared with == as the OR of the flags, and with in as a list of bits", () => {
    const masked =
      '{"match": {"op": "==", "left": {"&": [{"payload": {"protocol": "tcp", "field": "flags"}}, ["fin", "syn"]]}, "right": ["fin", "syn"]}}';
    expect(exprs1(masked)[0]).toMatchObject({ op: "==", right: { kind: "int", value: 3 } });
    expect(
      exprs1('{"match": {"op": "!=", "left": {"ct": {"key": "status"}}, "right": ["snat", "dnat", 1]}}')[0],
    ).toMatchObject({ op: "!=", right: { kind: "int", value: 0x30 | 1 } });
    expect(
      exprs1(
        '{"match": {"op": "in", "left": {"payload": {"protocol": "tcp", "field": "flags"}}, "right": ["syn", "ack"]}}',
      )[0],
    ).toMatchObject({ op: "in", right: { kind: "set" } });
    // An anonymous set stays a set: `==` on it is membership.
    expect(
      exprs1(
        '{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "flags"}}, "right": {"set": ["syn", "ack"]}}}',
      )[0],
    ).toMatchObject({ op: "==", right: { kind: "set" } });
  });

  it("rejects a bare list with == on a selector without flags, and unknown flag names", () => {
    const port = readNftJson(
      rule('{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": [22, 80]}}'),
      { source: "k" },
    );
    expect(port.ruleset).toBeNull();
    expect(port.diagnostics[0]).toMatchObject({ severity: "unsupported" });
    const unknown = readNftJson(
      rule(
        '{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "flags"}}, "right": ["syn", "nope"]}}',
      ),
      { source: "k" },
    );
    expect(unknown.ruleset).toBeNull();
    expect(unknown.diagnostics[0]).toMatchObject({ severity: "error" });
  });
});
