// Reads libnftables JSON (libnftables-json(5), as `nft -j list ruleset` prints it in nftables 1.0.6) into the
// ruleset IR. JSON.parse forgets where things were, so a small scanner builds a tree that keeps the line and column
// of every value: each table, chain, rule, set and map gets the origin of the JSON object that declared it, and
// every diagnostic points at the exact object it is about. Constructs the IR cannot express are reported as
// positioned "unsupported" diagnostics, never skipped silently.

import { parseIp } from "../../wire/address.js";
import type {
  CtHelperObject,
  Chain,
  ChainPolicy,
  ChainType,
  Expr,
  FibFlag,
  Hook,
  KeyType,
  LogLevel,
  MapDataType,
  MapElement,
  NamedMap,
  NamedSet,
  NatFlag,
  Origin,
  PortRange,
  RateUnit,
  RejectWith,
  Rule,
  Ruleset,
  Selector,
  SetFlag,
  Statement,
  Table,
  TableFamily,
  Value,
  VerdictExpr,
  VerdictMapEntry,
} from "../../engine/filter/ir.js";
import type { SymbolTable } from "../../engine/filter/symbols.js";
import { CT_STATE_SYMBOLS, CT_STATUS_SYMBOLS, TCP_FLAG_SYMBOLS } from "../../engine/filter/symbols.js";
import type { NftDiagnostic } from "./diagnostics.js";
import { hasNftErrors } from "./diagnostics.js";

// ---------------------------------------------------------------------------------------------------------------
// A position-keeping JSON tree (RFC 8259 grammar).

export type JsonNode =
  | { readonly k: "object"; readonly line: number; readonly column: number; readonly entries: readonly JsonEntry[] }
  | { readonly k: "array"; readonly line: number; readonly column: number; readonly items: readonly JsonNode[] }
  | { readonly k: "string"; readonly line: number; readonly column: number; readonly value: string }
  | { readonly k: "number"; readonly line: number; readonly column: number; readonly value: number }
  | { readonly k: "boolean"; readonly line: number; readonly column: number; readonly value: boolean }
  | { readonly k: "null"; readonly line: number; readonly column: number };

export interface JsonEntry {
  readonly key: string;
  readonly value: JsonNode;
}

export interface JsonSyntaxError {
  readonly message: string;
  readonly line: number;
  readonly column: number;
}

/** Deeper nesting than any ruleset needs; the bound keeps the recursive scanner off the stack limit. */
const MAX_DEPTH = 256;
const NUMBER_RE = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};

class JsonScanner {
  private at = 0;
  private line = 1;
  private lineStart = 0;
  constructor(private readonly text: string) {}

  parseDocument(): JsonNode | JsonSyntaxError {
    const v = this.value(0);
    if ("message" in v) return v;
    this.skipSpace();
    if (this.at < this.text.length) return this.error("unexpected text after the JSON value");
    return v;
  }

  private error(message: string): JsonSyntaxError {
    return { message, line: this.line, column: this.at - this.lineStart + 1 };
  }

  private skipSpace(): void {
    const t = this.text;
    while (this.at < t.length) {
      const c = t.charCodeAt(this.at);
      if (c === 0x0a) {
        this.at++;
        this.line++;
        this.lineStart = this.at;
      } else if (c === 0x20 || c === 0x09 || c === 0x0d) this.at++;
      else break;
    }
  }

  private value(depth: number): JsonNode | JsonSyntaxError {
    if (depth > MAX_DEPTH) return this.error(`JSON nested deeper than ${MAX_DEPTH} levels`);
    this.skipSpace();
    const line = this.line;
    const column = this.at - this.lineStart + 1;
    const c = this.text[this.at] as string | undefined;
    switch (c) {
      case "{":
        return this.object(depth, line, column);
      case "[":
        return this.array(depth, line, column);
      case '"': {
        const s = this.string();
        return typeof s === "string" ? { k: "string", line, column, value: s } : s;
      }
      case undefined:
        return this.error("unexpected end of JSON text");
      default:
        break;
    }
    for (const [word, node] of [
      ["true", { k: "boolean", line, column, value: true }],
      ["false", { k: "boolean", line, column, value: false }],
      ["null", { k: "null", line, column }],
    ] as const) {
      if (this.text.startsWith(word, this.at)) {
        this.at += word.length;
        return node;
      }
    }
    NUMBER_RE.lastIndex = this.at;
    const m = NUMBER_RE.exec(this.text);
    if (m !== null) {
      this.at += m[0].length;
      return { k: "number", line, column, value: Number(m[0]) };
    }
    return this.error(`unexpected character ${JSON.stringify(c)}`);
  }

  private object(depth: number, line: number, column: number): JsonNode | JsonSyntaxError {
    this.at++;
    const entries: JsonEntry[] = [];
    this.skipSpace();
    if (this.text[this.at] === "}") {
      this.at++;
      return { k: "object", line, column, entries };
    }
    for (;;) {
      this.skipSpace();
      if (this.text[this.at] !== '"') return this.error("expected a string key");
      const key = this.string();
      if (typeof key !== "string") return key;
      this.skipSpace();
      if (this.text[this.at] !== ":") return this.error("expected ':' after an object key");
      this.at++;
      const v = this.value(depth + 1);
      if ("message" in v) return v;
      entries.push({ key, value: v });
      this.skipSpace();
      const sep = this.text[this.at];
      this.at++;
      if (sep === "}") return { k: "object", line, column, entries };
      if (sep !== ",") {
        this.at--;
        return this.error("expected ',' or '}' in an object");
      }
    }
  }

  private array(depth: number, line: number, column: number): JsonNode | JsonSyntaxError {
    this.at++;
    const items: JsonNode[] = [];
    this.skipSpace();
    if (this.text[this.at] === "]") {
      this.at++;
      return { k: "array", line, column, items };
    }
    for (;;) {
      const v = this.value(depth + 1);
      if ("message" in v) return v;
      items.push(v);
      this.skipSpace();
      const sep = this.text[this.at];
      this.at++;
      if (sep === "]") return { k: "array", line, column, items };
      if (sep !== ",") {
        this.at--;
        return this.error("expected ',' or ']' in an array");
      }
    }
  }

  private string(): string | JsonSyntaxError {
    const t = this.text;
    this.at++;
    let out = "";
    let from = this.at;
    while (this.at < t.length) {
      const c = t.charCodeAt(this.at);
      if (c === 0x22) {
        out += t.slice(from, this.at);
        this.at++;
        return out;
      }
      if (c < 0x20) return this.error("control character inside a string");
      if (c === 0x5c) {
        out += t.slice(from, this.at);
        const e = t[this.at + 1] as string | undefined;
        if (e === "u") {
          const hex = t.slice(this.at + 2, this.at + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) return this.error("bad \\u escape");
          out += String.fromCharCode(parseInt(hex, 16));
          this.at += 6;
        } else {
          const r = e === undefined ? undefined : (ESCAPES[e] as string | undefined);
          if (r === undefined) return this.error("bad escape in a string");
          out += r;
          this.at += 2;
        }
        from = this.at;
      } else this.at++;
    }
    return this.error("unterminated string");
  }
}

/** Parses JSON text into a tree that remembers the 1-based line and column of every value. */
export function parseJsonWithPositions(text: string): JsonNode | JsonSyntaxError {
  return new JsonScanner(text).parseDocument();
}

// ---------------------------------------------------------------------------------------------------------------
// libnftables JSON → IR.

/** Thrown only inside this module to abandon one object; converted to a diagnostic at the object's boundary. */
class Reject extends Error {
  constructor(readonly diagnostic: NftDiagnostic) {
    super(diagnostic.message);
  }
}

const FAMILIES: readonly TableFamily[] = ["ip", "ip6", "inet"];
const HOOKS: readonly Hook[] = ["prerouting", "input", "forward", "output", "postrouting"];
const POLICIES: readonly ChainPolicy[] = ["accept", "drop"];
const CHAIN_TYPES: readonly ChainType[] = ["filter", "nat", "route"];
const META_KEYS = ["iif", "oif", "iifname", "oifname", "l4proto", "nfproto", "mark"] as const;
const CT_KEYS = ["state", "status", "direction", "mark", "helper"] as const;
const FIB_FLAGS: readonly FibFlag[] = ["saddr", "daddr", "mark", "iif", "oif"];
const PAYLOAD_FIELDS: Readonly<Record<string, readonly string[]>> = {
  ip: ["saddr", "daddr", "protocol", "length", "ttl"],
  ip6: ["saddr", "daddr", "nexthdr", "length", "hoplimit"],
  tcp: ["sport", "dport", "flags"],
  udp: ["sport", "dport"],
  th: ["sport", "dport"],
  icmp: ["type", "code", "id"],
  icmpv6: ["type", "code", "id"],
};
const KEY_TYPES: readonly KeyType[] = [
  "ipv4_addr",
  "ipv6_addr",
  "inet_service",
  "inet_proto",
  "ifname",
  "iface_index",
  "mark",
  "ct_state",
  "integer",
];
const MAP_DATA_TYPES: readonly MapDataType[] = ["verdict", "ipv4_addr", "ipv6_addr", "inet_service", "mark", "integer"];
const SET_FLAGS: readonly SetFlag[] = ["interval", "constant", "timeout"];
const NAT_FLAGS: readonly NatFlag[] = ["random", "fully-random", "persistent"];
const LOG_LEVELS: readonly LogLevel[] = ["emerg", "alert", "crit", "err", "warn", "notice", "info", "debug", "audit"];
const RATE_UNITS: readonly RateUnit[] = ["second", "minute", "hour", "day", "week"];
const MATCH_OPS = ["==", "!=", "<", ">", "<=", ">=", "in"] as const;
/** libnftables-json byte units (nft's data_unit_parse: powers of 1024). */
const BYTE_UNIT_SCALE: Readonly<Record<string, number>> = { bytes: 1, kbytes: 1024, mbytes: 1024 * 1024 };
const unitScale = (u: string): number | undefined =>
  u === "packets" ? 1 : Object.hasOwn(BYTE_UNIT_SCALE, u) ? BYTE_UNIT_SCALE[u] : undefined;
/** Selectors whose string values are names (interfaces, helpers) rather than symbolic constants. */
const NAME_VALUED = new Set(["meta:iif", "meta:oif", "meta:iifname", "meta:oifname", "ct:helper"]);
/** Set key types whose string elements are names. */
const NAME_KEY_TYPES = new Set<KeyType>(["ifname", "iface_index"]);
const REJECT_CODES: Readonly<Record<RejectWith["type"], readonly string[]>> = {
  "tcp-reset": [],
  icmp: [
    "net-unreachable",
    "host-unreachable",
    "prot-unreachable",
    "port-unreachable",
    "net-prohibited",
    "host-prohibited",
    "admin-prohibited",
  ],
  icmpv6: ["no-route", "admin-prohibited", "addr-unreachable", "port-unreachable", "policy-fail", "reject-route"],
  icmpx: ["port-unreachable", "admin-prohibited", "no-route", "host-unreachable"],
};

const includes = <T extends string>(list: readonly T[], s: unknown): s is T =>
  typeof s === "string" && (list as readonly string[]).includes(s);

/** How a string on the right of a match or in a set is read: as a name, or by its shape. */
type StringContext = "name" | "symbol";

interface Reader {
  readonly source: string;
  readonly diagnostics: NftDiagnostic[];
}

function describe(n: JsonNode): string {
  const text = JSON.stringify(toPlain(n));
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function toPlain(n: JsonNode): unknown {
  switch (n.k) {
    case "object":
      return Object.fromEntries(n.entries.map((e) => [e.key, toPlain(e.value)]));
    case "array":
      return n.items.map(toPlain);
    case "null":
      return null;
    default:
      return n.value;
  }
}

function fail(r: Reader, n: JsonNode, severity: NftDiagnostic["severity"], code: string, message: string): Reject {
  return new Reject({ severity, code, message, source: r.source, line: n.line, column: n.column });
}

const unsupported = (r: Reader, n: JsonNode, what: string): Reject =>
  fail(r, n, "unsupported", "unsupported", `${what} is not supported by Mallory's ruleset model: ${describe(n)}`);
const malformed = (r: Reader, n: JsonNode, what: string): Reject =>
  fail(r, n, "error", "json-shape", `${what}: ${describe(n)}`);

function field(n: JsonNode, key: string): JsonNode | undefined {
  if (n.k !== "object") return undefined;
  for (const e of n.entries) if (e.key === key) return e.value;
  return undefined;
}

/** A single-key object `{"key": value}`, the shape of every libnftables expression and statement. */
function single(n: JsonNode): JsonEntry | null {
  return n.k === "object" && n.entries.length === 1 ? n.entries[0] : null;
}

function str(r: Reader, n: JsonNode | undefined, parent: JsonNode, what: string): string {
  if (n?.k !== "string") throw malformed(r, n ?? parent, `${what} must be a string`);
  return n.value;
}

function optStr(r: Reader, n: JsonNode | undefined, what: string): string | undefined {
  if (n === undefined) return undefined;
  if (n.k !== "string") throw malformed(r, n, `${what} must be a string`);
  return n.value;
}

function int(r: Reader, n: JsonNode | undefined, parent: JsonNode, what: string): number {
  if (n?.k !== "number" || !Number.isSafeInteger(n.value))
    throw malformed(r, n ?? parent, `${what} must be an integer`);
  return n.value;
}

/** A flag list: libnftables prints one flag as a string and several as an array. */
function stringList(r: Reader, n: JsonNode | undefined, what: string): string[] {
  if (n === undefined) return [];
  if (n.k === "string") return [n.value];
  if (n.k === "array") return n.items.map((i) => str(r, i, n, what));
  throw malformed(r, n, `${what} must be a string or an array of strings`);
}

function origin(r: Reader, n: JsonNode): Origin {
  return { source: r.source, line: n.line, column: n.column };
}

// ---- selectors

function selector(r: Reader, n: JsonNode): Selector {
  const e = single(n);
  if (e === null) throw unsupported(r, n, "this expression");
  const v = e.value;
  switch (e.key) {
    case "payload": {
      const protocol = field(v, "protocol");
      const f = field(v, "field");
      if (protocol?.k !== "string" || f?.k !== "string") throw unsupported(r, n, "a raw payload expression");
      const fields = PAYLOAD_FIELDS[protocol.value] as readonly string[] | undefined;
      if (fields?.includes(f.value) !== true) throw unsupported(r, n, `the payload field ${protocol.value} ${f.value}`);
      return { kind: "payload", protocol: protocol.value, field: f.value } as Selector;
    }
    case "meta": {
      const key = field(v, "key");
      if (!includes(META_KEYS, key?.k === "string" ? key.value : undefined)) throw unsupported(r, n, "this meta key");
      return { kind: "meta", key: (key as { value: (typeof META_KEYS)[number] }).value };
    }
    case "ct": {
      const key = field(v, "key");
      if (field(v, "dir") !== undefined || field(v, "family") !== undefined)
        throw unsupported(r, n, "a ct expression with a direction or family");
      if (key?.k !== "string" || !includes(CT_KEYS, key.value)) throw unsupported(r, n, "this ct key");
      return { kind: "ct", key: key.value };
    }
    case "fib": {
      const result = field(v, "result");
      if (result?.k !== "string" || (result.value !== "oif" && result.value !== "type"))
        throw unsupported(r, n, "this fib result");
      const flags = stringList(r, field(v, "flags"), "fib flags");
      const bad = flags.find((f) => !includes(FIB_FLAGS, f));
      if (bad !== undefined) throw unsupported(r, n, `the fib flag ${bad}`);
      return { kind: "fib", flags: flags as FibFlag[], result: result.value };
    }
    case "concat": {
      if (v.k !== "array" || v.items.length < 2) throw malformed(r, n, "concat needs an array of expressions");
      return { kind: "concat", parts: v.items.map((i) => selector(r, i)) };
    }
    default:
      throw unsupported(r, n, `the expression "${e.key}"`);
  }
}

function stringContext(sel: Selector): StringContext[] {
  if (sel.kind === "concat") return sel.parts.flatMap(stringContext);
  const key = sel.kind === "meta" ? `meta:${sel.key}` : sel.kind === "ct" ? `ct:${sel.key}` : "";
  return [NAME_VALUED.has(key) ? "name" : "symbol"];
}

function keyTypeContext(types: readonly KeyType[]): StringContext[] {
  return types.map((t) => (NAME_KEY_TYPES.has(t) ? "name" : "symbol"));
}

// ---- values

function scalarString(s: string, ctx: StringContext): Value {
  if (s.startsWith("@")) return { kind: "setref", name: s.slice(1) };
  if (ctx === "name") return { kind: "string", value: s };
  if (parseIp(s) !== null) return { kind: "address", addr: s };
  return { kind: "symbol", name: s };
}

function value(r: Reader, n: JsonNode, ctx: readonly StringContext[], inSet = false): Value {
  const c = ctx.length === 1 ? ctx[0] : "symbol";
  switch (n.k) {
    case "number":
      if (!Number.isSafeInteger(n.value) || n.value < 0)
        throw malformed(r, n, "a value must be a non-negative integer");
      return { kind: "int", value: n.value };
    case "string":
      return scalarString(n.value, c);
    case "boolean":
      // `fib … oif missing` prints as false (nft's boolean_type for an absent route).
      if (!n.value) return { kind: "symbol", name: "missing" };
      throw unsupported(r, n, "the boolean value true");
    case "array":
      // A flag list `established,related` (op "in" on a bitmask type).
      if (inSet) throw malformed(r, n, "a nested list");
      return { kind: "set", elements: n.items.map((i) => value(r, i, ctx, true)) };
    case "null":
      throw malformed(r, n, "a value cannot be null");
    case "object":
      break;
    default:
      break;
  }
  const e = single(n);
  if (e === null) throw unsupported(r, n, "this value");
  const v = e.value;
  switch (e.key) {
    case "prefix": {
      const addr = str(r, field(v, "addr"), v, "prefix addr");
      const len = int(r, field(v, "len"), v, "prefix len");
      const ip = parseIp(addr);
      if (ip === null || len < 0 || len > (ip.family === 4 ? 32 : 128)) throw malformed(r, n, "bad prefix");
      return { kind: "prefix", addr, len };
    }
    case "range": {
      if (v.k !== "array" || v.items.length !== 2) throw malformed(r, n, "range needs two values");
      return { kind: "range", lo: value(r, v.items[0], ctx, true), hi: value(r, v.items[1], ctx, true) };
    }
    case "set": {
      if (inSet) throw malformed(r, n, "a set inside a set");
      const items = v.k === "array" ? v.items : [v];
      return { kind: "set", elements: items.map((i) => value(r, i, ctx, true)) };
    }
    case "concat": {
      if (v.k !== "array" || v.items.length < 2) throw malformed(r, n, "concat needs an array of values");
      return {
        kind: "concat",
        parts: v.items.map((i, k) => value(r, i, [ctx[k] ?? "symbol"], true)),
      };
    }
    case "elem": {
      const val = field(v, "val");
      if (val === undefined) throw malformed(r, n, "elem needs a val");
      for (const en of v.k === "object" ? v.entries : [])
        if (en.key !== "val" && en.key !== "comment")
          throw unsupported(r, en.value, `the set element option ${en.key}`);
      return value(r, val, ctx, inSet);
    }
    default:
      throw unsupported(r, n, `the value expression "${e.key}"`);
  }
}

/** Symbolic bit names of the flag-typed selectors. */
function flagSymbols(sel: Selector): SymbolTable | null {
  if (sel.kind === "payload" && sel.protocol === "tcp" && sel.field === "flags") return TCP_FLAG_SYMBOLS;
  if (sel.kind === "ct" && sel.key === "state") return CT_STATE_SYMBOLS;
  if (sel.kind === "ct" && sel.key === "status") return CT_STATUS_SYMBOLS;
  return null;
}

/**
 * The right side of a match. A bare JSON list compared with `==`/`!=` is one value, the OR of its flags (nft
 * prints `== fin | syn` as `["fin", "syn"]`; src/json.c binop_expr_json), not a set: the IR's `==` on a set is
 * membership. With `in` the list stays a list of bits ("any of").
 */
function compared(r: Reader, sel: Selector, op: string, n: JsonNode): Value {
  const v = value(r, n, stringContext(sel));
  if (n.k !== "array" || (op !== "==" && op !== "!=")) return v;
  const symbols = flagSymbols(sel);
  if (symbols === null || v.kind !== "set") throw unsupported(r, n, "a list of values compared with == or !=");
  let bits = 0;
  for (const e of v.elements) {
    const b = e.kind === "int" ? e.value : e.kind === "symbol" ? symbols.get(e.name) : undefined;
    if (b === undefined) throw malformed(r, n, "a flag combination takes flag names or numbers");
    bits |= b;
  }
  return { kind: "int", value: bits >>> 0 };
}

// ---- statements and verdicts

function verdict(r: Reader, n: JsonNode): VerdictExpr | null {
  const e = single(n);
  if (e === null) return null;
  switch (e.key) {
    case "accept":
    case "drop":
    case "return":
    case "continue":
      return { kind: e.key };
    case "jump":
    case "goto":
      return { kind: e.key, target: str(r, field(e.value, "target"), e.value, `${e.key} target`) };
    default:
      return null;
  }
}

function portRange(r: Reader, n: JsonNode): PortRange {
  if (n.k === "number") {
    const p = int(r, n, n, "port");
    return { lo: p, hi: p };
  }
  const range = field(n, "range");
  if (range?.k === "array" && range.items.length === 2)
    return { lo: int(r, range.items[0], n, "port"), hi: int(r, range.items[1], n, "port") };
  throw unsupported(r, n, "this NAT port expression");
}

function natFlags(r: Reader, n: JsonNode | undefined): NatFlag[] | undefined {
  if (n === undefined) return undefined;
  const flags = stringList(r, n, "NAT flags");
  const bad = flags.find((f) => !includes(NAT_FLAGS, f));
  if (bad !== undefined) throw unsupported(r, n, `the NAT flag ${bad}`);
  return flags as NatFlag[];
}

function checkKeys(r: Reader, n: JsonNode, allowed: readonly string[], what: string): void {
  if (n.k !== "object") return;
  for (const e of n.entries)
    if (!allowed.includes(e.key)) throw unsupported(r, e.value, `the ${what} option "${e.key}"`);
}

function natAddr(r: Reader, n: JsonNode): Value {
  if (n.k === "string") {
    if (parseIp(n.value) === null) throw unsupported(r, n, "a NAT address that is not a literal address");
    return { kind: "address", addr: n.value };
  }
  const v = value(r, n, ["symbol"]);
  if (v.kind !== "range" && v.kind !== "prefix") throw unsupported(r, n, "this NAT address");
  return v;
}

function statement(r: Reader, n: JsonNode): Expr {
  const vd = verdict(r, n);
  if (vd !== null) return vd;
  const e = single(n);
  if (e === null) throw malformed(r, n, "an expression must be an object with one key");
  const v = e.value;
  switch (e.key) {
    case "match": {
      const op = field(v, "op");
      const left = field(v, "left");
      const right = field(v, "right");
      if (left === undefined || right === undefined) throw malformed(r, n, "match needs left and right");
      // `"op": "!"` is nft's print of `flags & (a|b) == 0` (`tcp flags ! a,b`: none of the bits is set).
      if (op?.k === "string" && op.value === "!") {
        const sel = selector(r, left);
        const none: Value = { kind: "int", value: 0 };
        return { kind: "match", left: sel, op: "==", right: none, mask: value(r, right, stringContext(sel)) };
      }
      if (op?.k !== "string" || !includes(MATCH_OPS, op.value)) throw unsupported(r, op ?? n, "this match operator");
      const masked = single(left);
      if (masked !== null && masked.key === "&") {
        const pair = masked.value;
        if (pair.k !== "array" || pair.items.length !== 2) throw malformed(r, left, "& needs two operands");
        const sel = selector(r, pair.items[0]);
        const ctx = stringContext(sel);
        return {
          kind: "match",
          left: sel,
          op: op.value,
          right: compared(r, sel, op.value, right),
          mask: value(r, pair.items[1], ctx),
        };
      }
      const sel = selector(r, left);
      return { kind: "match", left: sel, op: op.value, right: compared(r, sel, op.value, right) };
    }
    case "counter":
      if (v.k === "string") throw unsupported(r, n, "a named counter reference");
      return { kind: "counter" };
    case "log": {
      checkKeys(r, v, ["prefix", "level"], "log");
      const level = optStr(r, field(v, "level"), "log level");
      if (level !== undefined && !includes(LOG_LEVELS, level)) throw malformed(r, v, "unknown log level");
      const prefix = optStr(r, field(v, "prefix"), "log prefix");
      return {
        kind: "log",
        ...(prefix === undefined ? {} : { prefix }),
        ...(level === undefined ? {} : { level }),
      };
    }
    case "limit": {
      checkKeys(r, v, ["rate", "per", "burst", "rate_unit", "burst_unit", "inv"], "limit");
      const per = str(r, field(v, "per"), v, "limit per");
      if (!includes(RATE_UNITS, per)) throw malformed(r, v, "unknown limit unit");
      // nft prints a byte rate in the largest whole unit (`"rate": 512, "rate_unit": "kbytes"`); the IR counts bytes.
      const rateUnit = optStr(r, field(v, "rate_unit"), "limit rate_unit") ?? "packets";
      const burstUnit = optStr(r, field(v, "burst_unit"), "limit burst_unit") ?? rateUnit;
      const rateScale = unitScale(rateUnit);
      const burstScale = unitScale(burstUnit);
      if (rateScale === undefined || burstScale === undefined) throw malformed(r, v, "unknown limit unit");
      if ((rateUnit === "packets") !== (burstUnit === "packets"))
        throw malformed(r, v, "a limit's rate and burst must both count packets or both count bytes");
      const rate = int(r, field(v, "rate"), v, "limit rate") * rateScale;
      const burst = (field(v, "burst") === undefined ? 0 : int(r, field(v, "burst"), v, "limit burst")) * burstScale;
      if (!Number.isSafeInteger(rate) || !Number.isSafeInteger(burst)) throw malformed(r, v, "limit out of range");
      const inv = field(v, "inv");
      return {
        kind: "limit",
        rate,
        per,
        burst,
        unit: rateUnit === "packets" ? "packets" : "bytes",
        over: inv?.k === "boolean" && inv.value,
      };
    }
    case "mangle": {
      const mss = mssClamp(r, e);
      if (mss !== null) return mss;
      const key = field(v, "key");
      const val = field(v, "value");
      const k = key === undefined ? null : single(key);
      const target = k?.key === "meta" || k?.key === "ct" ? k.key : null;
      const kk = k === null ? undefined : field(k.value, "key");
      if (target === null || kk?.k !== "string" || kk.value !== "mark" || val?.k !== "number")
        throw unsupported(r, n, "a mangle statement other than `meta|ct mark set N`");
      return { kind: "mark-set", target, value: int(r, val, v, "mark") };
    }
    case "snat":
    case "dnat": {
      checkKeys(r, v, ["addr", "family", "port", "flags"], e.key);
      const family = field(v, "family");
      const addr = field(v, "addr");
      const port = field(v, "port");
      const flags = natFlags(r, field(v, "flags"));
      if (family !== undefined && (family.k !== "string" || (family.value !== "ip" && family.value !== "ip6")))
        throw unsupported(r, family, "this NAT family");
      return {
        kind: e.key,
        ...(family?.k === "string" ? { family: family.value as "ip" | "ip6" } : {}),
        ...(addr === undefined ? {} : { addr: natAddr(r, addr) }),
        ...(port === undefined ? {} : { port: portRange(r, port) }),
        ...(flags === undefined ? {} : { flags }),
      };
    }
    case "masquerade":
    case "redirect": {
      if (v.k === "null") return { kind: e.key };
      checkKeys(r, v, ["port", "flags"], e.key);
      const port = field(v, "port");
      const flags = natFlags(r, field(v, "flags"));
      return {
        kind: e.key,
        ...(port === undefined ? {} : { port: portRange(r, port) }),
        ...(flags === undefined ? {} : { flags }),
      };
    }
    case "notrack":
      return { kind: "notrack" };
    case "ct helper":
      return { kind: "ct-helper-set", name: str(r, v, n, "ct helper name") };
    case "vmap": {
      const key = field(v, "key");
      const data = field(v, "data");
      if (key === undefined || data === undefined) throw malformed(r, n, "vmap needs key and data");
      const sel = selector(r, key);
      if (data.k === "string" && data.value.startsWith("@"))
        return { kind: "vmap", key: sel, map: { kind: "named", name: data.value.slice(1) } };
      const set = field(data, "set");
      if (set?.k !== "array") throw unsupported(r, data, "this verdict map data");
      const ctx = stringContext(sel);
      const entries: VerdictMapEntry[] = set.items.map((item) => {
        if (item.k !== "array" || item.items.length !== 2) throw malformed(r, item, "a vmap entry is [key, verdict]");
        const vd2 = verdict(r, item.items[1]);
        if (vd2 === null) throw unsupported(r, item.items[1], "this vmap verdict");
        return { key: value(r, item.items[0], ctx, true), verdict: vd2 };
      });
      return { kind: "vmap", key: sel, map: { kind: "anonymous", entries } };
    }
    case "reject": {
      if (v.k === "null") return { kind: "reject" };
      checkKeys(r, v, ["type", "expr"], "reject");
      const type = optStr(r, field(v, "type"), "reject type");
      const code = optStr(r, field(v, "expr"), "reject expr");
      if (type === undefined) return { kind: "reject" };
      if (type === "tcp reset") return { kind: "reject", with: { type: "tcp-reset" } };
      if (type !== "icmp" && type !== "icmpv6" && type !== "icmpx") throw unsupported(r, v, `reject type ${type}`);
      const c = code ?? "port-unreachable";
      if (!REJECT_CODES[type].includes(c)) throw unsupported(r, v, `the ${type} reject code ${c}`);
      return { kind: "reject", with: { type, code: c } as RejectWith };
    }
    default:
      throw unsupported(r, n, `the statement "${e.key}"`);
  }
}

/** `tcp option maxseg size set rt mtu` (fw4's MTU fix) prints as a mangle of the option with an rt value. */
function mssClamp(r: Reader, e: JsonEntry): Statement | null {
  const key = field(e.value, "key");
  const opt = key === undefined ? undefined : field(key, "tcp option");
  if (opt === undefined) return null;
  const name = field(opt, "name");
  const f = field(opt, "field");
  if (name?.k !== "string" || name.value !== "maxseg" || f?.k !== "string" || f.value !== "size") return null;
  const val = field(e.value, "value");
  if (val?.k === "number") return { kind: "tcp-mss-set", size: int(r, val, e.value, "mss") };
  const rt = val === undefined ? undefined : field(val, "rt");
  const rtKey = rt === undefined ? undefined : field(rt, "key");
  if (rtKey?.k === "string" && rtKey.value === "mtu") return { kind: "tcp-mss-set", size: "rt-mtu" };
  return null;
}

// ---- objects

interface TableBuilder {
  readonly family: TableFamily;
  readonly name: string;
  readonly origin: Origin;
  comment?: string;
  readonly chains: ChainBuilder[];
  readonly sets: NamedSet[];
  readonly maps: NamedMap[];
  readonly ctHelpers: CtHelperObject[];
}

interface ChainBuilder {
  readonly chain: Omit<Chain, "rules">;
  readonly rules: Rule[];
}

function tableKey(family: string, name: string): string {
  return `${family}\u0000${name}`;
}

function ownerTable(r: Reader, n: JsonNode, tables: ReadonlyMap<string, TableBuilder>): TableBuilder {
  const family = str(r, field(n, "family"), n, "family");
  const name = str(r, field(n, "table"), n, "table");
  const t = tables.get(tableKey(family, name));
  if (t === undefined)
    throw fail(r, n, "error", "unknown-table", `table ${family} ${name} is not declared before its use`);
  return t;
}

function keyTypes(r: Reader, n: JsonNode): KeyType[] {
  const types = n.k === "array" ? n.items : [n];
  return types.map((t) => {
    if (t.k !== "string" || !includes(KEY_TYPES, t.value)) throw unsupported(r, t, "this set key type");
    return t.value;
  });
}

function setFlags(r: Reader, n: JsonNode | undefined): SetFlag[] | undefined {
  if (n === undefined) return undefined;
  const flags = stringList(r, n, "set flags");
  const bad = flags.find((f) => !includes(SET_FLAGS, f));
  if (bad !== undefined) throw unsupported(r, n, `the set flag ${bad}`);
  return flags as SetFlag[];
}

/** `{"ct helper": {"family", "table", "name", "handle", "type", "protocol", "l3proto"}}`. */
function readCtHelper(r: Reader, n: JsonNode): CtHelperObject {
  checkKeys(r, n, ["family", "table", "name", "handle", "type", "protocol", "l3proto", "comment"], "ct helper");
  const protocol = str(r, field(n, "protocol"), n, "protocol");
  if (protocol !== "tcp" && protocol !== "udp") throw unsupported(r, n, `a ct helper for protocol ${protocol}`);
  const l3 = optStr(r, field(n, "l3proto"), "l3proto");
  if (l3 !== undefined && l3 !== "ip" && l3 !== "ip6" && l3 !== "inet") throw unsupported(r, n, `l3proto ${l3}`);
  const comment = optStr(r, field(n, "comment"), "comment");
  return {
    name: str(r, field(n, "name"), n, "ct helper name"),
    origin: origin(r, n),
    type: str(r, field(n, "type"), n, "ct helper type"),
    protocol,
    ...(l3 === undefined ? {} : { l3proto: l3 }),
    ...(comment === undefined ? {} : { comment }),
  };
}

function readSet(r: Reader, n: JsonNode): NamedSet {
  checkKeys(r, n, ["family", "table", "name", "handle", "type", "flags", "elem", "comment", "policy"], "set");
  const keyType = keyTypes(r, field(n, "type") ?? n);
  const flags = setFlags(r, field(n, "flags"));
  const comment = optStr(r, field(n, "comment"), "comment");
  const elem = field(n, "elem");
  if (elem !== undefined && elem.k !== "array") throw malformed(r, elem, "elem must be an array");
  const ctx = keyTypeContext(keyType);
  return {
    name: str(r, field(n, "name"), n, "set name"),
    origin: origin(r, n),
    keyType,
    ...(flags === undefined ? {} : { flags }),
    elements: (elem?.items ?? []).map((i) => value(r, i, ctx, true)),
    ...(comment === undefined ? {} : { comment }),
  };
}

function readMap(r: Reader, n: JsonNode): NamedMap {
  checkKeys(r, n, ["family", "table", "name", "handle", "type", "map", "flags", "elem", "comment", "policy"], "map");
  const keyType = keyTypes(r, field(n, "type") ?? n);
  const dataType = str(r, field(n, "map"), n, "map data type");
  if (!includes(MAP_DATA_TYPES, dataType)) throw unsupported(r, field(n, "map") ?? n, "this map data type");
  const flags = setFlags(r, field(n, "flags"));
  const comment = optStr(r, field(n, "comment"), "comment");
  const elem = field(n, "elem");
  if (elem !== undefined && elem.k !== "array") throw malformed(r, elem, "elem must be an array");
  const ctx = keyTypeContext(keyType);
  const dataCtx: StringContext[] = ["symbol"];
  const elements: MapElement[] = (elem?.items ?? []).map((item) => {
    if (item.k !== "array" || item.items.length !== 2) throw malformed(r, item, "a map element is [key, data]");
    const key = value(r, item.items[0], ctx, true);
    if (dataType === "verdict") {
      const vd = verdict(r, item.items[1]);
      if (vd === null) throw unsupported(r, item.items[1], "this map verdict");
      return { key, data: { kind: "verdict", verdict: vd } };
    }
    return { key, data: { kind: "value", value: value(r, item.items[1], dataCtx, true) } };
  });
  return {
    name: str(r, field(n, "name"), n, "map name"),
    origin: origin(r, n),
    keyType,
    dataType,
    ...(flags === undefined ? {} : { flags }),
    elements,
    ...(comment === undefined ? {} : { comment }),
  };
}

function readChain(r: Reader, n: JsonNode): Omit<Chain, "rules"> {
  checkKeys(r, n, ["family", "table", "name", "handle", "type", "hook", "prio", "policy", "comment", "dev"], "chain");
  if (field(n, "dev") !== undefined) throw unsupported(r, n, "a netdev chain device");
  const name = str(r, field(n, "name"), n, "chain name");
  const comment = optStr(r, field(n, "comment"), "comment");
  const hook = field(n, "hook");
  const base = (() => {
    if (hook === undefined) return undefined;
    const type = str(r, field(n, "type"), n, "chain type");
    const h = str(r, hook, n, "chain hook");
    if (!includes(CHAIN_TYPES, type)) throw unsupported(r, n, `the chain type ${type}`);
    if (!includes(HOOKS, h)) throw unsupported(r, hook, `the hook ${h}`);
    const policy = optStr(r, field(n, "policy"), "policy") ?? "accept";
    if (!includes(POLICIES, policy)) throw malformed(r, n, "policy must be accept or drop");
    return { type, hook: h, priority: int(r, field(n, "prio"), n, "prio"), policy };
  })();
  return {
    name,
    origin: origin(r, n),
    ...(base === undefined ? {} : { base }),
    ...(comment === undefined ? {} : { comment }),
  };
}

function readRule(r: Reader, n: JsonNode): Rule {
  checkKeys(r, n, ["family", "table", "chain", "handle", "expr", "comment", "index", "position"], "rule");
  const expr = field(n, "expr");
  if (expr?.k !== "array") throw malformed(r, n, "a rule needs an expr array");
  const comment = optStr(r, field(n, "comment"), "comment");
  const handle = field(n, "handle");
  return {
    origin: origin(r, n),
    exprs: expr.items.map((i) => statement(r, i)),
    ...(comment === undefined ? {} : { comment }),
    ...(handle === undefined ? {} : { handle: int(r, handle, n, "handle") }),
  };
}

/** Commands that wrap objects in `nft -j -f` input; `list ruleset` output has bare objects. */
const WRAPPERS = new Set(["add", "create"]);

function readObject(r: Reader, n: JsonNode, tables: Map<string, TableBuilder>): void {
  const e = single(n);
  if (e === null) throw malformed(r, n, "each nftables entry must be an object with one key");
  const v = e.value;
  switch (e.key) {
    case "metainfo":
      return;
    case "flush":
      if (field(v, "ruleset") !== undefined) return;
      throw unsupported(r, n, "a flush other than `flush ruleset`");
    case "table": {
      checkKeys(r, v, ["family", "name", "handle", "comment", "flags"], "table");
      const family = str(r, field(v, "family"), v, "family");
      if (!includes(FAMILIES, family)) throw unsupported(r, v, `the ${family} family`);
      if (field(v, "flags") !== undefined) throw unsupported(r, v, "table flags");
      const name = str(r, field(v, "name"), v, "table name");
      const comment = optStr(r, field(v, "comment"), "comment");
      const key = tableKey(family, name);
      if (tables.has(key)) return;
      tables.set(key, {
        family,
        name,
        origin: origin(r, v),
        ...(comment === undefined ? {} : { comment }),
        chains: [],
        sets: [],
        maps: [],
        ctHelpers: [],
      });
      return;
    }
    case "chain": {
      const t = ownerTable(r, v, tables);
      const chain = readChain(r, v);
      if (t.chains.some((c) => c.chain.name === chain.name))
        throw fail(r, v, "error", "duplicate", `chain ${chain.name} is declared twice`);
      t.chains.push({ chain, rules: [] });
      return;
    }
    case "rule": {
      const t = ownerTable(r, v, tables);
      const name = str(r, field(v, "chain"), v, "chain");
      const c = t.chains.find((x) => x.chain.name === name);
      if (c === undefined) throw fail(r, v, "error", "unknown-chain", `chain ${name} is not declared before its rules`);
      c.rules.push(readRule(r, v));
      return;
    }
    case "set":
      ownerTable(r, v, tables).sets.push(readSet(r, v));
      return;
    case "map":
      ownerTable(r, v, tables).maps.push(readMap(r, v));
      return;
    case "ct helper":
      ownerTable(r, v, tables).ctHelpers.push(readCtHelper(r, v));
      return;
    default:
      if (WRAPPERS.has(e.key)) {
        readObject(r, v, tables);
        return;
      }
      throw unsupported(r, n, `the object "${e.key}"`);
  }
}

/** Reads `nft -j list ruleset` output (or `nft -j -f` input made of add commands) into the ruleset IR. */
export function readNftJson(
  text: string,
  opts: { readonly source: string },
): { ruleset: Ruleset | null; diagnostics: NftDiagnostic[] } {
  const r: Reader = { source: opts.source, diagnostics: [] };
  const doc = parseJsonWithPositions(text);
  if ("message" in doc) {
    r.diagnostics.push({
      severity: "error",
      code: "json-syntax",
      message: doc.message,
      source: r.source,
      line: doc.line,
      column: doc.column,
    });
    return { ruleset: null, diagnostics: r.diagnostics };
  }
  const list = field(doc, "nftables");
  if (list?.k !== "array") {
    r.diagnostics.push({
      severity: "error",
      code: "json-shape",
      message: 'expected an object {"nftables": [...]} as `nft -j list ruleset` prints',
      source: r.source,
      line: doc.line,
      column: doc.column,
    });
    return { ruleset: null, diagnostics: r.diagnostics };
  }
  const tables = new Map<string, TableBuilder>();
  for (const item of list.items) {
    try {
      readObject(r, item, tables);
    } catch (e) {
      if (!(e instanceof Reject)) throw e;
      r.diagnostics.push(e.diagnostic);
    }
  }
  const ruleset: Ruleset = {
    tables: [...tables.values()].map((t): Table => ({
      family: t.family,
      name: t.name,
      origin: t.origin,
      chains: t.chains.map((c) => ({ ...c.chain, rules: c.rules })),
      ...(t.sets.length === 0 ? {} : { sets: t.sets }),
      ...(t.maps.length === 0 ? {} : { maps: t.maps }),
      ...(t.ctHelpers.length === 0 ? {} : { ctHelpers: t.ctHelpers }),
      ...(t.comment === undefined ? {} : { comment: t.comment }),
    })),
  };
  return { ruleset: hasNftErrors(r.diagnostics) ? null : ruleset, diagnostics: r.diagnostics };
}
