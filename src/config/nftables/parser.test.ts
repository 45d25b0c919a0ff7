import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fc, test } from "@fast-check/vitest";
import { afterAll, describe, expect, it } from "vitest";
import { compileRuleset } from "../../engine/filter/compile.js";
import { parseClassBench } from "../../engine/filter/classbench.js";
import type { Expr, Ruleset } from "../../engine/filter/ir.js";
import { formatIpv4 } from "../../wire/address.js";
import { lexNft } from "./lexer.js";
import { loadNftFile } from "./load.js";
import { parseNftText } from "./parser.js";

/** firewall4's default `nft list ruleset` (tests/01_configuration/01_ruleset with lan br-lan and wan). */
const FW4_DEFAULT = `table inet fw4 {
	chain input {
		type filter hook input priority filter; policy drop;

		iif "lo" accept comment "!fw4: Accept traffic from loopback"

		ct state vmap { established : accept, related : accept } comment "!fw4: Handle inbound flows"
		tcp flags syn / fin,syn,rst,ack jump syn_flood comment "!fw4: Rate limit TCP syn packets"
		iifname "br-lan" jump input_lan comment "!fw4: Handle lan IPv4/IPv6 input traffic"
		iifname "wan" jump input_wan comment "!fw4: Handle wan IPv4/IPv6 input traffic"
		jump handle_reject
	}

	chain forward {
		type filter hook forward priority filter; policy drop;

		ct state vmap { established : accept, related : accept } comment "!fw4: Handle forwarded flows"
		iifname "br-lan" jump forward_lan comment "!fw4: Handle lan IPv4/IPv6 forward traffic"
		iifname "wan" jump forward_wan comment "!fw4: Handle wan IPv4/IPv6 forward traffic"
		jump handle_reject
	}

	chain output {
		type filter hook output priority filter; policy accept;

		oif "lo" accept comment "!fw4: Accept traffic towards loopback"

		ct state vmap { established : accept, related : accept } comment "!fw4: Handle outbound flows"
		oifname "br-lan" jump output_lan comment "!fw4: Handle lan IPv4/IPv6 output traffic"
		oifname "wan" jump output_wan comment "!fw4: Handle wan IPv4/IPv6 output traffic"
	}

	chain prerouting {
		type filter hook prerouting priority filter; policy accept;
		iifname "br-lan" jump helper_lan comment "!fw4: Handle lan IPv4/IPv6 helper assignment"
	}

	chain handle_reject {
		meta l4proto tcp reject with tcp reset comment "!fw4: Reject TCP traffic"
		reject with icmpx port-unreachable comment "!fw4: Reject any other traffic"
	}

	chain syn_flood {
		limit rate 25/second burst 50 packets return comment "!fw4: Accept SYN packets below rate-limit"
		drop comment "!fw4: Drop excess packets"
	}

	chain input_lan {
		jump accept_from_lan
	}

	chain output_lan {
		jump accept_to_lan
	}

	chain forward_lan {
		jump accept_to_wan comment "!fw4: Accept lan to wan forwarding"
		jump accept_to_lan
	}

	chain helper_lan {
	}

	chain accept_from_lan {
		iifname "br-lan" counter packets 0 bytes 0 accept comment "!fw4: accept lan IPv4/IPv6 traffic"
	}

	chain accept_to_lan {
		oifname "br-lan" counter packets 0 bytes 0 accept comment "!fw4: accept lan IPv4/IPv6 traffic"
	}

	chain input_wan {
		meta nfproto ipv4 udp dport 68 counter packets 0 bytes 0 accept comment "!fw4: Allow-DHCP-Renew"
		icmp type echo-request counter packets 0 bytes 0 accept comment "!fw4: Allow-Ping"
		meta nfproto ipv4 meta l4proto igmp counter packets 0 bytes 0 accept comment "!fw4: Allow-IGMP"
		meta nfproto ipv6 udp dport 546 counter packets 0 bytes 0 accept comment "!fw4: Allow-DHCPv6"
		ip6 saddr fe80::/10 icmpv6 type . icmpv6 code { mld-listener-query . no-route, mld-listener-report . no-route, mld-listener-done . no-route, mld2-listener-report . no-route } counter packets 0 bytes 0 accept comment "!fw4: Allow-MLD"
		icmpv6 type { destination-unreachable, time-exceeded, echo-request, echo-reply, nd-router-solicit, nd-router-advert } limit rate 1000/second counter packets 0 bytes 0 accept comment "!fw4: Allow-ICMPv6-Input"
		icmpv6 type . icmpv6 code { packet-too-big . no-route, parameter-problem . no-route, nd-neighbor-solicit . no-route, nd-neighbor-advert . no-route, parameter-problem . admin-prohibited } limit rate 1000/second counter packets 0 bytes 0 accept comment "!fw4: Allow-ICMPv6-Input"
		ct status dnat accept comment "!fw4: Accept port redirections"
		jump reject_from_wan
	}

	chain output_wan {
		jump accept_to_wan
	}

	chain forward_wan {
		icmpv6 type { destination-unreachable, time-exceeded, echo-request, echo-reply } limit rate 1000/second counter packets 0 bytes 0 accept comment "!fw4: Allow-ICMPv6-Forward"
		icmpv6 type . icmpv6 code { packet-too-big . no-route, parameter-problem . no-route, parameter-problem . admin-prohibited } limit rate 1000/second counter packets 0 bytes 0 accept comment "!fw4: Allow-ICMPv6-Forward"
		meta l4proto esp counter packets 0 bytes 0 jump accept_to_lan comment "!fw4: Allow-IPSec-ESP"
		udp dport 500 counter packets 0 bytes 0 jump accept_to_lan comment "!fw4: Allow-ISAKMP"
		ct status dnat accept comment "!fw4: Accept port forwards"
		jump reject_to_wan
	}

	chain accept_to_wan {
		meta nfproto ipv4 oifname "wan" ct state invalid counter packets 0 bytes 0 drop comment "!fw4: Prevent NAT leakage"
		oifname "wan" counter packets 0 bytes 0 accept comment "!fw4: accept wan IPv4/IPv6 traffic"
	}

	chain reject_from_wan {
		iifname "wan" counter packets 0 bytes 0 jump handle_reject comment "!fw4: reject wan IPv4/IPv6 traffic"
	}

	chain reject_to_wan {
		oifname "wan" counter packets 0 bytes 0 jump handle_reject comment "!fw4: reject wan IPv4/IPv6 traffic"
	}

	chain dstnat {
		type nat hook prerouting priority dstnat; policy accept;
	}

	chain srcnat {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan" jump srcnat_wan comment "!fw4: Handle wan IPv4/IPv6 srcnat traffic"
	}

	chain srcnat_wan {
		meta nfproto ipv4 masquerade comment "!fw4: Masquerade IPv4 wan traffic"
	}

	chain raw_prerouting {
		type filter hook prerouting priority raw; policy accept;
	}

	chain raw_output {
		type filter hook output priority raw; policy accept;
	}

	chain mangle_prerouting {
		type filter hook prerouting priority mangle; policy accept;
	}

	chain mangle_postrouting {
		type filter hook postrouting priority mangle; policy accept;
	}

	chain mangle_input {
		type filter hook input priority mangle; policy accept;
	}

	chain mangle_output {
		type route hook output priority mangle; policy accept;
	}

	chain mangle_forward {
		type filter hook forward priority mangle; policy accept;
		iifname "wan" tcp flags syn tcp option maxseg size set rt mtu comment "!fw4: Zone wan IPv4/IPv6 ingress MTU fixing"
		oifname "wan" tcp flags syn tcp option maxseg size set rt mtu comment "!fw4: Zone wan IPv4/IPv6 egress MTU fixing"
	}
}
`;

const parse = (text: string, source = "t.nft") => parseNftText(text, { source });

function ok(text: string): Ruleset {
  const r = parse(text);
  expect(r.diagnostics.filter((d) => d.severity !== "warning")).toEqual([]);
  expect(r.ruleset).not.toBeNull();
  return r.ruleset!;
}

/** The expressions of the single rule in `table inet t { chain c { RULE } }`. */
function exprs(rule: string, preamble = ""): readonly Expr[] {
  const rs = ok(`table inet t {\n${preamble}\nchain c {\n${rule}\n}\n}`);
  const rules = rs.tables[0].chains[0].rules;
  expect(rules).toHaveLength(1);
  return rules[0].exprs;
}

/** `file:line:col: message` of every diagnostic. */
function errors(text: string): string[] {
  const r = parse(text, "bad.nft");
  if (r.diagnostics.some((d) => d.severity !== "warning")) expect(r.ruleset).toBeNull();
  return r.diagnostics.map((d) => `${d.line}:${d.column}: ${d.severity}: ${d.message}`);
}

describe("tables and chains", () => {
  it("reads base chains with priority keywords, offsets, numbers and policies, with origins", () => {
    const rs = ok(
      [
        "flush ruleset",
        'table ip filter { comment "main"',
        "  chain input {",
        "    type filter hook input priority filter; policy drop;",
        '    comment "in"',
        "  }",
        "  chain pre { type nat hook prerouting priority dstnat + 10; }",
        "  chain post { type nat hook postrouting priority srcnat - 5; policy accept }",
        "  chain raw { type filter hook prerouting priority -300 }",
        "  chain out {",
        "    type route hook output priority mangle",
        "    policy accept",
        "  }",
        "  chain regular { }",
        "}",
        "table ip6 six { }",
      ].join("\n"),
    );
    expect(rs.tables.map((t) => [t.family, t.name, t.origin.line, t.origin.column])).toEqual([
      ["ip", "filter", 2, 1],
      ["ip6", "six", 16, 1],
    ]);
    const t = rs.tables[0];
    expect(t.comment).toBe("main");
    expect(t.chains.map((c) => [c.name, c.base?.type, c.base?.hook, c.base?.priority, c.base?.policy])).toEqual([
      ["input", "filter", "input", 0, "drop"],
      ["pre", "nat", "prerouting", -90, "accept"],
      ["post", "nat", "postrouting", 95, "accept"],
      ["raw", "filter", "prerouting", -300, "accept"],
      ["out", "route", "output", -150, "accept"],
      ["regular", undefined, undefined, undefined, undefined],
    ]);
    expect(t.chains[0].comment).toBe("in");
    expect(t.chains[0].origin).toEqual({ source: "t.nft", line: 3, column: 3 });
  });

  it("merges a table declared twice and empties everything on flush ruleset", () => {
    const rs = ok(
      "table ip a { chain x { accept } }\ntable ip a { chain x { drop }\n chain y { } }\ntable ip gone {}\n",
    );
    expect(rs.tables).toHaveLength(2);
    expect(rs.tables[0].chains.map((c) => [c.name, c.rules.map((r) => r.exprs[0].kind)])).toEqual([
      ["x", ["accept", "drop"]],
      ["y", []],
    ]);
    expect(ok("table ip a { }\nflush ruleset\ntable ip b { }").tables.map((t) => t.name)).toEqual(["b"]);
  });

  it("reads nft command syntax: add table/chain/rule/set/element and insert rule", () => {
    const rs = ok(
      [
        "add table inet f",
        "add chain inet f input { type filter hook input priority 0; policy drop; }",
        "add set inet f ok { type ipv4_addr; }",
        "add element inet f ok { 192.0.2.1, 192.0.2.2 }",
        "add rule inet f input ip saddr @ok accept",
        "insert rule inet f input iif lo accept",
      ].join("\n"),
    );
    const t = rs.tables[0];
    expect(t.chains[0].rules.map((r) => [r.origin.line, r.exprs.length])).toEqual([
      [6, 2],
      [5, 2],
    ]);
    expect(t.sets?.[0].elements).toEqual([
      { kind: "address", addr: "192.0.2.1" },
      { kind: "address", addr: "192.0.2.2" },
    ]);
  });
});

describe("matches", () => {
  it("payload selectors with implicit and explicit operators", () => {
    expect(exprs("ip saddr 10.0.0.0/8 ip daddr != 192.0.2.1 tcp dport 22 udp sport >= 1024 th dport 80-90")).toEqual([
      {
        kind: "match",
        left: { kind: "payload", protocol: "ip", field: "saddr" },
        op: "==",
        right: { kind: "prefix", addr: "10.0.0.0", len: 8 },
      },
      {
        kind: "match",
        left: { kind: "payload", protocol: "ip", field: "daddr" },
        op: "!=",
        right: { kind: "address", addr: "192.0.2.1" },
      },
      {
        kind: "match",
        left: { kind: "payload", protocol: "tcp", field: "dport" },
        op: "==",
        right: { kind: "int", value: 22 },
      },
      {
        kind: "match",
        left: { kind: "payload", protocol: "udp", field: "sport" },
        op: ">=",
        right: { kind: "int", value: 1024 },
      },
      {
        kind: "match",
        left: { kind: "payload", protocol: "th", field: "dport" },
        op: "==",
        right: { kind: "range", lo: { kind: "int", value: 80 }, hi: { kind: "int", value: 90 } },
      },
    ]);
    expect(
      exprs("ip6 saddr 2001:db8::/32 ip6 nexthdr tcp ip protocol udp ip ttl lt 5 ip6 hoplimit eq 255").map((e) =>
        e.kind === "match" ? [e.op, e.right] : null,
      ),
    ).toEqual([
      ["==", { kind: "prefix", addr: "2001:db8::", len: 32 }],
      ["==", { kind: "symbol", name: "tcp" }],
      ["==", { kind: "symbol", name: "udp" }],
      ["<", { kind: "int", value: 5 }],
      ["==", { kind: "int", value: 255 }],
    ]);
  });

  it("address ranges, service names and hex numbers", () => {
    expect(exprs("ip saddr 192.0.2.1-192.0.2.9 tcp dport ssh meta mark 0x10 accept").slice(0, 3)).toEqual([
      {
        kind: "match",
        left: { kind: "payload", protocol: "ip", field: "saddr" },
        op: "==",
        right: {
          kind: "range",
          lo: { kind: "address", addr: "192.0.2.1" },
          hi: { kind: "address", addr: "192.0.2.9" },
        },
      },
      {
        kind: "match",
        left: { kind: "payload", protocol: "tcp", field: "dport" },
        op: "==",
        right: { kind: "int", value: 22 },
      },
      { kind: "match", left: { kind: "meta", key: "mark" }, op: "==", right: { kind: "int", value: 16 } },
    ]);
  });

  it("meta keys, bare forms and interface names as strings", () => {
    expect(
      exprs('meta iifname "eth*" oifname wan iif lo meta oif "lo" meta l4proto { tcp, udp } meta nfproto ipv6 mark 1'),
    ).toEqual([
      { kind: "match", left: { kind: "meta", key: "iifname" }, op: "==", right: { kind: "string", value: "eth*" } },
      { kind: "match", left: { kind: "meta", key: "oifname" }, op: "==", right: { kind: "string", value: "wan" } },
      { kind: "match", left: { kind: "meta", key: "iif" }, op: "==", right: { kind: "string", value: "lo" } },
      { kind: "match", left: { kind: "meta", key: "oif" }, op: "==", right: { kind: "string", value: "lo" } },
      {
        kind: "match",
        left: { kind: "meta", key: "l4proto" },
        op: "==",
        right: {
          kind: "set",
          elements: [
            { kind: "symbol", name: "tcp" },
            { kind: "symbol", name: "udp" },
          ],
        },
      },
      { kind: "match", left: { kind: "meta", key: "nfproto" }, op: "==", right: { kind: "symbol", name: "ipv6" } },
      { kind: "match", left: { kind: "meta", key: "mark" }, op: "==", right: { kind: "int", value: 1 } },
    ]);
  });

  it("ct keys: flag lists mean 'any of these bits', explicit == compares exactly", () => {
    const ct = (key: string) => ({ kind: "ct", key });
    expect(
      exprs(
        'ct state established,related ct status dnat ct direction reply ct mark != 3 ct helper "ftp" ct state == new',
      ),
    ).toEqual([
      {
        kind: "match",
        left: ct("state"),
        op: "in",
        right: {
          kind: "set",
          elements: [
            { kind: "symbol", name: "established" },
            { kind: "symbol", name: "related" },
          ],
        },
      },
      { kind: "match", left: ct("status"), op: "in", right: { kind: "symbol", name: "dnat" } },
      { kind: "match", left: ct("direction"), op: "==", right: { kind: "symbol", name: "reply" } },
      { kind: "match", left: ct("mark"), op: "!=", right: { kind: "int", value: 3 } },
      { kind: "match", left: ct("helper"), op: "==", right: { kind: "string", value: "ftp" } },
      { kind: "match", left: ct("state"), op: "==", right: { kind: "symbol", name: "new" } },
    ]);
  });

  it("tcp flags with a / mask, with & (a|b) == c, and == a|b folded to bits", () => {
    const flags = { kind: "payload", protocol: "tcp", field: "flags" };
    const list = (...n: string[]) => ({ kind: "set", elements: n.map((name) => ({ kind: "symbol", name })) });
    expect(exprs("tcp flags syn / fin,syn,rst,ack")).toEqual([
      {
        kind: "match",
        left: flags,
        op: "==",
        right: { kind: "symbol", name: "syn" },
        mask: list("fin", "syn", "rst", "ack"),
      },
    ]);
    expect(exprs("tcp flags & (fin | syn | rst | ack) == syn")).toEqual([
      {
        kind: "match",
        left: flags,
        op: "==",
        right: { kind: "symbol", name: "syn" },
        mask: list("fin", "syn", "rst", "ack"),
      },
    ]);
    expect(exprs("tcp flags & (syn|ack) == syn|ack")).toEqual([
      { kind: "match", left: flags, op: "==", right: { kind: "int", value: 0x12 }, mask: list("syn", "ack") },
    ]);
    expect(exprs("tcp flags != syn / syn,ack")[0]).toMatchObject({ op: "!=" });
    expect(exprs("tcp flags ! fin,syn,rst")).toEqual([
      { kind: "match", left: flags, op: "==", right: { kind: "int", value: 0 }, mask: list("fin", "syn", "rst") },
    ]);
  });

  it("icmp and icmpv6 type/code, fib lookups", () => {
    expect(exprs("icmp type echo-request icmpv6 type { nd-neighbor-solicit, 135 } icmp code 3")).toMatchObject([
      { left: { protocol: "icmp", field: "type" }, right: { kind: "symbol", name: "echo-request" } },
      {
        left: { protocol: "icmpv6", field: "type" },
        right: {
          kind: "set",
          elements: [
            { kind: "symbol", name: "nd-neighbor-solicit" },
            { kind: "int", value: 135 },
          ],
        },
      },
      { left: { protocol: "icmp", field: "code" }, right: { kind: "int", value: 3 } },
    ]);
    expect(exprs("fib saddr . iif oif missing drop")[0]).toEqual({
      kind: "match",
      left: { kind: "fib", flags: ["saddr", "iif"], result: "oif" },
      op: "==",
      right: { kind: "symbol", name: "missing" },
    });
    expect(exprs("fib daddr type local")[0]).toMatchObject({
      left: { kind: "fib", flags: ["daddr"], result: "type" },
      right: { name: "local" },
    });
  });

  it("concatenations with anonymous sets of concatenated elements", () => {
    expect(exprs("ip saddr . tcp dport { 10.0.0.1 . 22, 10.0.0.0/24 . 80-90 } accept")[0]).toEqual({
      kind: "match",
      left: {
        kind: "concat",
        parts: [
          { kind: "payload", protocol: "ip", field: "saddr" },
          { kind: "payload", protocol: "tcp", field: "dport" },
        ],
      },
      op: "==",
      right: {
        kind: "set",
        elements: [
          {
            kind: "concat",
            parts: [
              { kind: "address", addr: "10.0.0.1" },
              { kind: "int", value: 22 },
            ],
          },
          {
            kind: "concat",
            parts: [
              { kind: "prefix", addr: "10.0.0.0", len: 24 },
              { kind: "range", lo: { kind: "int", value: 80 }, hi: { kind: "int", value: 90 } },
            ],
          },
        ],
      },
    });
  });
});

describe("sets, maps and vmaps", () => {
  it("named sets with type, typeof, flags, elements over several lines, and @references", () => {
    const rs = ok(
      [
        "table inet t {",
        "  set blocked {",
        "    type ipv4_addr",
        "    flags interval, constant",
        "    elements = { 192.0.2.0/24,",
        '      198.51.100.7 comment "bad host",',
        "    }",
        '    comment "blocklist"',
        "  }",
        "  set svc { typeof ip saddr . tcp dport; elements = { 10.0.0.1 . 22 } }",
        "  chain c { ip saddr @blocked drop; ip saddr . tcp dport != @svc drop }",
        "}",
      ].join("\n"),
    );
    const t = rs.tables[0];
    expect(t.sets).toEqual([
      {
        name: "blocked",
        origin: { source: "t.nft", line: 2, column: 3 },
        keyType: ["ipv4_addr"],
        flags: ["interval", "constant"],
        elements: [
          { kind: "prefix", addr: "192.0.2.0", len: 24 },
          { kind: "address", addr: "198.51.100.7" },
        ],
        comment: "blocklist",
      },
      {
        name: "svc",
        origin: { source: "t.nft", line: 10, column: 3 },
        keyType: ["ipv4_addr", "inet_service"],
        elements: [
          {
            kind: "concat",
            parts: [
              { kind: "address", addr: "10.0.0.1" },
              { kind: "int", value: 22 },
            ],
          },
        ],
      },
    ]);
    expect(t.chains[0].rules.map((r) => r.exprs[0])).toMatchObject([
      { op: "==", right: { kind: "setref", name: "blocked" } },
      { op: "!=", right: { kind: "setref", name: "svc" } },
    ]);
    expect(
      parse('table ip t { set s { type ipv4_addr; elements = { 192.0.2.1 comment "x" } } }').diagnostics,
    ).toMatchObject([{ severity: "warning", line: 1, column: 61 }]);
  });

  it("verdict maps: anonymous, named, and data maps", () => {
    const rs = ok(
      [
        "table inet t {",
        "  map ports { type inet_service : verdict; elements = { 22 : accept, 23 : drop, 80 : jump web } }",
        "  map fwd { type ipv4_addr : ipv4_addr; elements = { 192.0.2.1 : 10.0.0.1 } }",
        "  chain web { }",
        "  chain c {",
        "    ct state vmap { established : accept, related : accept, invalid : drop }",
        "    tcp dport vmap @ports",
        "  }",
        "}",
      ].join("\n"),
    );
    const t = rs.tables[0];
    expect(t.maps?.map((m) => [m.name, m.keyType, m.dataType, m.elements.length])).toEqual([
      ["ports", ["inet_service"], "verdict", 3],
      ["fwd", ["ipv4_addr"], "ipv4_addr", 1],
    ]);
    expect(t.maps?.[0].elements[2]).toEqual({
      key: { kind: "int", value: 80 },
      data: { kind: "verdict", verdict: { kind: "jump", target: "web" } },
    });
    expect(t.maps?.[1].elements[0]).toEqual({
      key: { kind: "address", addr: "192.0.2.1" },
      data: { kind: "value", value: { kind: "address", addr: "10.0.0.1" } },
    });
    expect(t.chains[1].rules.map((r) => r.exprs[0])).toEqual([
      {
        kind: "vmap",
        key: { kind: "ct", key: "state" },
        map: {
          kind: "anonymous",
          entries: [
            { key: { kind: "symbol", name: "established" }, verdict: { kind: "accept" } },
            { key: { kind: "symbol", name: "related" }, verdict: { kind: "accept" } },
            { key: { kind: "symbol", name: "invalid" }, verdict: { kind: "drop" } },
          ],
        },
      },
      {
        kind: "vmap",
        key: { kind: "payload", protocol: "tcp", field: "dport" },
        map: { kind: "named", name: "ports" },
      },
    ]);
  });
});

describe("statements and verdicts", () => {
  it("counter, log, limit", () => {
    expect(
      exprs(
        'counter packets 12 bytes 3400 log prefix "in: " level info flags all limit rate over 10/minute burst 20 packets limit rate 1 mbytes/second limit rate 2kbytes/hour burst 512 bytes',
      ),
    ).toEqual([
      { kind: "counter" },
      { kind: "log", prefix: "in: ", level: "info" },
      { kind: "limit", rate: 10, per: "minute", burst: 20, unit: "packets", over: true },
      { kind: "limit", rate: 1048576, per: "second", burst: 0, unit: "bytes", over: false },
      { kind: "limit", rate: 2048, per: "hour", burst: 512, unit: "bytes", over: false },
    ]);
  });

  it("mark and helper statements, notrack, MSS clamp", () => {
    expect(
      exprs(
        'meta mark set 0x1 mark set 2 ct mark set 3 ct helper set "ftp" notrack tcp option maxseg size set rt mtu tcp option maxseg size set 1400',
      ),
    ).toEqual([
      { kind: "mark-set", target: "meta", value: 1 },
      { kind: "mark-set", target: "meta", value: 2 },
      { kind: "mark-set", target: "ct", value: 3 },
      { kind: "ct-helper-set", name: "ftp" },
      { kind: "notrack" },
      { kind: "tcp-mss-set", size: "rt-mtu" },
      { kind: "tcp-mss-set", size: 1400 },
    ]);
  });

  it("snat, dnat, masquerade, redirect with ports, ranges, families and flags", () => {
    const one = (s: string) => exprs(s)[0];
    expect(one("dnat to 192.168.1.10:80")).toEqual({
      kind: "dnat",
      addr: { kind: "address", addr: "192.168.1.10" },
      port: { lo: 80, hi: 80 },
    });
    expect(one("dnat ip to 10.0.0.2")).toEqual({
      kind: "dnat",
      family: "ip",
      addr: { kind: "address", addr: "10.0.0.2" },
    });
    expect(one("dnat ip6 to [2001:db8::2]:8080")).toEqual({
      kind: "dnat",
      family: "ip6",
      addr: { kind: "address", addr: "2001:db8::2" },
      port: { lo: 8080, hi: 8080 },
    });
    expect(one("snat to 203.0.113.1-203.0.113.9:1024-2048 random, persistent")).toEqual({
      kind: "snat",
      addr: {
        kind: "range",
        lo: { kind: "address", addr: "203.0.113.1" },
        hi: { kind: "address", addr: "203.0.113.9" },
      },
      port: { lo: 1024, hi: 2048 },
      flags: ["random", "persistent"],
    });
    expect(one("dnat to :8080")).toEqual({ kind: "dnat", port: { lo: 8080, hi: 8080 } });
    expect(one("masquerade to :1024-65535 fully-random")).toEqual({
      kind: "masquerade",
      port: { lo: 1024, hi: 65535 },
      flags: ["fully-random"],
    });
    expect(one("masquerade")).toEqual({ kind: "masquerade" });
    expect(one("redirect to :3128")).toEqual({ kind: "redirect", port: { lo: 3128, hi: 3128 } });
  });

  it("verdicts, reject variants and rule comments", () => {
    const rs = ok(
      'table inet t { chain a { }\nchain c {\naccept\ndrop\nreturn\ncontinue\njump a\ngoto a\nreject\nreject with tcp reset\nreject with icmp type host-unreachable\nreject with icmpv6 admin-prohibited\nreject with icmpx port-unreachable comment "last"\n} }',
    );
    const rules = rs.tables[0].chains[1].rules;
    expect(rules.map((r) => r.exprs[0])).toEqual([
      { kind: "accept" },
      { kind: "drop" },
      { kind: "return" },
      { kind: "continue" },
      { kind: "jump", target: "a" },
      { kind: "goto", target: "a" },
      { kind: "reject" },
      { kind: "reject", with: { type: "tcp-reset" } },
      { kind: "reject", with: { type: "icmp", code: "host-unreachable" } },
      { kind: "reject", with: { type: "icmpv6", code: "admin-prohibited" } },
      { kind: "reject", with: { type: "icmpx", code: "port-unreachable" } },
    ]);
    expect(rules.map((r) => r.origin.line)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    expect(rules[10].comment).toBe("last");
  });
});

describe("define, include and the fw4 default", () => {
  it("expands defines, including set values, at the use site", () => {
    const rs = ok(
      'define WAN = "eth0"\ndefine PORTS = { 22, 443 }\ndefine NET = 192.0.2.0/24\ntable ip t { chain c { iifname $WAN tcp dport $PORTS ip saddr $NET accept } }',
    );
    expect(rs.tables[0].chains[0].rules[0].exprs.slice(0, 3)).toEqual([
      { kind: "match", left: { kind: "meta", key: "iifname" }, op: "==", right: { kind: "string", value: "eth0" } },
      {
        kind: "match",
        left: { kind: "payload", protocol: "tcp", field: "dport" },
        op: "==",
        right: {
          kind: "set",
          elements: [
            { kind: "int", value: 22 },
            { kind: "int", value: 443 },
          ],
        },
      },
      {
        kind: "match",
        left: { kind: "payload", protocol: "ip", field: "saddr" },
        op: "==",
        right: { kind: "prefix", addr: "192.0.2.0", len: 24 },
      },
    ]);
    expect(errors("table ip t { chain c { tcp dport $NOPE accept } }")).toEqual([
      "1:34: error: undefined variable '$NOPE'",
    ]);
  });

  const dir = mkdtempSync(join(tmpdir(), "mallory-nft-"));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("loads relative includes from files with their own origins, and reports missing ones", () => {
    mkdirSync(join(dir, "conf.d"));
    writeFileSync(
      join(dir, "main.nft"),
      'include "conf.d/vars.nft"\ntable inet f {\n  chain input {\n    type filter hook input priority 0; policy drop;\n    include "conf.d/rules.nft"\n    tcp dport $SSH accept\n  }\n}\n',
    );
    writeFileSync(join(dir, "conf.d", "vars.nft"), "define SSH = 22\n");
    writeFileSync(join(dir, "conf.d", "rules.nft"), "# allowed\n\n  ct state established,related accept\n");
    const r = loadNftFile(join(dir, "main.nft"));
    expect(r.diagnostics).toEqual([]);
    const rules = r.ruleset!.tables[0].chains[0].rules;
    expect(rules.map((x) => x.origin)).toEqual([
      { source: join(dir, "conf.d", "rules.nft"), line: 3, column: 3 },
      { source: join(dir, "main.nft"), line: 6, column: 5 },
    ]);
    writeFileSync(join(dir, "loop.nft"), 'include "loop.nft"\n');
    expect(loadNftFile(join(dir, "loop.nft")).diagnostics.map((d) => [d.code, d.line, d.column])).toEqual([
      ["include-loop", 1, 9],
    ]);
    writeFileSync(join(dir, "missing.nft"), 'table ip t { }\ninclude "nope.nft"\n');
    const m = loadNftFile(join(dir, "missing.nft"));
    expect(m.ruleset).toBeNull();
    expect(m.diagnostics.map((d) => [d.code, d.line, d.column])).toEqual([["include-not-found", 2, 9]]);
    expect(loadNftFile(join(dir, "absent.nft")).diagnostics[0].code).toBe("file-not-found");
  });

  it("parses firewall4's default ruleset and compiles it", () => {
    const rs = ok(FW4_DEFAULT);
    const t = rs.tables[0];
    expect([t.family, t.name, t.chains.length]).toEqual(["inet", "fw4", 28]);
    const byName = new Map(t.chains.map((c) => [c.name, c]));
    expect(byName.get("input")?.base).toEqual({ type: "filter", hook: "input", priority: 0, policy: "drop" });
    expect(byName.get("mangle_forward")?.base?.priority).toBe(-150);
    expect(byName.get("srcnat")?.base).toEqual({ type: "nat", hook: "postrouting", priority: 100, policy: "accept" });
    expect(byName.get("mangle_forward")?.rules[0].exprs.at(-1)).toEqual({ kind: "tcp-mss-set", size: "rt-mtu" });
    expect(byName.get("syn_flood")?.rules[0].exprs).toEqual([
      { kind: "limit", rate: 25, per: "second", burst: 50, unit: "packets", over: false },
      { kind: "return" },
    ]);
    expect(byName.get("input")?.rules[0].origin).toEqual({ source: "t.nft", line: 5, column: 3 });
    const compiled = compileRuleset(rs, { interfaces: ["lo", "br-lan", "wan"] });
    expect(compiled.ok).toBe(true);
  });
});

describe("ct helper objects", () => {
  it("reads an object (type, protocol, l3proto, comment) and the rule that names it", () => {
    const r = ok(
      'table inet t {\n  ct helper ftp-standard {\n    type "ftp" protocol tcp\n    l3proto inet\n    comment "FTP"\n  }\n' +
        '  ct helper sip { type "sip" protocol udp; }\n  chain c { tcp dport 21 ct helper set "ftp-standard" }\n}',
    );
    expect(r.tables[0].ctHelpers).toEqual([
      {
        name: "ftp-standard",
        origin: { source: "t.nft", line: 2, column: 3 },
        type: "ftp",
        protocol: "tcp",
        l3proto: "inet",
        comment: "FTP",
      },
      { name: "sip", origin: { source: "t.nft", line: 7, column: 3 }, type: "sip", protocol: "udp" },
    ]);
    expect(r.tables[0].chains[0].rules[0].exprs.at(-1)).toEqual({ kind: "ct-helper-set", name: "ftp-standard" });
  });

  it("names what is wrong with an object, and other ct objects stay unsupported", () => {
    expect(errors("table ip t { ct helper h { l3proto ip } }")).toEqual([
      "1:14: error: ct helper h needs 'type \"<helper>\" protocol tcp|udp'",
    ]);
    expect(errors('table ip t { ct helper h { type "ftp" protocol sctp } }')).toEqual([
      "1:48: error: expected 'tcp' or 'udp' after 'protocol', got 'sctp'",
    ]);
    expect(
      errors('table ip t { ct helper h { type "ftp" protocol tcp }\n ct helper h { type "sip" protocol udp } }'),
    ).toEqual(["2:2: error: ct helper h is declared twice"]);
    expect(errors("table ip t { ct timeout x { protocol tcp; } }")).toEqual([
      "1:14: unsupported: a named ct timeout object is not supported by Mallory's ruleset model",
    ]);
  });
});

describe("errors", () => {
  it("positions each error at the offending token and names what was expected", () => {
    expect(errors("table ip t {\n  chain c {\n    type filter input priority 0;\n  }\n}")).toEqual([
      "3:17: error: expected 'hook' after 'type filter', got 'input'",
    ]);
    expect(errors("table ip t { chain c { type filter hook sideways priority 0 } }")).toEqual([
      "1:41: error: expected 'prerouting', 'input', 'forward', 'output' or 'postrouting' after 'hook', got 'sideways'",
    ]);
    expect(errors("table ip t { chain c { type filter hook input priority hi } }")).toEqual([
      "1:56: error: expected a priority (a number or raw, mangle, dstnat, filter, security, srcnat) after 'priority', got 'hi'",
    ]);
    expect(errors("table ip t { chain c { tcp dport accept } }")).toEqual(["1:34: error: unknown service 'accept'"]);
    expect(errors("table ip t { chain c { tcp port 22 } }")).toEqual([
      "1:28: unsupported: 'tcp port' is not supported by Mallory's ruleset model",
    ]);
    expect(errors("table ip t { chain c { reject with icmp type bogus } }")).toEqual([
      "1:46: error: expected an icmp reject code (net-unreachable, host-unreachable, prot-unreachable, port-unreachable, net-prohibited, host-prohibited, admin-prohibited) after 'reject with icmp', got 'bogus'",
    ]);
    expect(errors("table bridge b { }")).toEqual([
      "1:7: unsupported: the bridge family is not supported by Mallory's ruleset model",
    ]);
    expect(errors("table ip t { chain c { ip saddr 10.0.0.0/40 } }")).toEqual([
      "1:42: error: prefix length 40 is too long for 10.0.0.0",
    ]);
    expect(errors("table ip t { chain c { limit rate 10/fortnight } }")).toEqual([
      "1:38: error: expected second, minute, hour, day or week after '/', got 'fortnight'",
    ]);
    expect(errors("table ip t { chain c { ip saddr { 10.0.0.1, } accept }")).toEqual([
      "1:55: error: expected '}' to close table t opened at 1:12",
    ]);
    expect(errors('table ip t { chain c { comment "x } }')).toEqual([
      "1:32: error: unterminated string",
      "1:38: error: expected a quoted string after 'comment', got end of input",
      "1:38: error: expected '}' to close chain c opened at 1:22",
      "1:38: error: expected '}' to close table t opened at 1:12",
    ]);
    expect(errors("table ip t { chain c { queue num 1 } }")).toEqual([
      "1:24: unsupported: 'queue' is not supported by Mallory's ruleset model",
    ]);
    expect(errors("table ip t { chain c { ether saddr 00:11:22:33:44:55 drop } }")).toEqual([
      "1:24: unsupported: 'ether' is not supported by Mallory's ruleset model",
    ]);
    expect(errors("}\ntable")).toEqual([
      "1:1: error: unmatched '}'",
      "2:6: error: expected a table name, got end of input",
    ]);
  });

  it("recovers at the next statement and reports every broken rule", () => {
    const d = errors(
      "table ip t {\n  chain c {\n    tcp dport foo accept\n    accept\n    ip saddr 1.2.3 drop\n    udp dport { 53, } accept\n    bogus\n  }\n}",
    );
    expect(d).toEqual([
      "3:15: error: unknown service 'foo'",
      "5:14: error: '1.2.3' is not an IPv4 address",
      "7:5: error: unknown expression 'bogus'",
    ]);
  });

  it("warns, without failing, on packet-invisible details it drops", () => {
    const r = parse("table ip t { chain c { log flags all group 2 accept } }");
    expect(r.ruleset).not.toBeNull();
    expect(r.diagnostics.map((d) => [d.severity, d.column])).toEqual([
      ["warning", 28],
      ["warning", 38],
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Robustness: random token- and character-level mutations of valid rulesets.

const SEEDS = [
  FW4_DEFAULT,
  'define LAN = { 192.168.1.0/24, 10.0.0.0/8 }\ntable inet filter {\n  set allowed { type ipv4_addr . inet_service; flags interval; elements = { 192.0.2.1 . 22, 192.0.2.0/24 . 80-90 } }\n  chain input {\n    type filter hook input priority filter; policy drop;\n    ct state vmap { established : accept, related : accept, invalid : drop }\n    iif lo accept\n    ip saddr $LAN tcp dport { 22, 80, 443 } counter accept comment "lan"\n    ip saddr . tcp dport @allowed accept\n    tcp flags & (fin|syn|rst|ack) == syn limit rate 25/second burst 50 packets accept\n    reject with icmpx port-unreachable\n  }\n  chain pre { type nat hook prerouting priority dstnat; dnat ip to 10.0.0.2:8080; }\n  chain post { type nat hook postrouting priority srcnat; oifname "wan" masquerade random }\n}\n',
];
const PIECES = [
  "{",
  "}",
  ";",
  "\n",
  ",",
  ".",
  ":",
  "-",
  "/",
  "$X",
  "@s",
  '"',
  "#",
  "\\",
  "accept",
  "table",
  "chain",
  "ip",
  "tcp",
  "dport",
  "22",
  "10.0.0.1",
  "::1",
  "type",
  "hook",
  "priority",
  "vmap",
  "set",
  "==",
  "&",
  "(",
  ")",
  "|",
];

function mutate(seed: string, ops: readonly (readonly [number, number, number])[]): string {
  const toks = lexNft(seed, "m").tokens;
  let text = seed;
  for (const [kind, a, b] of ops) {
    const t = toks[a % toks.length];
    // Offsets of the original text are approximate after the first edit; any position is a valid mutation.
    const at = Math.min(text.length, (t.line - 1) * 40 + t.column);
    switch (kind % 5) {
      case 0:
        text = text.slice(0, at) + text.slice(at + 1 + (b % 6));
        break;
      case 1:
        text = text.slice(0, at) + PIECES[b % PIECES.length] + text.slice(at);
        break;
      case 2:
        text = text.slice(0, at) + text.slice(at, at + 1 + (b % 12)) + text.slice(at);
        break;
      case 3:
        text = text.slice(0, at) + PIECES[b % PIECES.length] + text.slice(at + 1 + (b % 4));
        break;
      default:
        text = text.slice(0, at) + String.fromCharCode(b % 128) + text.slice(at);
    }
  }
  return text;
}

test.prop(
  [
    fc.nat(SEEDS.length - 1),
    fc.array(fc.tuple(fc.nat(4), fc.nat(100_000), fc.nat(1000)), { minLength: 1, maxLength: 6 }),
  ],
  { numRuns: 2000 },
)("mutated rulesets parse to a ruleset or to positioned diagnostics, never throw or hang", (s, ops) => {
  const text = mutate(SEEDS[s], ops);
  const start = performance.now();
  const r = parseNftText(text, { source: "m.nft" });
  expect(performance.now() - start).toBeLessThan(500);
  const lines = text.split("\n").length;
  for (const d of r.diagnostics) {
    expect(d.line).toBeGreaterThanOrEqual(1);
    expect(d.line).toBeLessThanOrEqual(lines);
    expect(d.column).toBeGreaterThanOrEqual(1);
    expect(d.message.length).toBeGreaterThan(0);
  }
  const failing = r.diagnostics.some((d) => d.severity !== "warning");
  expect(r.ruleset === null).toBe(failing);
});

// ---------------------------------------------------------------------------------------------------------------
// Scale: ClassBench fw1_10k as nft rules.

function classBenchRuleset(n: number): string {
  const parsed = parseClassBench(
    readFileSync(new URL("../../../../shared/data/classbench/fw1_10k", import.meta.url), "utf8"),
  );
  if (!parsed.ok) throw new Error(parsed.error.message);
  const prefix = (lo: number, hi: number): string => {
    const len = 32 - Math.log2(hi - lo + 1);
    return `${formatIpv4(lo)}/${String(len)}`;
  };
  const ports = (lo: number, hi: number): string => (lo === hi ? String(lo) : `${String(lo)}-${String(hi)}`);
  const lines = ["table ip cb {", "  chain fw {", "    type filter hook forward priority filter; policy drop;"];
  for (let i = 0; i < n; i++) {
    const r = parsed.rules[i % parsed.rules.length];
    let rule = `    ip saddr ${prefix(r.srcLo, r.srcHi)} ip daddr ${prefix(r.dstLo, r.dstHi)}`;
    if (r.protoLo === r.protoHi) rule += ` meta l4proto ${String(r.protoLo)}`;
    if (r.sportLo !== 0 || r.sportHi !== 0xffff) rule += ` th sport ${ports(r.sportLo, r.sportHi)}`;
    if (r.dportLo !== 0 || r.dportHi !== 0xffff) rule += ` th dport ${ports(r.dportLo, r.dportHi)}`;
    lines.push(`${rule} accept`);
  }
  lines.push("  }", "}");
  return lines.join("\n");
}

it("parses a 10,000-rule ClassBench ruleset quickly", () => {
  const text = classBenchRuleset(10_000);
  parseNftText(text, { source: "warm.nft" });
  const start = performance.now();
  const r = parseNftText(text, { source: "fw1_10k.nft" });
  const ms = performance.now() - start;
  expect(r.diagnostics).toEqual([]);
  const rules = r.ruleset!.tables[0].chains[0].rules;
  expect(rules).toHaveLength(10_000);
  expect(rules[9_999].origin.line).toBe(10_003);
  expect(rules[0].exprs[0]).toEqual({
    kind: "match",
    left: { kind: "payload", protocol: "ip", field: "saddr" },
    op: "==",
    right: { kind: "prefix", addr: "209.32.125.224", len: 28 },
  });
  expect(ms).toBeLessThan(3000);
});
