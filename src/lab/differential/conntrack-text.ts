// Reads `conntrack -L` output (conntrack-tools, the default text format of nfct_snprintf):
//
//   tcp      6 119 SYN_SENT src=192.168.1.10 dst=203.0.113.5 sport=40000 dport=80 [UNREPLIED] src=203.0.113.5 …
//   icmp     1 29 src=… dst=… type=8 code=0 id=4660 src=… dst=… type=0 code=0 id=4660 mark=0 use=1
//
// into entries shaped like the engine's ConntrackEntryView tuples: ICMP's id is the source "port" and type<<8|code
// the destination "port", as the engine stores them (nf_conntrack_proto_icmp.c keys on id, type and code).

import type { Result } from "../../wire/result.js";
import { err, ok } from "../../wire/result.js";

export interface CtTupleText {
  readonly src: string;
  readonly dst: string;
  readonly sport: number;
  readonly dport: number;
}

export interface KernelCtEntry {
  readonly proto: number;
  /** TCP state name (SYN_SENT, ESTABLISHED, …), null for protocols without one. */
  readonly tcpState: string | null;
  readonly original: CtTupleText;
  readonly reply: CtTupleText;
  /** [UNREPLIED]: IPS_SEEN_REPLY not set. */
  readonly unreplied: boolean;
  /** [ASSURED]: IPS_ASSURED set. */
  readonly assured: boolean;
}

interface TupleFields {
  src?: string;
  dst?: string;
  sport?: number;
  dport?: number;
  type?: number;
  code?: number;
  id?: number;
}

const NUMERIC = new Set(["sport", "dport", "type", "code", "id"]);
const ICMP_TYPE_SHIFT = 8;

function finishTuple(t: TupleFields, proto: number, line: string): Result<CtTupleText> {
  if (t.src === undefined || t.dst === undefined) return err("conntrack", "tuple", 0, `no src/dst in: ${line}`);
  if (proto === 1) {
    if (t.type === undefined || t.code === undefined || t.id === undefined)
      return err("conntrack", "icmp", 0, `icmp tuple without type/code/id: ${line}`);
    return ok({ src: t.src, dst: t.dst, sport: t.id, dport: (t.type << ICMP_TYPE_SHIFT) | t.code });
  }
  return ok({ src: t.src, dst: t.dst, sport: t.sport ?? 0, dport: t.dport ?? 0 });
}

/** One line of `conntrack -L`. */
export function parseConntrackLine(line: string): Result<KernelCtEntry> {
  const words = line.trim().split(/\s+/);
  // <l4 name> <l4 number> <timeout> [<TCP state>] key=value… ; `conntrack -L -f ipv4` may prefix `ipv4 2`.
  let i = 0;
  if (words[0] === "ipv4" || words[0] === "ipv6") i = 2;
  const proto = Number(words[i + 1]);
  if (!Number.isInteger(proto) || proto < 0 || proto > 255)
    return err("conntrack", "protocol", 0, `no protocol number in: ${line}`);
  i += 3;
  let tcpState: string | null = null;
  if (i < words.length && /^[A-Z_0-9]+$/.test(words[i])) tcpState = words[i++];
  const tuples: TupleFields[] = [];
  let unreplied = false;
  let assured = false;
  for (; i < words.length; i++) {
    const w = words[i];
    if (w === "[UNREPLIED]") unreplied = true;
    else if (w === "[ASSURED]") assured = true;
    else {
      const eq = w.indexOf("=");
      if (eq <= 0) continue;
      const key = w.slice(0, eq);
      const value = w.slice(eq + 1);
      if (key === "src") {
        if (tuples.length === 2) break;
        tuples.push({});
      }
      const t = tuples[tuples.length - 1] as TupleFields | undefined;
      if (t === undefined) continue;
      if (key === "src" || key === "dst") t[key] = value;
      else if (NUMERIC.has(key)) {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 0 || n > 0xffff) return err("conntrack", key, 0, `bad ${key} in: ${line}`);
        t[key as "sport" | "dport" | "type" | "code" | "id"] = n;
      }
    }
  }
  if (tuples.length !== 2) return err("conntrack", "tuple", 0, `expected two tuples in: ${line}`);
  const original = finishTuple(tuples[0], proto, line);
  if (!original.ok) return original;
  const reply = finishTuple(tuples[1], proto, line);
  if (!reply.ok) return reply;
  return ok({ proto, tcpState, original: original.value, reply: reply.value, unreplied, assured });
}

/** Every entry of a `conntrack -L` listing (blank lines skipped). */
export function parseConntrackList(text: string): Result<KernelCtEntry[]> {
  const out: KernelCtEntry[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const e = parseConntrackLine(line);
    if (!e.ok) return e;
    out.push(e.value);
  }
  return ok(out);
}
