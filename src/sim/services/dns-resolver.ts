// A forwarding DNS resolver on a router, as dnsmasq runs on home routers (OpenWrt's default): it listens on UDP 53
// of its LAN addresses, forwards each query upstream from a fresh random port and query id through the router's
// own OUTPUT/POSTROUTING path (so the router's NAT and filter apply to it), and relays the answer back. With
// `stop-dns-rebind` it checks upstream A/AAAA answers against private_net()/private_net6() of dnsmasq's
// rfc1035.c and, on a hit, logs "possible DNS-rebind attack detected" and sends the reply with every record
// section emptied (forward.c process_reply: NOERROR with no data). No cache is modelled: every query goes
// upstream, which is what a 1-second TTL makes dnsmasq do anyway.

import type { Family } from "../../engine/index.js";
import { formatIpv4, formatIpv6 } from "../../wire/address.js";
import * as dns from "../../wire/dns.js";
import type { EventClock } from "../clock.js";
import type { UdpDatagram } from "../host-stack.js";
import { EPHEMERAL_MAX, EPHEMERAL_MIN } from "../host-stack.js";
import type { SimNode } from "../node.js";
import { addressWords } from "../simulation.js";

export const DNS_PORT = 53;

export interface DnsResolverOptions {
  /** The simulation's clock (for event times). */
  readonly clock: EventClock;
  /** Addresses it answers on (dnsmasq `listen-address`); queries to any other address of the node are ignored. */
  readonly listen: readonly string[];
  readonly upstream: { readonly address: string; readonly port?: number };
  /** dnsmasq `stop-dns-rebind` (OpenWrt `rebind_protection`). */
  readonly rebindProtection: boolean;
  /** dnsmasq `rebind-localhost-ok` (OpenWrt `rebind_localhost`): 127.0.0.0/8 and 0.0.0.0/8 answers pass. Default false. */
  readonly rebindLocalhost?: boolean;
  /** dnsmasq `rebind-domain-ok`: names at or under these domains are never checked. */
  readonly rebindDomainAllow?: readonly string[];
  /**
   * dnsmasq counts the documentation ranges (192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32) as private.
   * A twin whose "internet" is built from those ranges sets this to treat them as the public addresses they stand
   * for; left false, an answer pointing at any documentation address is stripped, as the real dnsmasq would.
   */
  readonly documentationAddressesArePublic?: boolean;
}

/** One upstream answer the rebind check emptied. */
export interface RebindEvent {
  readonly timeMs: number;
  readonly name: string;
  readonly address: string;
  /** As dnsmasq logs it. */
  readonly message: string;
}

export interface DnsResolverHandle {
  readonly rebindEvents: readonly RebindEvent[];
  /** Called for each rebind event as it happens. */
  onRebind: ((e: RebindEvent) => void) | null;
  readonly stats: { forwarded: number; answered: number; ignored: number };
}

interface Pending {
  readonly family: Family;
  readonly client: Uint32Array;
  readonly clientPort: number;
  readonly clientId: number;
}

const ID_SPACE = 0x10000;

/**
 * dnsmasq rfc1035.c private_net(): the IPv4 ranges an upstream answer may not point into, as dnsmasq 2.90 (Debian
 * 12, the lab's) filters them, measured by src/lab/verify-dns.test.ts: 100.64.0.0/10 (RFC 6598) passes.
 */
export function isRebindV4(a: number, localhostOk: boolean, documentationOk: boolean): boolean {
  const top8 = a >>> 24;
  if (top8 === 127 || top8 === 0) return !localhostOk;
  if (top8 === 10) return true;
  if (a >>> 20 === 0xac1) return true; // 172.16.0.0/12
  if (a >>> 16 === 0xc0a8) return true; // 192.168.0.0/16
  if (a >>> 16 === 0xa9fe) return true; // 169.254.0.0/16
  if (a >>> 0 === 0xffffffff) return true;
  const top24 = a >>> 8;
  const testNet = top24 === 0xc00002 || top24 === 0xc63364 || top24 === 0xcb0071;
  return testNet && !documentationOk;
}

/** dnsmasq rfc1035.c private_net6(): loopback/unspecified, link-local, site-local, ULA fd00::/8, 2001:db8::/32, v4-mapped. */
export function isRebindV6(b: Uint8Array, localhostOk: boolean, documentationOk: boolean): boolean {
  let zeroPrefix = true;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) zeroPrefix = false;
  if (zeroPrefix && b[10] === 0xff && b[11] === 0xff) {
    const v4 = ((b[12] << 24) | (b[13] << 16) | (b[14] << 8) | b[15]) >>> 0;
    return isRebindV4(v4, localhostOk, documentationOk);
  }
  const loopbackOrUnspecified = zeroPrefix && b[10] === 0 && b[11] === 0 && b[12] === 0 && b[13] === 0 && b[14] === 0;
  if (loopbackOrUnspecified && (b[15] === 0 || b[15] === 1)) return !localhostOk;
  if (b[0] === 0xfe && (b[1] & 0xc0) === 0x80) return true; // fe80::/10
  if (b[0] === 0xfe && (b[1] & 0xc0) === 0xc0) return true; // fec0::/10
  if (b[0] === 0xfd) return true;
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0x0d && b[3] === 0xb8) return !documentationOk;
  return false;
}

function underDomain(name: string, domains: readonly string[]): boolean {
  const n = name.toLowerCase().replace(/\.$/, "");
  return domains.some((d) => {
    const dd = d.toLowerCase().replace(/^\.|\.$/g, "");
    return n === dd || n.endsWith(`.${dd}`);
  });
}

function wordsEqual(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
}

export function installDnsResolver(node: SimNode, o: DnsResolverOptions): DnsResolverHandle {
  const listen = o.listen.map((text) => {
    const a = addressWords(text);
    if (a === null) throw new Error(`dns resolver on ${node.name}: bad listen address ${text}`);
    return a;
  });
  const upstream = addressWords(o.upstream.address);
  if (upstream === null) throw new Error(`dns resolver on ${node.name}: bad upstream ${o.upstream.address}`);
  const upstreamPort = o.upstream.port ?? DNS_PORT;
  const events: RebindEvent[] = [];
  const handle: DnsResolverHandle = {
    rebindEvents: events,
    onRebind: null,
    stats: { forwarded: 0, answered: 0, ignored: 0 },
  };
  const pending = new Map<number, Pending>();
  const localhostOk = o.rebindLocalhost ?? false;
  const docOk = o.documentationAddressesArePublic ?? false;

  /** The first answer record the rebind check refuses, formatted, or null. */
  const rebindHit = (reply: dns.DnsRepr): { name: string; address: string } | null => {
    for (const rr of reply.answers) {
      if (o.rebindDomainAllow !== undefined && underDomain(rr.name, o.rebindDomainAllow)) continue;
      if (rr.data.kind === "a" && isRebindV4(rr.data.address, localhostOk, docOk))
        return { name: rr.name, address: formatIpv4(rr.data.address) };
      if (rr.data.kind === "aaaa" && rr.data.address.length === 16 && isRebindV6(rr.data.address, localhostOk, docOk))
        return { name: rr.name, address: formatIpv6(rr.data.address) };
    }
    return null;
  };

  const onUpstreamAnswer = (sport: number) => (d: UdpDatagram) => {
    node.stack.unbindUdp(sport);
    const p = pending.get(sport);
    pending.delete(sport);
    // forward.c accepts a reply only from the server it asked.
    if (p === undefined || d.sport !== upstreamPort || !wordsEqual(d.src, upstream.words)) return null;
    const parsed = dns.parse(d.payload);
    if (!parsed.ok || !parsed.value.qr) return null;
    let reply: dns.DnsRepr = { ...parsed.value, id: p.clientId, ra: true };
    if (o.rebindProtection) {
      const hit = rebindHit(reply);
      if (hit !== null) {
        const e: RebindEvent = {
          timeMs: o.clock.now,
          name: hit.name,
          address: hit.address,
          message: `possible DNS-rebind attack detected: ${hit.name} → ${hit.address}`,
        };
        events.push(e);
        handle.onRebind?.(e);
        reply = { ...reply, tc: false, answers: [], authorities: [], additionals: [] };
      }
    }
    handle.stats.answered++;
    replyFrom(p, dns.emit(reply));
    return null;
  };

  const replyFrom = (p: Pending, payload: Uint8Array): void => {
    // sendto() picks the source by route: for a LAN client, the LAN address it asked.
    node.stack.sendUdp(p.family, p.client, p.clientPort, DNS_PORT, payload);
  };

  node.stack.bindUdp(DNS_PORT, (d) => {
    if (!listen.some((l) => l.family === d.family && wordsEqual(l.words, d.dst))) {
      handle.stats.ignored++;
      return null;
    }
    const q = dns.parse(d.payload);
    if (!q.ok || q.value.qr || q.value.questions.length !== 1) {
      handle.stats.ignored++;
      return null;
    }
    let sport = 0;
    for (let i = 0; i < 64 && sport === 0; i++) {
      const p = EPHEMERAL_MIN + (node.rng.nextU32() % (EPHEMERAL_MAX - EPHEMERAL_MIN + 1));
      if (!pending.has(p)) sport = p;
    }
    if (sport === 0) return null;
    const id = node.rng.nextU32() % ID_SPACE;
    pending.set(sport, {
      family: d.family,
      client: d.src,
      clientPort: d.sport,
      clientId: q.value.id,
    });
    node.stack.bindUdp(sport, onUpstreamAnswer(sport));
    handle.stats.forwarded++;
    node.stack.sendUdp(upstream.family, upstream.words, upstreamPort, sport, dns.emit({ ...q.value, id }));
    return null;
  });
  return handle;
}
