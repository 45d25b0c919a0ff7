// NAT-PMP (RFC 6886) on seed-home's router with real packets from U: external address, mappings that carry
// Mallory's traffic to U, miniupnpd's permission walk, deletion, and the wire format's two faces.

import { fc, test as fcTest } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { parseUpnpPermission } from "../../model/intent.js";
import type { ParsedPermission } from "../../model/intent.js";
import { fromHex, hex } from "../../wire/bytes.js";
import { buildSeedHome } from "../seed-home.fixture.js";
import type { SeedHome } from "../seed-home.fixture.js";
import { addressWords } from "../simulation.js";
import type { NatPmpClientResult, NatPmpHandle, NatPmpRequest } from "./nat-pmp.js";
import {
  NatPmpResult,
  emitNatPmpRequest,
  emitNatPmpResponse,
  installNatPmp,
  natPmpRequest,
  parseNatPmpRequest,
  parseNatPmpResponse,
} from "./nat-pmp.js";
import { installUpnpIgd } from "./upnp-igd.js";

const A = (s: string): Uint32Array => addressWords(s)!.words;

function permissions(...lines: string[]): ParsedPermission[] {
  return lines.map((l) => {
    const p = parseUpnpPermission(l);
    if (!p.ok) throw new Error(p.error.message);
    return p.value;
  });
}

function setup(perms: ParsedPermission[] = []): { h: SeedHome; pmp: NatPmpHandle } {
  const h = buildSeedHome();
  const pmp = installNatPmp(h.router, {
    clock: h.sim.clock,
    lanAddresses: ["192.168.1.1/24"],
    wanInterface: "wan",
    permissions: perms,
  });
  return { h, pmp };
}

function ask(h: SeedHome, req: NatPmpRequest): NatPmpClientResult | null {
  let out: NatPmpClientResult | null = null;
  natPmpRequest(h.u, h.sim.clock, "192.168.1.1", req, (r) => (out = r));
  h.sim.run({ until: h.sim.now + 1000 });
  return out;
}

const mapTcp = (internalPort: number, suggestedExternalPort: number, lifetime = 7200): NatPmpRequest => ({
  kind: "map",
  version: 0,
  proto: "tcp",
  internalPort,
  suggestedExternalPort,
  lifetime,
});

describe("NAT-PMP server", () => {
  it("opcode 0 answers the WAN address, with the seconds since the daemon started", () => {
    const { h } = setup();
    h.sim.run({ until: 5500 });
    expect(ask(h, { kind: "external-address", version: 0 })).toEqual({
      kind: "answered",
      response: { kind: "external-address", result: 0, epoch: 5, address: A("198.51.100.2")[0] },
    });
  });

  it("opcode 2 maps WAN:4444 → U:4444 and Mallory's connection reaches U", () => {
    const { h, pmp } = setup();
    const r = ask(h, mapTcp(4444, 4444));
    expect(r).toMatchObject({
      response: { kind: "map", result: 0, externalPort: 4444, internalPort: 4444, lifetime: 7200 },
    });
    expect(pmp.redirects.get("tcp", 4444)?.internalClient).toBe(A("192.168.1.10")[0]);
    let reached = false;
    h.u.stack.listenTcp(4444, { onEstablished: () => (reached = true) });
    h.mallory.stack.connect(4, A("198.51.100.2"), 4444, {});
    h.sim.run({ until: h.sim.now + 2000 });
    expect(reached).toBe(true);
  });

  it("walks past a port another host holds, and past ports the permissions refuse", () => {
    const { h, pmp } = setup(permissions("deny 4445 0.0.0.0/0 0-65535"));
    pmp.redirects.add({
      proto: "tcp",
      externalPort: 4444,
      internalClient: A("192.168.1.20")[0],
      internalPort: 4444,
      description: "S",
      leaseSeconds: 0,
      requester: A("192.168.1.20")[0],
      mechanism: "upnp",
      action: "test",
    });
    expect(ask(h, mapTcp(4444, 4444))).toMatchObject({ response: { result: 0, externalPort: 4446 } });
  });

  it("answers 2 (refused) when the permissions deny every port", () => {
    const { h, pmp } = setup(
      permissions("allow 1024-65535 192.168.1.0/24 1024-65535", "deny 0-65535 0.0.0.0/0 0-65535"),
    );
    expect(ask(h, mapTcp(22, 22))).toMatchObject({
      response: { result: NatPmpResult.NOT_AUTHORIZED, externalPort: 0 },
    });
    expect(pmp.redirects.size).toBe(0);
  });

  it("lifetime 0 deletes the sender's mapping (RFC 6886 §3.4)", () => {
    const { h, pmp } = setup();
    ask(h, mapTcp(4444, 4444));
    expect(pmp.redirects.size).toBe(1);
    expect(ask(h, mapTcp(4444, 0, 0))).toMatchObject({ response: { result: 0, externalPort: 0, lifetime: 0 } });
    expect(pmp.redirects.size).toBe(0);
  });

  it("unsupported version and opcode get results 1 and 5", () => {
    const { h } = setup();
    expect(ask(h, { kind: "external-address", version: 1 })).toMatchObject({
      response: { kind: "error", opcode: 0, result: 1 },
    });
    expect(ask(h, { kind: "unknown", version: 0, opcode: 9 })).toMatchObject({
      response: { kind: "error", opcode: 9, result: 5 },
    });
  });

  it("shares the redirect table with the IGD: a UPnP mapping blocks the same port for NAT-PMP of another host", () => {
    const h = buildSeedHome();
    const igd = installUpnpIgd(h.router, {
      clock: h.sim.clock,
      lanAddresses: ["192.168.1.1/24"],
      wanInterface: "wan",
      secureMode: true,
      permissions: [],
    });
    installNatPmp(h.router, {
      clock: h.sim.clock,
      lanAddresses: ["192.168.1.1/24"],
      wanInterface: "wan",
      permissions: [],
      redirects: igd.redirects,
    });
    igd.redirects.add({
      proto: "tcp",
      externalPort: 8000,
      internalClient: A("192.168.1.20")[0],
      internalPort: 8000,
      description: "S",
      leaseSeconds: 0,
      requester: A("192.168.1.20")[0],
      mechanism: "upnp",
      action: "test",
    });
    expect(ask(h, mapTcp(8000, 8000))).toMatchObject({ response: { result: 0, externalPort: 8001 } });
  });

  it("no server: the client gives up after its retries", () => {
    const h = buildSeedHome();
    let out: NatPmpClientResult | null = null;
    natPmpRequest(h.u, h.sim.clock, "192.168.1.1", mapTcp(1, 1), (r) => (out = r), 3);
    h.sim.run({ until: 5000 });
    expect(out).toEqual({ kind: "timeout" });
  });
});

describe("NAT-PMP wire format", () => {
  it("matches RFC 6886 §3.3 byte for byte", () => {
    expect(hex(emitNatPmpRequest(mapTcp(4444, 4444)))).toBe("00020000115c115c00001c20");
    const resp = fromHex("0082000000000005115c115c00001c20");
    expect(parseNatPmpResponse(resp)).toEqual({
      ok: true,
      value: { kind: "map", proto: "tcp", result: 0, epoch: 5, internalPort: 4444, externalPort: 4444, lifetime: 7200 },
    });
    expect(
      hex(emitNatPmpResponse({ kind: "external-address", result: 0, epoch: 7, address: A("198.51.100.2")[0] })),
    ).toBe("0080000000000007c6336402");
  });

  fcTest.prop([fc.uint8Array({ maxLength: 20 })])("parsers never throw", (b) => {
    parseNatPmpRequest(b);
    parseNatPmpResponse(b);
  });

  fcTest.prop([
    fc.constantFrom<"tcp" | "udp">("tcp", "udp"),
    fc.integer({ min: 0, max: 0xffff }),
    fc.integer({ min: 0, max: 0xffff }),
    fc.nat(),
  ])("request round trip", (proto, internalPort, suggestedExternalPort, lifetime) => {
    const req: NatPmpRequest = { kind: "map", version: 0, proto, internalPort, suggestedExternalPort, lifetime };
    expect(parseNatPmpRequest(emitNatPmpRequest(req))).toEqual({ ok: true, value: req });
  });
});
