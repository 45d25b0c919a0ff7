// NAT-PMP (RFC 6886) as miniupnpd's natpmp.c serves it on UDP 5351 of the router's LAN addresses: opcode 0
// (external address), 1 and 2 (map UDP / TCP). A mapping always targets the sender's own address (§3.3); the
// same permission lines as UPnP apply, and the same redirection table and netfilter rules carry it. miniupnpd
// starts at the suggested external port (the internal port when none is suggested) and walks upward past
// ports the permissions refuse or another client holds: when every port is refused it answers 2 (Not
// Authorized/Refused), when the allowed ones are all taken 4 (Out of resources). Lifetime 0 deletes (§3.4).
// Also the client side, for malware that prefers NAT-PMP.

import { formatIpv4 } from "../../wire/address.js";
import { readU16, readU32, writeU16, writeU32 } from "../../wire/bytes.js";
import type { Result } from "../../wire/result.js";
import { err, ok } from "../../wire/result.js";
import type { ParsedPermission } from "../../model/intent.js";
import type { EventClock } from "../clock.js";
import { EPHEMERAL_MAX, EPHEMERAL_MIN } from "../host-stack.js";
import type { SimNode } from "../node.js";
import { addressWords } from "../simulation.js";
import type { MappingProto, RedirectTable } from "./miniupnpd-redirects.js";
import { inSubnet, parseLanAddresses, redirectTableFor } from "./upnp-igd.js";

export const NAT_PMP_PORT = 5351;
export const NAT_PMP_VERSION = 0;
/** RFC 6886 §3.3: the recommended lifetime. */
export const NAT_PMP_DEFAULT_LIFETIME = 7200;

export const NatPmpOpcode = { EXTERNAL_ADDRESS: 0, MAP_UDP: 1, MAP_TCP: 2 } as const;
/** Responses carry the request's opcode plus 128 (§3.2, §3.3). */
export const NAT_PMP_RESPONSE_BIT = 0x80;

/** §3.5 result codes. */
export const NatPmpResult = {
  SUCCESS: 0,
  UNSUPPORTED_VERSION: 1,
  NOT_AUTHORIZED: 2,
  NETWORK_FAILURE: 3,
  OUT_OF_RESOURCES: 4,
  UNSUPPORTED_OPCODE: 5,
} as const;

/** Field offsets (§3.2, §3.3): request header, mapping request, and the responses. */
const F = { VERSION: 0, OPCODE: 1, RESERVED: 2, RESULT: 2, EPOCH: 4, EXTERNAL_ADDRESS: 8 } as const;
const MAP = { INTERNAL_PORT: 4, EXTERNAL_PORT: 6, LIFETIME: 8 } as const;
const MAP_RESPONSE = { INTERNAL_PORT: 8, EXTERNAL_PORT: 10, LIFETIME: 12 } as const;
const LEN = { HEADER: 2, MAP_REQUEST: 12, ADDRESS_RESPONSE: 12, MAP_RESPONSE: 16, ERROR_RESPONSE: 8 } as const;

export type NatPmpRequest =
  | { readonly kind: "external-address"; readonly version: number }
  | {
      readonly kind: "map";
      readonly version: number;
      readonly proto: MappingProto;
      readonly internalPort: number;
      readonly suggestedExternalPort: number;
      readonly lifetime: number;
    }
  | { readonly kind: "unknown"; readonly version: number; readonly opcode: number };

export type NatPmpResponse =
  | { readonly kind: "external-address"; readonly result: number; readonly epoch: number; readonly address: number }
  | {
      readonly kind: "map";
      readonly proto: MappingProto;
      readonly result: number;
      readonly epoch: number;
      readonly internalPort: number;
      readonly externalPort: number;
      readonly lifetime: number;
    }
  /** §3.5: an error for an unknown opcode or version is the 8-byte header, opcode + 128, result, epoch. */
  | { readonly kind: "error"; readonly opcode: number; readonly result: number; readonly epoch: number };

export function parseNatPmpRequest(b: Uint8Array): Result<NatPmpRequest> {
  if (b.length < LEN.HEADER) return err("nat-pmp", "header", 0, `need 2 bytes, got ${b.length}`);
  const version = b[F.VERSION];
  const opcode = b[F.OPCODE];
  if ((opcode & NAT_PMP_RESPONSE_BIT) !== 0) return err("nat-pmp", "opcode", F.OPCODE, "a response, not a request");
  if (opcode === NatPmpOpcode.EXTERNAL_ADDRESS) return ok({ kind: "external-address", version });
  if (opcode !== NatPmpOpcode.MAP_UDP && opcode !== NatPmpOpcode.MAP_TCP)
    return ok({ kind: "unknown", version, opcode });
  if (b.length < LEN.MAP_REQUEST)
    return err("nat-pmp", "map", b.length, `a mapping request has 12 bytes, got ${b.length}`);
  return ok({
    kind: "map",
    version,
    proto: opcode === NatPmpOpcode.MAP_UDP ? "udp" : "tcp",
    internalPort: readU16(b, MAP.INTERNAL_PORT),
    suggestedExternalPort: readU16(b, MAP.EXTERNAL_PORT),
    lifetime: readU32(b, MAP.LIFETIME),
  });
}

export function emitNatPmpRequest(r: NatPmpRequest): Uint8Array {
  if (r.kind !== "map") {
    const b = new Uint8Array(LEN.HEADER);
    b[F.VERSION] = r.version;
    b[F.OPCODE] = r.kind === "unknown" ? r.opcode : NatPmpOpcode.EXTERNAL_ADDRESS;
    return b;
  }
  const b = new Uint8Array(LEN.MAP_REQUEST);
  b[F.VERSION] = r.version;
  b[F.OPCODE] = r.proto === "udp" ? NatPmpOpcode.MAP_UDP : NatPmpOpcode.MAP_TCP;
  writeU16(b, MAP.INTERNAL_PORT, r.internalPort);
  writeU16(b, MAP.EXTERNAL_PORT, r.suggestedExternalPort);
  writeU32(b, MAP.LIFETIME, r.lifetime);
  return b;
}

export function emitNatPmpResponse(r: NatPmpResponse): Uint8Array {
  const len =
    r.kind === "map" ? LEN.MAP_RESPONSE : r.kind === "external-address" ? LEN.ADDRESS_RESPONSE : LEN.ERROR_RESPONSE;
  const b = new Uint8Array(len);
  b[F.VERSION] = NAT_PMP_VERSION;
  writeU16(b, F.RESULT, r.result);
  writeU32(b, F.EPOCH, r.epoch);
  switch (r.kind) {
    case "external-address":
      b[F.OPCODE] = NAT_PMP_RESPONSE_BIT | NatPmpOpcode.EXTERNAL_ADDRESS;
      writeU32(b, F.EXTERNAL_ADDRESS, r.address);
      break;
    case "map":
      b[F.OPCODE] = NAT_PMP_RESPONSE_BIT | (r.proto === "udp" ? NatPmpOpcode.MAP_UDP : NatPmpOpcode.MAP_TCP);
      writeU16(b, MAP_RESPONSE.INTERNAL_PORT, r.internalPort);
      writeU16(b, MAP_RESPONSE.EXTERNAL_PORT, r.externalPort);
      writeU32(b, MAP_RESPONSE.LIFETIME, r.lifetime);
      break;
    case "error":
      b[F.OPCODE] = NAT_PMP_RESPONSE_BIT | r.opcode;
      break;
  }
  return b;
}

export function parseNatPmpResponse(b: Uint8Array): Result<NatPmpResponse> {
  if (b.length < LEN.ERROR_RESPONSE)
    return err("nat-pmp", "header", 0, `a response has at least 8 bytes, got ${b.length}`);
  if (b[F.VERSION] !== NAT_PMP_VERSION) return err("nat-pmp", "version", F.VERSION, `version ${b[F.VERSION]}`);
  const op = b[F.OPCODE];
  if ((op & NAT_PMP_RESPONSE_BIT) === 0) return err("nat-pmp", "opcode", F.OPCODE, "a request, not a response");
  const opcode = op & ~NAT_PMP_RESPONSE_BIT;
  const result = readU16(b, F.RESULT);
  const epoch = readU32(b, F.EPOCH);
  if (opcode === NatPmpOpcode.EXTERNAL_ADDRESS && b.length >= LEN.ADDRESS_RESPONSE)
    return ok({ kind: "external-address", result, epoch, address: readU32(b, F.EXTERNAL_ADDRESS) });
  if ((opcode === NatPmpOpcode.MAP_UDP || opcode === NatPmpOpcode.MAP_TCP) && b.length >= LEN.MAP_RESPONSE)
    return ok({
      kind: "map",
      proto: opcode === NatPmpOpcode.MAP_UDP ? "udp" : "tcp",
      result,
      epoch,
      internalPort: readU16(b, MAP_RESPONSE.INTERNAL_PORT),
      externalPort: readU16(b, MAP_RESPONSE.EXTERNAL_PORT),
      lifetime: readU32(b, MAP_RESPONSE.LIFETIME),
    });
  return ok({ kind: "error", opcode, result, epoch });
}

export interface NatPmpOptions {
  readonly clock: EventClock;
  /** LAN addresses it answers on (with prefix, `192.168.1.1/24`): requests from other subnets are ignored. */
  readonly lanAddresses: readonly string[];
  readonly wanInterface: string;
  readonly permissions: readonly ParsedPermission[];
  /** The address opcode 0 reports; default the WAN interface's first IPv4 address. */
  readonly externalAddress?: string;
  /** Share the table of an IGD installed on the same router. */
  readonly redirects?: RedirectTable;
}

export interface NatPmpLogEntry {
  readonly timeMs: number;
  readonly requester: string;
  readonly request: NatPmpRequest["kind"];
  readonly result: number;
  readonly detail: string;
}

export interface NatPmpHandle {
  readonly redirects: RedirectTable;
  readonly log: readonly NatPmpLogEntry[];
}

const PORT_SPACE = 0x10000;

export function installNatPmp(node: SimNode, o: NatPmpOptions): NatPmpHandle {
  const lans = parseLanAddresses(node, o.lanAddresses);
  const externalText =
    o.externalAddress ??
    (() => {
      const i = node.datapath.interfaceIndex(o.wanInterface);
      const v4 = node.datapath.interfaces[i]?.addresses?.find((a) => a.family === 4);
      if (v4 === undefined) throw new Error(`nat-pmp on ${node.name}: interface ${o.wanInterface} has no IPv4 address`);
      return formatIpv4(v4.address[0] >>> 0);
    })();
  const external = addressWords(externalText)!.words[0];
  const redirects = redirectTableFor(node, o, [{ proto: "udp", port: NAT_PMP_PORT }]);
  const started = o.clock.now;
  const log: NatPmpLogEntry[] = [];
  const epoch = (): number => Math.floor((o.clock.now - started) / 1000);

  const map = (req: Extract<NatPmpRequest, { kind: "map" }>, sender: number): NatPmpResponse => {
    const base = { kind: "map" as const, proto: req.proto, epoch: epoch(), internalPort: req.internalPort };
    const note = (result: number, detail: string, externalPort: number, lifetime: number): NatPmpResponse => {
      log.push({ timeMs: o.clock.now, requester: formatIpv4(sender), request: "map", result, detail });
      return { ...base, result, externalPort, lifetime };
    };
    if (req.lifetime === 0) {
      // §3.4: delete the sender's mapping of this internal port (all of its mappings when the port is 0 too).
      for (const r of redirects.list())
        if (
          r.internalClient === sender &&
          r.proto === req.proto &&
          (req.internalPort === 0 || r.internalPort === req.internalPort)
        )
          redirects.remove(r.proto, r.externalPort);
      return note(NatPmpResult.SUCCESS, `delete ${req.proto} ${req.internalPort}`, 0, 0);
    }
    if (req.internalPort === 0) return note(NatPmpResult.NOT_AUTHORIZED, "internal port 0", 0, 0);
    const lifetime = req.lifetime;
    const first = req.suggestedExternalPort !== 0 ? req.suggestedExternalPort : req.internalPort;
    // An existing mapping of this sender's internal port is renewed in place (§3.3 "already exists").
    const own = redirects
      .list()
      .find((r) => r.internalClient === sender && r.proto === req.proto && r.internalPort === req.internalPort);
    let anyPermitted = false;
    for (let i = 0; i <= PORT_SPACE; i++) {
      const eport =
        own === undefined ? (first + i) % PORT_SPACE : i === 0 ? own.externalPort : (first + i - 1) % PORT_SPACE;
      if (eport === 0 || !redirects.permitted(eport, sender, req.internalPort)) continue;
      anyPermitted = true;
      const held = redirects.get(req.proto, eport);
      // natpmp.c moves on past a port mapped to anyone else, or to another port of the same host.
      if (held !== null && (held.internalClient !== sender || held.internalPort !== req.internalPort)) continue;
      const out = redirects.add({
        proto: req.proto,
        externalPort: eport,
        internalClient: sender,
        internalPort: req.internalPort,
        description: `NAT-PMP ${eport} ${req.proto}`,
        leaseSeconds: lifetime,
        requester: sender,
        mechanism: "natpmp",
        action: "NAT-PMP map",
      });
      if (out.kind === "added" || out.kind === "updated")
        return note(
          NatPmpResult.SUCCESS,
          `${req.proto} ${eport} → ${formatIpv4(sender)}:${req.internalPort}`,
          eport,
          lifetime,
        );
      if (out.kind === "failed") return note(NatPmpResult.NETWORK_FAILURE, out.message, 0, 0);
    }
    return anyPermitted
      ? note(NatPmpResult.OUT_OF_RESOURCES, "every permitted port is taken", 0, 0)
      : note(NatPmpResult.NOT_AUTHORIZED, "the permissions refuse every port", 0, 0);
  };

  node.stack.bindUdp(NAT_PMP_PORT, (d) => {
    if (d.family !== 4) return null;
    const sender = d.src[0] >>> 0;
    // RFC 6886 §3.2: only requests from the internal side are served.
    if (!lans.some((l) => inSubnet(l, sender))) return null;
    const req = parseNatPmpRequest(d.payload);
    if (!req.ok) return null;
    const r = req.value;
    if (r.version !== NAT_PMP_VERSION) {
      const opcode = r.kind === "unknown" ? r.opcode : r.kind === "map" ? (r.proto === "udp" ? 1 : 2) : 0;
      log.push({
        timeMs: o.clock.now,
        requester: formatIpv4(sender),
        request: r.kind,
        result: 1,
        detail: `version ${r.version}`,
      });
      return emitNatPmpResponse({ kind: "error", opcode, result: NatPmpResult.UNSUPPORTED_VERSION, epoch: epoch() });
    }
    switch (r.kind) {
      case "external-address":
        log.push({
          timeMs: o.clock.now,
          requester: formatIpv4(sender),
          request: r.kind,
          result: 0,
          detail: externalText,
        });
        return emitNatPmpResponse({
          kind: "external-address",
          result: NatPmpResult.SUCCESS,
          epoch: epoch(),
          address: external,
        });
      case "map":
        return emitNatPmpResponse(map(r, sender));
      case "unknown":
        log.push({
          timeMs: o.clock.now,
          requester: formatIpv4(sender),
          request: r.kind,
          result: 5,
          detail: `opcode ${r.opcode}`,
        });
        return emitNatPmpResponse({
          kind: "error",
          opcode: r.opcode,
          result: NatPmpResult.UNSUPPORTED_OPCODE,
          epoch: epoch(),
        });
    }
  });
  return { redirects, log };
}

export type NatPmpClientResult =
  { readonly kind: "answered"; readonly response: NatPmpResponse } | { readonly kind: "timeout" };

/** RFC 6886 §3.1: first retry after 250 ms, doubling; we give up after `tries` attempts (the RFC's 9 by default). */
const RETRY_MS = 250;

/** Sends one NAT-PMP request from `host` to the gateway, retransmitting as §3.1 says; `done` gets the answer. */
export function natPmpRequest(
  host: SimNode,
  clock: EventClock,
  gateway: string,
  request: NatPmpRequest,
  done: (r: NatPmpClientResult) => void,
  tries = 9,
): void {
  const gw = addressWords(gateway);
  if (gw?.family !== 4) {
    done({ kind: "timeout" });
    return;
  }
  const sport = EPHEMERAL_MIN + (host.rng.nextU32() % (EPHEMERAL_MAX - EPHEMERAL_MIN + 1));
  let finished = false;
  host.stack.bindUdp(sport, (d) => {
    const p = parseNatPmpResponse(d.payload);
    if (finished || !p.ok || d.sport !== NAT_PMP_PORT || d.src[0] !== gw.words[0]) return null;
    finished = true;
    host.stack.unbindUdp(sport);
    done({ kind: "answered", response: p.value });
    return null;
  });
  const bytes = emitNatPmpRequest(request);
  const attempt = (n: number): void => {
    if (finished) return;
    if (n >= tries) {
      finished = true;
      host.stack.unbindUdp(sport);
      done({ kind: "timeout" });
      return;
    }
    host.stack.sendUdp(4, gw.words, NAT_PMP_PORT, sport, bytes);
    clock.after(RETRY_MS * 2 ** n, () => {
      attempt(n + 1);
    });
  };
  attempt(0);
}
