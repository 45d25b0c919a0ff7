// Mallory's authoritative name server for rebinding: each name answers a scripted sequence, one step per query of
// each type (the classic "first the attacker's web server with TTL 1, then the victim's private address"), the last
// step repeating. Answers are authoritative (AA), without recursion (RA clear), as an authoritative-only server
// such as nsd answers; a name outside every zone is REFUSED, an unknown name inside a zone NXDOMAIN (RFC 1035
// §4.1.1), a type with no data NOERROR/NODATA (RFC 2308 §2.2).

import { parseIp } from "../../wire/address.js";
import * as dns from "../../wire/dns.js";
import type { SimNode } from "../node.js";
import { DNS_PORT } from "./dns-resolver.js";

export interface ScriptedAnswer {
  /** IPv4 or IPv6 address text. */
  readonly address: string;
  /** Seconds. */
  readonly ttl: number;
}

export interface AuthoritativeDnsOptions {
  /** Name → answers in query order; the name is also the zone apex. */
  readonly zones: Readonly<Record<string, readonly ScriptedAnswer[]>>;
  readonly port?: number;
}

export interface AuthoritativeDnsHandle {
  /** Names and types asked, in order. */
  readonly queries: { readonly name: string; readonly type: number }[];
}

function canonical(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

export function installAuthoritativeDns(node: SimNode, o: AuthoritativeDnsOptions): AuthoritativeDnsHandle {
  const zones = new Map<string, readonly ScriptedAnswer[]>();
  for (const [name, answers] of Object.entries(o.zones)) {
    for (const a of answers)
      if (parseIp(a.address) === null) throw new Error(`authoritative dns on ${node.name}: bad address ${a.address}`);
    zones.set(canonical(name), answers);
  }
  const step = new Map<string, number>();
  const handle: AuthoritativeDnsHandle = { queries: [] };

  node.stack.bindUdp(o.port ?? DNS_PORT, (d) => {
    const q = dns.parse(d.payload);
    if (!q.ok || q.value.qr || q.value.questions.length !== 1) return null;
    const question = q.value.questions[0];
    const name = canonical(question.name);
    handle.queries.push({ name, type: question.type });
    const inZone = [...zones.keys()].some((z) => name === z || name.endsWith(`.${z}`));
    const script = zones.get(name);
    const opts = { aa: inZone, ra: false };
    if (!inZone) return emitOrNull(dns.answer(q.value, [], { ...opts, rcode: dns.DnsRcode.REFUSED }));
    if (script === undefined || script.length === 0)
      return emitOrNull(dns.answer(q.value, [], { ...opts, rcode: dns.DnsRcode.NXDOMAIN }));
    if (question.type !== dns.DnsType.A && question.type !== dns.DnsType.AAAA)
      return emitOrNull(dns.answer(q.value, [], opts));
    const key = `${name}/${question.type}`;
    const n = step.get(key) ?? 0;
    step.set(key, n + 1);
    const scripted = script[Math.min(n, script.length - 1)];
    const ip = parseIp(scripted.address);
    const records: dns.DnsRecord[] = [];
    if (ip?.family === 4 && question.type === dns.DnsType.A)
      records.push(dns.aRecord(question.name, ip.v4, scripted.ttl));
    if (ip?.family === 6 && question.type === dns.DnsType.AAAA)
      records.push(dns.aaaaRecord(question.name, ip.v6, scripted.ttl));
    return emitOrNull(dns.answer(q.value, records, opts));
  });
  return handle;
}

function emitOrNull(r: ReturnType<typeof dns.answer>): Uint8Array | null {
  return r.ok ? dns.emit(r.value) : null;
}
