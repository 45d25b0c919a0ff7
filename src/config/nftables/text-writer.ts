// Writes the ruleset IR as nftables text that `nft -f` (and `nft -c -f`) loads, in the layout `nft list ruleset`
// prints: tables, then their sets and maps, then chains with their rules. Priorities and marks are written as
// plain numbers, which every nft version accepts; operators are written out except nft's implicit bitmask match
// (`ct state established,related`), whose text has no operator.

import type {
  CtHelperObject,
  Chain,
  Expr,
  Match,
  NamedMap,
  NamedSet,
  NatFlag,
  PortRange,
  RejectWith,
  Ruleset,
  Selector,
  Statement,
  Table,
  Value,
  VerdictExpr,
} from "../../engine/filter/ir.js";
import { assertNever } from "../../engine/filter/ir.js";

const INDENT = "\t";

/** An nft string literal; nft strings cannot contain a double quote, so one is dropped rather than break the file. */
export function nftString(s: string): string {
  return `"${s.replaceAll('"', "")}"`;
}

export function selectorText(s: Selector): string {
  switch (s.kind) {
    case "payload":
      return `${s.protocol} ${s.field}`;
    case "meta":
      return `meta ${s.key}`;
    case "ct":
      return `ct ${s.key}`;
    case "fib":
      return `fib ${s.flags.join(" . ")} ${s.result}`;
    case "concat":
      return s.parts.map(selectorText).join(" . ");
    default:
      return assertNever(s);
  }
}

function addressText(addr: string, withPort: boolean): string {
  return withPort && addr.includes(":") ? `[${addr}]` : addr;
}

export function valueText(v: Value): string {
  switch (v.kind) {
    case "int":
      return String(v.value);
    case "symbol":
      return v.name;
    case "string":
      return nftString(v.value);
    case "address":
      return v.addr;
    case "prefix":
      return `${v.addr}/${v.len}`;
    case "range":
      return `${valueText(v.lo)}-${valueText(v.hi)}`;
    case "set":
      return `{ ${v.elements.map(valueText).join(", ")} }`;
    case "setref":
      return `@${v.name}`;
    case "concat":
      return v.parts.map(valueText).join(" . ");
    default:
      return assertNever(v);
  }
}

function maskText(v: Value): string {
  return v.kind === "set" ? `(${v.elements.map(valueText).join(" | ")})` : valueText(v);
}

const isBitmask = (s: Selector): boolean =>
  (s.kind === "ct" && (s.key === "state" || s.key === "status")) ||
  (s.kind === "payload" && s.protocol === "tcp" && s.field === "flags");

function matchText(m: Match): string {
  const left = m.mask === undefined ? selectorText(m.left) : `${selectorText(m.left)} & ${maskText(m.mask)}`;
  if (m.op === "in") {
    // nft's implicit operator on a bitmask type: any of the listed bits (`ct state established,related`).
    const right = m.right.kind === "set" ? m.right.elements.map(valueText).join(",") : valueText(m.right);
    return `${left} ${right}`;
  }
  // `==` is nft's implicit operator except on bitmask types, where the implicit one is the bit test above.
  const op = m.op === "==" && m.mask === undefined && !isBitmask(m.left) ? "" : `${m.op} `;
  return `${left} ${op}${valueText(m.right)}`;
}

function portText(p: PortRange): string {
  return p.lo === p.hi ? String(p.lo) : `${p.lo}-${p.hi}`;
}

function natFlagsText(flags: readonly NatFlag[] | undefined): string {
  return flags === undefined || flags.length === 0 ? "" : ` ${flags.join(",")}`;
}

function natAddrText(v: Value, withPort: boolean): string {
  if (v.kind === "address") return addressText(v.addr, withPort);
  if (v.kind === "range" && v.lo.kind === "address" && v.hi.kind === "address")
    return `${addressText(v.lo.addr, withPort)}-${addressText(v.hi.addr, withPort)}`;
  return valueText(v);
}

function rejectText(w: RejectWith | undefined): string {
  if (w === undefined) return "reject";
  switch (w.type) {
    case "tcp-reset":
      return "reject with tcp reset";
    case "icmp":
    case "icmpv6":
    case "icmpx":
      return `reject with ${w.type} type ${w.code}`;
    default:
      return assertNever(w);
  }
}

export function verdictText(v: VerdictExpr): string {
  switch (v.kind) {
    case "accept":
    case "drop":
    case "return":
    case "continue":
      return v.kind;
    case "jump":
    case "goto":
      return `${v.kind} ${v.target}`;
    case "reject":
      return rejectText(v.with);
    default:
      return assertNever(v);
  }
}

function statementText(s: Statement): string {
  switch (s.kind) {
    case "counter":
      return "counter";
    case "log":
      return [
        "log",
        ...(s.prefix === undefined ? [] : [`prefix ${nftString(s.prefix)}`]),
        ...(s.level === undefined ? [] : [`level ${s.level}`]),
      ].join(" ");
    case "limit": {
      const rate = s.unit === "bytes" ? `${s.rate} bytes/${s.per}` : `${s.rate}/${s.per}`;
      const burst = s.burst === 0 ? "" : ` burst ${s.burst} ${s.unit}`;
      return `limit rate ${s.over ? "over " : ""}${rate}${burst}`;
    }
    case "mark-set":
      return `${s.target} mark set ${s.value}`;
    case "snat":
    case "dnat": {
      const family = s.family === undefined ? "" : ` ${s.family}`;
      const addr = s.addr === undefined ? "" : natAddrText(s.addr, s.port !== undefined);
      const port = s.port === undefined ? "" : `:${portText(s.port)}`;
      return `${s.kind}${family} to ${addr}${port}${natFlagsText(s.flags)}`;
    }
    case "masquerade":
    case "redirect": {
      const port = s.port === undefined ? "" : ` to :${portText(s.port)}`;
      return `${s.kind}${port}${natFlagsText(s.flags)}`;
    }
    case "notrack":
      return "notrack";
    case "ct-helper-set":
      return `ct helper set ${nftString(s.name)}`;
    case "tcp-mss-set":
      return `tcp option maxseg size set ${s.size === "rt-mtu" ? "rt mtu" : String(s.size)}`;
    case "vmap": {
      const map =
        s.map.kind === "named"
          ? `@${s.map.name}`
          : `{ ${s.map.entries.map((e) => `${valueText(e.key)} : ${verdictText(e.verdict)}`).join(", ")} }`;
      return `${selectorText(s.key)} vmap ${map}`;
    }
    default:
      return assertNever(s);
  }
}

export function exprText(e: Expr): string {
  switch (e.kind) {
    case "match":
      return matchText(e);
    case "accept":
    case "drop":
    case "reject":
    case "jump":
    case "goto":
    case "return":
    case "continue":
      return verdictText(e);
    default:
      return statementText(e);
  }
}

function commentLine(comment: string | undefined, depth: number): string[] {
  return comment === undefined ? [] : [`${INDENT.repeat(depth)}comment ${nftString(comment)}`];
}

function setLines(s: NamedSet): string[] {
  const i2 = INDENT.repeat(2);
  return [
    `${INDENT}set ${s.name} {`,
    `${i2}type ${s.keyType.join(" . ")}`,
    ...(s.flags === undefined || s.flags.length === 0 ? [] : [`${i2}flags ${s.flags.join(",")}`]),
    ...(s.elements.length === 0 ? [] : [`${i2}elements = { ${s.elements.map(valueText).join(", ")} }`]),
    ...commentLine(s.comment, 2),
    `${INDENT}}`,
  ];
}

function mapLines(m: NamedMap): string[] {
  const i2 = INDENT.repeat(2);
  const elements = m.elements.map(
    (e) => `${valueText(e.key)} : ${e.data.kind === "verdict" ? verdictText(e.data.verdict) : valueText(e.data.value)}`,
  );
  return [
    `${INDENT}map ${m.name} {`,
    `${i2}type ${m.keyType.join(" . ")} : ${m.dataType}`,
    ...(m.flags === undefined || m.flags.length === 0 ? [] : [`${i2}flags ${m.flags.join(",")}`]),
    ...(elements.length === 0 ? [] : [`${i2}elements = { ${elements.join(", ")} }`]),
    ...commentLine(m.comment, 2),
    `${INDENT}}`,
  ];
}

export function ruleText(r: { readonly exprs: readonly Expr[]; readonly comment?: string }): string {
  const body = r.exprs.map(exprText).join(" ");
  return r.comment === undefined ? body : `${body} comment ${nftString(r.comment)}`;
}

function chainLines(c: Chain): string[] {
  const i2 = INDENT.repeat(2);
  const b = c.base;
  return [
    `${INDENT}chain ${c.name} {`,
    ...(b === undefined ? [] : [`${i2}type ${b.type} hook ${b.hook} priority ${b.priority}; policy ${b.policy};`]),
    ...commentLine(c.comment, 2),
    ...c.rules.map((r) => `${i2}${ruleText(r)}`),
    `${INDENT}}`,
  ];
}

/** `ct helper NAME { … }`, as `nft list ruleset` prints it (l3proto always: the kernel fills in the table's). */
function ctHelperLines(h: CtHelperObject, family: Table["family"]): string[] {
  const i2 = INDENT.repeat(2);
  return [
    `${INDENT}ct helper ${h.name} {`,
    `${i2}type ${nftString(h.type)} protocol ${h.protocol}`,
    `${i2}l3proto ${h.l3proto ?? family}`,
    ...commentLine(h.comment, 2),
    `${INDENT}}`,
  ];
}

function tableLines(t: Table): string[] {
  const blocks = [
    ...(t.ctHelpers ?? []).map((h) => ctHelperLines(h, t.family)),
    ...(t.sets ?? []).map(setLines),
    ...(t.maps ?? []).map(mapLines),
    ...t.chains.map(chainLines),
  ];
  return [
    `table ${t.family} ${t.name} {`,
    ...commentLine(t.comment, 1),
    ...blocks.flatMap((b, i) => (i === 0 ? b : ["", ...b])),
    "}",
  ];
}

/** The ruleset as `nft -f` input; `flush: true` starts with `flush ruleset` so loading replaces what was there. */
export function writeNftText(r: Ruleset, opts: { readonly flush?: boolean } = {}): string {
  const lines = [...(opts.flush === true ? ["flush ruleset", ""] : []), ...r.tables.flatMap(tableLines)];
  return `${lines.join("\n")}\n`;
}
