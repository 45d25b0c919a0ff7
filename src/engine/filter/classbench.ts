// Parser for ClassBench filter sets (Taylor & Turner, "ClassBench: A Packet Classification Benchmark", 2005): one
// rule a line, first match wins, tab-separated fields
//   @SRC/LEN  DST/LEN  SPORT_LO : SPORT_HI  DPORT_LO : DPORT_HI  PROTO/MASK  [FLAGS/MASK]
// Pure: it takes the file's text. The trailing TCP-flags field is parsed and kept but is not part of the
// 5-tuple box (the classifier, like the usual ClassBench evaluations, classifies on the five fields only).

import { parseIpv4 } from "../../wire/address.js";
import type { FiveTupleRule } from "./classifier.js";
import { prefixRange } from "./classifier.js";

export interface ClassBenchRule extends FiveTupleRule {
  /** 1-based line in the file. */
  readonly line: number;
  readonly flags: number;
  readonly flagsMask: number;
}

export interface ClassBenchError {
  readonly kind: "classbench";
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

export type ClassBenchResult =
  { readonly ok: true; readonly rules: ClassBenchRule[] } | { readonly ok: false; readonly error: ClassBenchError };

const PREFIX = /^@?(\d+\.\d+\.\d+\.\d+)\/(\d+)$/;
const PORTS = /^(\d+)\s*:\s*(\d+)$/;
const MASKED = /^0x([0-9a-fA-F]+)\/0x([0-9a-fA-F]+)$/;
const PORT_MAX = 0xffff;
const PROTO_MAX = 0xff;

export function parseClassBench(text: string): ClassBenchResult {
  const rules: ClassBenchRule[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].replace(/\r$/, "");
    if (raw.trim() === "") continue;
    const lineNo = i + 1;
    const fields = raw.split("\t").filter((f) => f.trim() !== "");
    const columnOf = (k: number): number => {
      let col = 1;
      let seen = -1;
      for (const part of raw.split("\t")) {
        if (part.trim() !== "") seen++;
        if (seen === k) return col;
        col += part.length + 1;
      }
      return col;
    };
    const bad = (k: number, message: string): ClassBenchResult => ({
      ok: false,
      error: { kind: "classbench", line: lineNo, column: columnOf(k), message },
    });
    if (fields.length < 5) return bad(0, `expected at least 5 tab-separated fields, got ${fields.length}`);
    if (!fields[0].startsWith("@")) return bad(0, "a rule starts with @");
    const prefixes: [number, number][] = [];
    for (const k of [0, 1]) {
      const m = PREFIX.exec(fields[k].trim());
      const addr = m === null ? null : parseIpv4(m[1]);
      const len = m === null ? NaN : Number(m[2]);
      if (m === null || addr === null || !(len >= 0 && len <= 32)) return bad(k, `bad prefix "${fields[k]}"`);
      prefixes.push(prefixRange(addr, len));
    }
    const ports: [number, number][] = [];
    for (const k of [2, 3]) {
      const m = PORTS.exec(fields[k].trim());
      const lo = m === null ? NaN : Number(m[1]);
      const hi = m === null ? NaN : Number(m[2]);
      if (m === null || !(lo <= hi && hi <= PORT_MAX)) return bad(k, `bad port range "${fields[k]}"`);
      ports.push([lo, hi]);
    }
    const proto = MASKED.exec(fields[4].trim());
    if (proto === null) return bad(4, `bad protocol "${fields[4]}"`);
    const pv = parseInt(proto[1], 16);
    const pm = parseInt(proto[2], 16);
    if (pv > PROTO_MAX || (pm !== 0 && pm !== PROTO_MAX))
      return bad(4, `protocol mask must be 0x00 or 0xFF: "${fields[4]}"`);
    let flags = 0;
    let flagsMask = 0;
    if (fields.length > 5) {
      const f = MASKED.exec(fields[5].trim());
      if (f === null) return bad(5, `bad flags "${fields[5]}"`);
      flags = parseInt(f[1], 16);
      flagsMask = parseInt(f[2], 16);
    }
    rules.push({
      line: lineNo,
      srcLo: prefixes[0][0],
      srcHi: prefixes[0][1],
      dstLo: prefixes[1][0],
      dstHi: prefixes[1][1],
      sportLo: ports[0][0],
      sportHi: ports[0][1],
      dportLo: ports[1][0],
      dportHi: ports[1][1],
      protoLo: pm === 0 ? 0 : pv,
      protoHi: pm === 0 ? PROTO_MAX : pv,
      flags,
      flagsMask,
    });
  }
  return { ok: true, rules };
}
