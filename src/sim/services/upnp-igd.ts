// A UPnP Internet Gateway Device as miniupnpd 2.3 serves it on a router's LAN (SEMANTICS.md §5): SSDP answers to
// M-SEARCH on UDP 1900 (minissdp.c) pointing at http://<lan ip>:<port>/rootDesc.xml, and SOAP control over a
// one-request-per-connection HTTP server (upnphttp.c) for WANIPConnection's AddPortMapping, DeletePortMapping,
// GetSpecificPortMappingEntry and GetExternalIPAddress, with upnpsoap.c's checks in its order and its UPnPError
// codes. A granted mapping becomes real DNAT and forward-accept rules on the router (miniupnpd-redirects.ts).
// There is no authentication: any LAN host may ask, which is the point of the upnp-forward-* attacks.
// Codes follow SCENARIOS.md's ground truth measured with miniupnpd 2.3.1: secure_mode refusing another host's
// address answers 718 ConflictInMappingEntry, a permission line's deny answers 606 Action not authorized.
//
// Also the malware's side (`upnpAddPortMapping`): miniupnpc's discover → description → SOAP sequence with real
// packets. SSDP multicast is not routed by the simulator, so the M-SEARCH goes unicast to the gateway's port 1900
// (UPnP Device Architecture 1.1 §1.3.2 allows unicast search); the answer is the same.

import type { Family } from "../../engine/index.js";
import { formatIpv4, parseIpv4, parsePrefix } from "../../wire/address.js";
import type { ParsedPermission } from "../../model/intent.js";
import type { EventClock } from "../clock.js";
import { EPHEMERAL_MAX, EPHEMERAL_MIN } from "../host-stack.js";
import type { SimNode } from "../node.js";
import { addressWords } from "../simulation.js";
import type { HttpExchangeResult, HttpRequest, HttpResponse } from "./http.js";
import { bodyText, httpExchange, httpResponse, serveHttp } from "./http.js";
import type { MappingProto, Redirect, RedirectTable } from "./miniupnpd-redirects.js";
import { RedirectTable as Table } from "./miniupnpd-redirects.js";

export const SSDP_PORT = 1900;
export const SSDP_MULTICAST = "239.255.255.250";
export const DEFAULT_IGD_HTTP_PORT = 5000;
/** IGDv2: a lease of 0 or above this many seconds is granted as this (WANIPConnection:2 §2.3.17). */
export const IGD_LEASE_MAX = 604800;
export const ROOT_DESC_PATH = "/rootDesc.xml";
export const CONTROL_PATH = "/ctl/IPConn";
export const WANIPC_SERVICE = "urn:schemas-upnp-org:service:WANIPConnection:1";
export const IGD_DEVICE = "urn:schemas-upnp-org:device:InternetGatewayDevice:1";
const SERVER_HEADER = "Debian/12 UPnP/1.1 MiniUPnPd/2.3.1";
const DEVICE_UUID = "uuid:8c5b2a1e-0d5f-4a2a-9b3e-6d616c6c6f72";

/** UPnPError codes miniupnpd answers (UPnP IGD WANIPConnection:2 §2.4). */
export const UpnpErrorCode = {
  INVALID_ACTION: 401,
  INVALID_ARGS: 402,
  ACTION_FAILED: 501,
  NOT_AUTHORIZED: 606,
  NO_SUCH_ENTRY: 714,
  WILDCARD_EXT_PORT: 716,
  CONFLICT_IN_MAPPING: 718,
  CONFLICT_WITH_OTHER_MECHANISMS: 729,
} as const;

const ERROR_TEXT: Readonly<Record<number, string>> = {
  401: "Invalid Action",
  402: "Invalid Args",
  501: "Action Failed",
  606: "Action not authorized",
  714: "NoSuchEntryInArray",
  716: "WildCardNotPermittedInExtPort",
  718: "ConflictInMappingEntry",
  729: "ConflictWithOtherMechanisms",
};

export interface UpnpIgdOptions {
  readonly clock: EventClock;
  /** miniupnpd `listening_ip`: LAN addresses with prefix (`192.168.1.1/24`); requests from outside them are closed. */
  readonly lanAddresses: readonly string[];
  /** miniupnpd `ext_ifname`. */
  readonly wanInterface: string;
  readonly secureMode: boolean;
  readonly permissions: readonly ParsedPermission[];
  /** Seconds; default IGD_LEASE_MAX. */
  readonly leaseMax?: number;
  readonly httpPort?: number;
  /** The address GetExternalIPAddress reports; default the WAN interface's first IPv4 address (as if learned by STUN). */
  readonly externalAddress?: string;
  /** Share one redirection table with NAT-PMP (miniupnpd runs both on the same table). */
  readonly redirects?: RedirectTable;
}

export interface UpnpLogEntry {
  readonly timeMs: number;
  readonly requester: string;
  readonly action: string;
  /** 0 for success, else the UPnPError code. */
  readonly code: number;
  readonly detail: string;
}

export interface UpnpIgdHandle {
  readonly redirects: RedirectTable;
  readonly log: readonly UpnpLogEntry[];
  readonly httpPort: number;
}

export interface LanAddress {
  readonly address: number;
  readonly len: number;
}

// ---------------------------------------------------------------------------------------------------------------
// SOAP bodies: miniupnpd's upnpreplyparse.c reads leaf elements by local name, ignoring namespace prefixes.

const LEAF = /<(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)(?:\s[^<>]*)?>([^<]*)<\/(?:[A-Za-z_][\w.-]*:)?\1\s*>/g;
const ENTITIES: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function decodeEntities(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|apos|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});/g, (_, e: string) => {
    if (e.startsWith("#x")) return safeCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith("#")) return safeCodePoint(parseInt(e.slice(1), 10));
    return ENTITIES[e] ?? "";
  });
}

function safeCodePoint(n: number): string {
  return n <= 0x10ffff ? String.fromCodePoint(n) : "";
}

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&${Object.entries(ENTITIES).find(([, v]) => v === c)?.[0] ?? "amp"};`);
}

/** Leaf elements of a SOAP body (or any XML), local name → decoded text; the last occurrence wins. */
export function parseSoapArguments(xml: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of xml.matchAll(LEAF)) out.set(m[1], decodeEntities(m[2]));
  return out;
}

export function soapEnvelope(inner: string): string {
  return (
    '<?xml version="1.0"?>\r\n<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" ' +
    's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>' +
    inner +
    "</s:Body></s:Envelope>\r\n"
  );
}

/** A SOAP request body for `action` with its arguments in order (miniupnpc's simpleUPnPcommand). */
export function soapRequestBody(action: string, args: readonly (readonly [string, string])[]): string {
  const a = args.map(([k, v]) => `<${k}>${escapeXml(v)}</${k}>`).join("");
  return soapEnvelope(`<u:${action} xmlns:u="${WANIPC_SERVICE}">${a}</u:${action}>`);
}

function soapOk(action: string, args: readonly (readonly [string, string])[] = []): HttpResponse {
  const a = args.map(([k, v]) => `<${k}>${escapeXml(v)}</${k}>`).join("");
  return httpResponse(
    200,
    "OK",
    soapEnvelope(`<u:${action}Response xmlns:u="${WANIPC_SERVICE}">${a}</u:${action}Response>`),
    {
      "content-type": 'text/xml; charset="utf-8"',
      server: SERVER_HEADER,
      ext: "",
    },
  );
}

/** upnpsoap.c SoapError(): HTTP 500 with a UPnPError fault. */
function soapError(code: number): HttpResponse {
  const fault =
    "<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>" +
    `<UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>${code}</errorCode>` +
    `<errorDescription>${ERROR_TEXT[code] ?? "Error"}</errorDescription></UPnPError></detail></s:Fault>`;
  return httpResponse(500, "Internal Server Error", soapEnvelope(fault), {
    "content-type": 'text/xml; charset="utf-8"',
    server: SERVER_HEADER,
  });
}

function rootDescription(): string {
  return (
    '<?xml version="1.0"?>\r\n<root xmlns="urn:schemas-upnp-org:device-1-0"><specVersion><major>1</major>' +
    `<minor>1</minor></specVersion><device><deviceType>${IGD_DEVICE}</deviceType>` +
    `<friendlyName>Mallory twin router</friendlyName><UDN>${DEVICE_UUID}</UDN><deviceList><device>` +
    "<deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType><deviceList><device>" +
    "<deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType><serviceList><service>" +
    `<serviceType>${WANIPC_SERVICE}</serviceType><serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId>` +
    `<SCPDURL>/WANIPCn.xml</SCPDURL><controlURL>${CONTROL_PATH}</controlURL><eventSubURL>/evt/IPConn</eventSubURL>` +
    "</service></serviceList></device></deviceList></device></deviceList></device></root>\r\n"
  );
}

const SEARCH_TARGETS = new Set([
  "ssdp:all",
  "upnp:rootdevice",
  IGD_DEVICE,
  "urn:schemas-upnp-org:device:WANDevice:1",
  "urn:schemas-upnp-org:device:WANConnectionDevice:1",
  WANIPC_SERVICE,
  DEVICE_UUID,
]);

/** SSDP (UDA 1.1 §1.3): an M-SEARCH's header fields, or null when the datagram is not one. */
export function parseMSearch(text: string): Map<string, string> | null {
  const lines = text.split("\r\n");
  if (lines[0] !== "M-SEARCH * HTTP/1.1") return null;
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).trim().toUpperCase(), line.slice(colon + 1).trim());
  }
  return headers.get("MAN") === '"ssdp:discover"' ? headers : null;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function parseLanAddresses(node: SimNode, texts: readonly string[]): LanAddress[] {
  return texts.map((t) => {
    const slash = t.indexOf("/");
    const a = addressWords(slash < 0 ? t : t.slice(0, slash));
    const p = parsePrefix(slash < 0 ? `${t}/32` : t);
    if (a?.family !== 4 || p === null) throw new Error(`upnp igd on ${node.name}: bad LAN address ${t}`);
    return { address: a.words[0], len: p.prefix.len };
  });
}

export function inSubnet(lan: LanAddress, a: number): boolean {
  if (lan.len === 0) return true;
  const mask = lan.len === 32 ? 0xffffffff : ~(0xffffffff >>> lan.len) >>> 0;
  return ((lan.address ^ a) & mask) >>> 0 === 0;
}

function wanAddress(node: SimNode, wanInterface: string, explicit: string | undefined): number {
  if (explicit !== undefined) {
    const a = addressWords(explicit);
    if (a?.family !== 4) throw new Error(`upnp igd on ${node.name}: bad external address ${explicit}`);
    return a.words[0];
  }
  const i = node.datapath.interfaceIndex(wanInterface);
  const v4 = node.datapath.interfaces[i]?.addresses?.find((a) => a.family === 4);
  if (v4 === undefined) throw new Error(`upnp igd on ${node.name}: interface ${wanInterface} has no IPv4 address`);
  return v4.address[0] >>> 0;
}

/** The redirection table of a router, created once and shared by the IGD and NAT-PMP installers. */
export function redirectTableFor(
  node: SimNode,
  o: {
    readonly clock: EventClock;
    readonly wanInterface: string;
    readonly permissions: readonly ParsedPermission[];
    readonly redirects?: RedirectTable;
  },
  portsInUse: readonly { readonly proto: MappingProto; readonly port: number }[],
): RedirectTable {
  return (
    o.redirects ??
    new Table(node, { clock: o.clock, wanInterface: o.wanInterface, permissions: o.permissions, portsInUse })
  );
}

const PORT_TEXT = /^[0-9]{1,5}$/;

function portOf(text: string | undefined): number {
  return text !== undefined && PORT_TEXT.test(text.trim()) ? Number(text.trim()) & 0xffff : 0;
}

export function installUpnpIgd(node: SimNode, o: UpnpIgdOptions): UpnpIgdHandle {
  const httpPort = o.httpPort ?? DEFAULT_IGD_HTTP_PORT;
  const lans = parseLanAddresses(node, o.lanAddresses);
  const external = wanAddress(node, o.wanInterface, o.externalAddress);
  const leaseMax = o.leaseMax ?? IGD_LEASE_MAX;
  const redirects = redirectTableFor(node, o, [
    { proto: "tcp", port: httpPort },
    { proto: "udp", port: SSDP_PORT },
  ]);
  const log: UpnpLogEntry[] = [];
  const handle: UpnpIgdHandle = { redirects, log, httpPort };

  const record = (requester: number, action: string, code: number, detail: string): void => {
    log.push({ timeMs: o.clock.now, requester: formatIpv4(requester), action, code, detail });
  };

  node.stack.bindUdp(SSDP_PORT, (d) => {
    if (d.family !== 4) return null;
    const lan = lans.find((l) => inSubnet(l, d.src[0]));
    if (lan === undefined) return null; // minissdp.c ignores searches from outside the LAN subnets
    const search = parseMSearch(decoder.decode(d.payload));
    const st = search?.get("ST");
    if (st === undefined || !SEARCH_TARGETS.has(st)) return null;
    const answerSt = st === "ssdp:all" ? IGD_DEVICE : st;
    const usn = answerSt === DEVICE_UUID ? DEVICE_UUID : `${DEVICE_UUID}::${answerSt}`;
    return encoder.encode(
      "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\n" +
        `ST: ${answerSt}\r\nUSN: ${usn}\r\nEXT:\r\nSERVER: ${SERVER_HEADER}\r\n` +
        `LOCATION: http://${formatIpv4(lan.address)}:${httpPort}${ROOT_DESC_PATH}\r\n` +
        'OPT: "http://schemas.upnp.org/upnp/1/0/"; ns=01\r\nBOOTID.UPNP.ORG: 1\r\nCONFIGID.UPNP.ORG: 1337\r\n\r\n',
    );
  });

  const addPortMapping = (args: Map<string, string>, requester: number): HttpResponse => {
    const action = "AddPortMapping";
    const fail = (code: number, detail: string): HttpResponse => {
      record(requester, action, code, detail);
      return soapError(code);
    };
    const clientText = (args.get("NewInternalClient") ?? "").trim();
    // Without UPNP_STRICT an empty NewInternalClient means the requester (miniupnp issue #236).
    const client = clientText === "" ? requester : parseIpv4(clientText);
    if (client === null)
      return fail(UpnpErrorCode.INVALID_ARGS, `NewInternalClient "${clientText}" is not an IPv4 address`);
    if (o.secureMode && client !== requester)
      return fail(
        UpnpErrorCode.CONFLICT_IN_MAPPING,
        `secure_mode: client ${formatIpv4(requester)} tried to redirect port to ${formatIpv4(client)}`,
      );
    const extText = args.get("NewExternalPort");
    const intText = args.get("NewInternalPort");
    const protoText = args.get("NewProtocol");
    if (extText === undefined || intText === undefined || protoText === undefined)
      return fail(UpnpErrorCode.INVALID_ARGS, "NewExternalPort, NewInternalPort and NewProtocol are required");
    const eport = portOf(extText);
    if (extText.trim() === "*" || eport === 0)
      return fail(UpnpErrorCode.WILDCARD_EXT_PORT, `external port "${extText}" is a wildcard`);
    const iport = portOf(intText);
    if (iport === 0) return fail(UpnpErrorCode.INVALID_ARGS, `internal port "${intText}" is not a port`);
    const proto = protoText.trim().toUpperCase();
    if (proto !== "TCP" && proto !== "UDP") return fail(UpnpErrorCode.ACTION_FAILED, `protocol "${protoText}"`);
    const asked = Number((args.get("NewLeaseDuration") ?? "0").trim()) || 0;
    const lease = asked <= 0 || asked > leaseMax ? leaseMax : Math.floor(asked);
    const outcome = redirects.add({
      proto: proto === "TCP" ? "tcp" : "udp",
      externalPort: eport,
      internalClient: client,
      internalPort: iport,
      description: args.get("NewPortMappingDescription") ?? "",
      leaseSeconds: lease,
      requester,
      mechanism: "upnp",
      action,
    });
    const what = `${proto} ${eport} → ${formatIpv4(client)}:${iport}`;
    switch (outcome.kind) {
      case "added":
      case "updated":
        record(requester, action, 0, `${what} lease ${lease}s`);
        return soapOk(action);
      case "conflict":
        return fail(
          UpnpErrorCode.CONFLICT_IN_MAPPING,
          `${what}: port held by ${formatIpv4(outcome.holder.internalClient)}`,
        );
      case "not-permitted":
        return fail(UpnpErrorCode.NOT_AUTHORIZED, `${what}: denied by permission line ${(outcome.rule ?? 0) + 1}`);
      case "port-in-use":
        return fail(UpnpErrorCode.CONFLICT_WITH_OTHER_MECHANISMS, `${what}: port used by the router`);
      case "failed":
        return fail(UpnpErrorCode.ACTION_FAILED, `${what}: ${outcome.message}`);
    }
  };

  const deletePortMapping = (args: Map<string, string>, requester: number): HttpResponse => {
    const action = "DeletePortMapping";
    const protoText = args.get("NewProtocol")?.trim().toUpperCase();
    const eport = portOf(args.get("NewExternalPort"));
    if ((protoText !== "TCP" && protoText !== "UDP") || eport === 0) {
      record(requester, action, UpnpErrorCode.INVALID_ARGS, "NewExternalPort and NewProtocol are required");
      return soapError(UpnpErrorCode.INVALID_ARGS);
    }
    const proto: MappingProto = protoText === "TCP" ? "tcp" : "udp";
    const held = redirects.get(proto, eport);
    if (held !== null && o.secureMode && held.internalClient !== requester) {
      record(requester, action, UpnpErrorCode.NOT_AUTHORIZED, `${protoText} ${eport} belongs to another host`);
      return soapError(UpnpErrorCode.NOT_AUTHORIZED);
    }
    if (!redirects.remove(proto, eport)) {
      record(requester, action, UpnpErrorCode.NO_SUCH_ENTRY, `${protoText} ${eport}`);
      return soapError(UpnpErrorCode.NO_SUCH_ENTRY);
    }
    record(requester, action, 0, `${protoText} ${eport}`);
    return soapOk(action);
  };

  const getSpecific = (args: Map<string, string>, requester: number): HttpResponse => {
    const action = "GetSpecificPortMappingEntry";
    const protoText = args.get("NewProtocol")?.trim().toUpperCase();
    const eport = portOf(args.get("NewExternalPort"));
    const r: Redirect | null =
      protoText === "TCP" || protoText === "UDP" ? redirects.get(protoText === "TCP" ? "tcp" : "udp", eport) : null;
    if (r === null) {
      record(requester, action, UpnpErrorCode.NO_SUCH_ENTRY, `${protoText ?? "?"} ${eport}`);
      return soapError(UpnpErrorCode.NO_SUCH_ENTRY);
    }
    const left = r.expiresAtMs === null ? 0 : Math.max(0, Math.ceil((r.expiresAtMs - o.clock.now) / 1000));
    record(requester, action, 0, `${protoText ?? "?"} ${eport}`);
    return soapOk(action, [
      ["NewInternalPort", String(r.internalPort)],
      ["NewInternalClient", formatIpv4(r.internalClient)],
      ["NewEnabled", "1"],
      ["NewPortMappingDescription", r.description],
      ["NewLeaseDuration", String(left)],
    ]);
  };

  serveHttp(node, httpPort, (req, peer) => {
    const requester = peer.remote[0] >>> 0;
    // upnphttp.c: "HTTP peer ... is not from a LAN, closing the connection".
    if (peer.family !== 4 || !lans.some((l) => inSubnet(l, requester))) return null;
    if (req.method === "GET" && req.target === ROOT_DESC_PATH)
      return httpResponse(200, "OK", rootDescription(), {
        "content-type": 'text/xml; charset="utf-8"',
        server: SERVER_HEADER,
      });
    if (req.method !== "POST" || req.target !== CONTROL_PATH) return httpResponse(404, "Not Found", "");
    const soapAction = (req.headers.get("soapaction") ?? "").replace(/"/g, "");
    const hash = soapAction.lastIndexOf("#");
    const action = hash < 0 ? "" : soapAction.slice(hash + 1);
    const args = parseSoapArguments(bodyText(req));
    switch (action) {
      case "AddPortMapping":
        return addPortMapping(args, requester);
      case "DeletePortMapping":
        return deletePortMapping(args, requester);
      case "GetSpecificPortMappingEntry":
        return getSpecific(args, requester);
      case "GetExternalIPAddress":
        record(requester, action, 0, formatIpv4(external));
        return soapOk(action, [["NewExternalIPAddress", formatIpv4(external)]]);
      default:
        record(requester, action === "" ? "(none)" : action, UpnpErrorCode.INVALID_ACTION, soapAction);
        return soapError(UpnpErrorCode.INVALID_ACTION);
    }
  });
  return handle;
}

// ---------------------------------------------------------------------------------------------------------------
// The client (malware using miniupnpc).

export interface UpnpMappingRequest {
  readonly clock: EventClock;
  /** The gateway's LAN address (where the unicast M-SEARCH goes). */
  readonly gateway: string;
  readonly external: number;
  readonly internal: number;
  /** NewInternalClient; "" asks for the requester itself. */
  readonly client: string;
  readonly proto: MappingProto;
  readonly leaseSeconds?: number;
  readonly description?: string;
  /** How long to wait for the SSDP answer, ms (miniupnpc's delay); default 2000. */
  readonly discoveryTimeoutMs?: number;
}

export type UpnpClientResult =
  /** code 0 is success, anything else the UPnPError code the IGD answered. */
  | { readonly kind: "answered"; readonly code: number; readonly description: string; readonly location: string }
  | { readonly kind: "no-igd" }
  | { readonly kind: "http-failed"; readonly stage: "description" | "control"; readonly detail: string };

const SEARCH_SOURCE_TRIES = 16;

function exchangeDetail(r: HttpExchangeResult): string {
  return r.kind === "response" ? `HTTP ${r.response.status}` : r.kind === "malformed" ? r.message : r.kind;
}

/** Parses `http://host:port/path` (IPv4 host) as miniupnpc's parseURL does for what an IGD announces. */
export function parseHttpUrl(url: string): { host: string; port: number; path: string } | null {
  const m = /^http:\/\/([0-9.]+)(?::([0-9]{1,5}))?(\/[^\s]*)?$/.exec(url);
  if (m === null) return null;
  const portText = m[2] as string | undefined;
  const port = portText === undefined ? 80 : Number(portText);
  const pathText = m[3] as string | undefined;
  return port > 0 && port <= 0xffff ? { host: m[1], port, path: pathText ?? "/" } : null;
}

/** SSDP search, the description, then AddPortMapping: `done` gets the IGD's answer code (0 = mapped). */
export function upnpAddPortMapping(host: SimNode, req: UpnpMappingRequest, done: (r: UpnpClientResult) => void): void {
  const gw = addressWords(req.gateway);
  if (gw?.family !== 4) {
    done({ kind: "no-igd" });
    return;
  }
  let sport = 0;
  for (let i = 0; i < SEARCH_SOURCE_TRIES && sport === 0; i++)
    sport = EPHEMERAL_MIN + (host.rng.nextU32() % (EPHEMERAL_MAX - EPHEMERAL_MIN + 1));
  let answered = false;
  host.stack.bindUdp(sport, (d) => {
    if (answered) return null;
    const text = decoder.decode(d.payload);
    const loc = /\r\nLOCATION:\s*(\S+)\r\n/i.exec(text)?.[1];
    const url = loc === undefined ? null : parseHttpUrl(loc);
    if (loc === undefined || url === null) return null;
    answered = true;
    host.stack.unbindUdp(sport);
    describeThenMap(host, d.family, loc, url, req, done);
    return null;
  });
  const search =
    `M-SEARCH * HTTP/1.1\r\nHOST: ${SSDP_MULTICAST}:${SSDP_PORT}\r\nST: ${IGD_DEVICE}\r\n` +
    'MAN: "ssdp:discover"\r\nMX: 2\r\n\r\n';
  host.stack.sendUdp(4, gw.words, SSDP_PORT, sport, encoder.encode(search));
  req.clock.after(req.discoveryTimeoutMs ?? 2000, () => {
    if (answered) return;
    answered = true;
    host.stack.unbindUdp(sport);
    done({ kind: "no-igd" });
  });
}

function describeThenMap(
  host: SimNode,
  family: Family,
  location: string,
  url: { host: string; port: number; path: string },
  req: UpnpMappingRequest,
  done: (r: UpnpClientResult) => void,
): void {
  const dst = addressWords(url.host);
  if (dst === null) {
    done({ kind: "http-failed", stage: "description", detail: `bad LOCATION ${location}` });
    return;
  }
  const hostHeader = `${url.host}:${url.port}`;
  const get: HttpRequest = {
    method: "GET",
    target: url.path,
    headers: new Map([["host", hostHeader]]),
    body: new Uint8Array(0),
  };
  httpExchange(host, family, dst.words, url.port, get, (r) => {
    if (r.kind !== "response" || r.response.status !== 200) {
      done({ kind: "http-failed", stage: "description", detail: exchangeDetail(r) });
      return;
    }
    // The controlURL of the WANIPConnection service (miniupnpc's IGDdatas parser).
    const desc = bodyText(r.response);
    const service = desc.indexOf(WANIPC_SERVICE);
    const control = /<controlURL>([^<]*)<\/controlURL>/.exec(desc.slice(Math.max(0, service)))?.[1] ?? CONTROL_PATH;
    const body = soapRequestBody("AddPortMapping", [
      ["NewRemoteHost", ""],
      ["NewExternalPort", String(req.external)],
      ["NewProtocol", req.proto.toUpperCase()],
      ["NewInternalPort", String(req.internal)],
      ["NewInternalClient", req.client],
      ["NewEnabled", "1"],
      ["NewPortMappingDescription", req.description ?? "libminiupnpc"],
      ["NewLeaseDuration", String(req.leaseSeconds ?? 0)],
    ]);
    const post: HttpRequest = {
      method: "POST",
      target: control,
      headers: new Map([
        ["host", hostHeader],
        ["content-type", 'text/xml; charset="utf-8"'],
        ["soapaction", `"${WANIPC_SERVICE}#AddPortMapping"`],
      ]),
      body: encoder.encode(body),
    };
    httpExchange(host, family, dst.words, url.port, post, (c) => {
      if (c.kind !== "response") {
        done({ kind: "http-failed", stage: "control", detail: exchangeDetail(c) });
        return;
      }
      if (c.response.status === 200) {
        done({ kind: "answered", code: 0, description: "OK", location });
        return;
      }
      const args = parseSoapArguments(bodyText(c.response));
      const code = Number(args.get("errorCode") ?? "-1");
      done({ kind: "answered", code, description: args.get("errorDescription") ?? "", location });
    });
  });
}
