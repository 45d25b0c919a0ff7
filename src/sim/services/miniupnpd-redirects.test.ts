// miniupnpd's redirection table on the seed router: the chains it adds to the ruleset, the permission semantics
// (first match wins, no match allows, target not requester), and Datapath.replaceRuleset leaving the old
// ruleset in force when a new one does not compile.

import { fc, test as fcTest } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import type { Chain } from "../../engine/filter/index.js";
import { parseIpv4 } from "../../wire/address.js";
import { parseUpnpPermission } from "../../model/intent.js";
import type { ParsedPermission } from "../../model/intent.js";
import { buildSeedHome } from "../seed-home.fixture.js";
import type { RedirectRequest } from "./miniupnpd-redirects.js";
import {
  MINIUPNPD_FORWARD_CHAIN,
  MINIUPNPD_NAT_CHAIN,
  RedirectTable,
  matchPermission,
  permitted,
} from "./miniupnpd-redirects.js";

const ip = (s: string): number => parseIpv4(s)!;

function permissions(...lines: string[]): ParsedPermission[] {
  return lines.map((l) => {
    const p = parseUpnpPermission(l);
    if (!p.ok) throw new Error(p.error.message);
    return p.value;
  });
}

const request = (o: Partial<RedirectRequest> = {}): RedirectRequest => ({
  proto: "tcp",
  externalPort: 4444,
  internalClient: ip("192.168.1.10"),
  internalPort: 4444,
  description: "test",
  leaseSeconds: 0,
  requester: ip("192.168.1.10"),
  mechanism: "upnp",
  action: "AddPortMapping",
  ...o,
});

function chains(t: RedirectTable): Chain[] {
  return t.node.datapath.ruleset.tables.flatMap((x) => x.chains);
}

describe("the rules miniupnpd installs", () => {
  it("adds its chains at start, a rule pair per redirect, and removes them again", () => {
    const h = buildSeedHome();
    const t = new RedirectTable(h.router, { clock: h.sim.clock, wanInterface: "wan", permissions: [] });
    const forward = chains(t).find((c) => c.base?.hook === "forward")!;
    expect(forward.rules[0].exprs).toEqual([{ kind: "jump", target: MINIUPNPD_FORWARD_CHAIN }]);
    expect(chains(t).find((c) => c.name === MINIUPNPD_NAT_CHAIN)?.rules).toEqual([]);
    expect(t.add(request())).toMatchObject({ kind: "added" });
    const nat = chains(t).find((c) => c.name === MINIUPNPD_NAT_CHAIN)!;
    expect(nat.base).toEqual({ type: "nat", hook: "prerouting", priority: -100, policy: "accept" });
    expect(nat.rules[0].exprs).toEqual([
      { kind: "match", left: { kind: "meta", key: "iifname" }, op: "==", right: { kind: "string", value: "wan" } },
      {
        kind: "match",
        left: { kind: "payload", protocol: "tcp", field: "dport" },
        op: "==",
        right: { kind: "int", value: 4444 },
      },
      { kind: "dnat", family: "ip", addr: { kind: "address", addr: "192.168.1.10" }, port: { lo: 4444, hi: 4444 } },
    ]);
    expect(
      chains(t)
        .find((c) => c.name === MINIUPNPD_FORWARD_CHAIN)
        ?.rules[0].exprs.at(-1),
    ).toEqual({ kind: "accept" });
    expect(t.remove("tcp", 4444)).toBe(true);
    expect(t.remove("tcp", 4444)).toBe(false);
    expect(chains(t).find((c) => c.name === MINIUPNPD_NAT_CHAIN)?.rules).toEqual([]);
  });

  it("replaceRuleset refuses a ruleset that does not compile and keeps the one in force", () => {
    const h = buildSeedHome();
    const before = h.router.datapath.ruleset;
    const broken = {
      tables: [
        {
          ...before.tables[0],
          chains: [
            ...before.tables[0].chains,
            {
              name: "x",
              origin: before.tables[0].origin,
              rules: [{ origin: before.tables[0].origin, exprs: [{ kind: "jump" as const, target: "nowhere" }] }],
            },
          ],
        },
      ],
    };
    expect(h.router.datapath.replaceRuleset(broken).ok).toBe(false);
    expect(h.router.datapath.ruleset).toBe(before);
  });
});

describe("permissions (upnppermissions.c)", () => {
  const sample = permissions("allow 1024-65535 192.168.1.0/24 1024-65535", "deny 0-65535 0.0.0.0/0 0-65535");

  it("check the target, not the requester: S:22 refused, S:5353 allowed", () => {
    expect(permitted(sample, 2222, ip("192.168.1.20"), 22)).toBe(false);
    expect(permitted(sample, 5353, ip("192.168.1.20"), 5353)).toBe(true);
    expect(matchPermission(sample, 2222, ip("192.168.1.20"), 22)).toBe(1);
  });

  it("no match means allow; first match wins", () => {
    expect(permitted(permissions("deny 80 10.0.0.0/8 80"), 2222, ip("192.168.1.20"), 22)).toBe(true);
    expect(permitted(permissions("allow 0-65535 0.0.0.0/0 0-65535", "deny 0-65535 0.0.0.0/0 0-65535"), 1, 1, 1)).toBe(
      true,
    );
  });

  it("the table reports which line refused", () => {
    const h = buildSeedHome();
    const t = new RedirectTable(h.router, { clock: h.sim.clock, wanInterface: "wan", permissions: sample });
    expect(t.add(request({ externalPort: 2222, internalClient: ip("192.168.1.20"), internalPort: 22 }))).toEqual({
      kind: "not-permitted",
      rule: 1,
    });
  });

  fcTest.prop([
    fc.array(
      fc.tuple(
        fc.boolean(),
        fc.integer({ min: 0, max: 65535 }),
        fc.integer({ min: 0, max: 65535 }),
        fc.integer({ min: 0, max: 32 }),
      ),
      { maxLength: 5 },
    ),
    fc.integer({ min: 0, max: 65535 }),
    fc.integer({ min: 0, max: 0xffffffff }),
  ])("agrees with a plain first-match reading", (rules, port, addr) => {
    const lines = permissions(
      ...rules.map(
        ([allow, a, b, len]) =>
          `${allow ? "allow" : "deny"} ${Math.min(a, b)}-${Math.max(a, b)} 192.168.0.0/${Math.min(len, 16)} 0-65535`,
      ),
    );
    const first = lines.findIndex(
      (l) =>
        port >= l.extPorts[0] &&
        port <= l.extPorts[1] &&
        (l.prefix.len === 0 || addr >>> (32 - l.prefix.len) === l.prefix.addr >>> (32 - l.prefix.len)),
    );
    expect(permitted(lines, port, addr, 80)).toBe(first < 0 || lines[first].action === "allow");
  });
});
