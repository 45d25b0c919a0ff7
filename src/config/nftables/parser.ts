// Recursive-descent parser for the nftables text language (as `nft list ruleset` prints it and as people write
// /etc/nftables.conf) into the engine's ruleset IR. The grammar follows nft's parser_bison.y closely enough for
// real rulesets; what the IR cannot express is reported as a positioned "unsupported" diagnostic naming the
// construct, never skipped. A broken statement is reported and skipped up to the next separator at its brace
// depth, so one pass reports several errors. Pure over strings: includes are read through a callback.

import type {
  CtHelperObject,
  BaseChainSpec,
  ChainPolicy,
  ChainType,
  Expr,
  FibFlag,
  Hook,
  KeyType,
  LogLevel,
  MapDataType,
  MapElement,
  MatchOp,
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
  TableFamily,
  Value,
  VerdictExpr,
  VerdictMapEntry,
} from "../../engine/filter/ir.js";
import { CT_STATE_SYMBOLS, CT_STATUS_SYMBOLS, TCP_FLAG_SYMBOLS } from "../../engine/filter/symbols.js";
import type { SymbolTable } from "../../engine/filter/symbols.js";
import type { NftDiagnostic } from "./diagnostics.js";
import { hasNftErrors } from "./diagnostics.js";
import type { Token } from "./lexer.js";
import { describeToken, lexNft } from "./lexer.js";

export interface ParseNftOptions {
  /** Name of the text in origins and diagnostics (a file path). */
  readonly source: string;
  /** Returns the text of an included file, or null when it cannot be read. `path` is already resolved against
   *  the directory of `from` (the including source) unless it was absolute. Without it, `include` is an error. */
  readonly readInclude?: (path: string, from: string) => string | null;
}

export interface ParseNftResult {
  /** null iff some diagnostic is an error or an unsupported construct. */
  readonly ruleset: Ruleset | null;
  readonly diagnostics: NftDiagnostic[];
}

/** nft's standard priority names for the ip, ip6 and inet families (nft(8), CHAINS: "Standard priority names"). */
export const PRIORITY_NAMES: Readonly<Record<string, number>> = {
  raw: -300,
  mangle: -150,
  dstnat: -100,
  filter: 0,
  security: 50,
  srcnat: 100,
};

/** Service names nft resolves for inet_service (from /etc/services); the kernel stores and lists numbers. */
const SERVICES: Readonly<Record<string, number>> = {
  ftp: 21,
  ssh: 22,
  telnet: 23,
  smtp: 25,
  domain: 53,
  bootps: 67,
  bootpc: 68,
  tftp: 69,
  http: 80,
  pop3: 110,
  ntp: 123,
  "netbios-ns": 137,
  imap: 143,
  snmp: 161,
  https: 443,
  "microsoft-ds": 445,
  isakmp: 500,
  submission: 587,
  imaps: 993,
  pop3s: 995,
  "dhcpv6-client": 546,
  "dhcpv6-server": 547,
  "ipsec-nat-t": 4500,
  mdns: 5353,
  "http-alt": 8080,
};

const FAMILIES: ReadonlySet<string> = new Set(["ip", "ip6", "inet"]);
const OTHER_FAMILIES: ReadonlySet<string> = new Set(["arp", "bridge", "netdev"]);
const HOOKS: ReadonlySet<string> = new Set(["prerouting", "input", "forward", "output", "postrouting"]);
const CHAIN_TYPES: ReadonlySet<string> = new Set(["filter", "nat", "route"]);
const LOG_LEVELS: ReadonlySet<string> = new Set([
  "emerg",
  "alert",
  "crit",
  "err",
  "warn",
  "notice",
  "info",
  "debug",
  "audit",
]);
const RATE_UNITS: ReadonlySet<string> = new Set(["second", "minute", "hour", "day", "week"]);
const BYTE_UNITS: Readonly<Record<string, number>> = { bytes: 1, kbytes: 1024, mbytes: 1024 * 1024 };
const NAT_FLAGS: ReadonlySet<string> = new Set(["random", "fully-random", "persistent"]);
const SET_FLAGS: ReadonlySet<string> = new Set(["interval", "constant", "timeout"]);
const KEY_TYPES: ReadonlySet<string> = new Set([
  "ipv4_addr",
  "ipv6_addr",
  "inet_service",
  "inet_proto",
  "ifname",
  "iface_index",
  "mark",
  "ct_state",
  "integer",
]);
const MAP_DATA_TYPES: ReadonlySet<string> = new Set([
  "verdict",
  "ipv4_addr",
  "ipv6_addr",
  "inet_service",
  "mark",
  "integer",
]);
const ICMP_REJECT: ReadonlySet<string> = new Set([
  "net-unreachable",
  "host-unreachable",
  "prot-unreachable",
  "port-unreachable",
  "net-prohibited",
  "host-prohibited",
  "admin-prohibited",
]);
const ICMPV6_REJECT: ReadonlySet<string> = new Set([
  "no-route",
  "admin-prohibited",
  "addr-unreachable",
  "port-unreachable",
  "policy-fail",
  "reject-route",
]);
const ICMPX_REJECT: ReadonlySet<string> = new Set([
  "port-unreachable",
  "admin-prohibited",
  "no-route",
  "host-unreachable",
]);
const META_KEYS: ReadonlySet<string> = new Set(["iif", "oif", "iifname", "oifname", "l4proto", "nfproto", "mark"]);
/** Meta keys nft accepts without the `meta` prefix (parser_bison.y meta_key_unqualified) that the IR models. */
const BARE_META: ReadonlySet<string> = new Set(["iif", "oif", "iifname", "oifname", "mark"]);
const CT_KEYS: ReadonlySet<string> = new Set(["state", "status", "direction", "mark", "helper"]);
const FIB_FLAGS: ReadonlySet<string> = new Set(["saddr", "daddr", "mark", "iif", "oif"]);
const MAX_INCLUDE_DEPTH = 16;

/** nft keywords that start expressions or statements the IR does not model: named in "unsupported" errors. */
const UNSUPPORTED_WORDS: ReadonlySet<string> = new Set([
  "ether",
  "arp",
  "vlan",
  "sctp",
  "dccp",
  "ah",
  "esp",
  "comp",
  "udplite",
  "igmp",
  "gre",
  "rt",
  "exthdr",
  "frag",
  "hbh",
  "mh",
  "srh",
  "dst",
  "socket",
  "osf",
  "numgen",
  "jhash",
  "symhash",
  "quota",
  "queue",
  "meter",
  "dup",
  "fwd",
  "synproxy",
  "flow",
  "add",
  "update",
  "delete",
  "tproxy",
  "xt",
  "last",
  "ipsec",
  "vxlan",
  "geneve",
  "pkttype",
  "skuid",
  "skgid",
  "cgroup",
  "iiftype",
  "oiftype",
  "iifgroup",
  "oifgroup",
  "nftrace",
  "rtclassid",
  "ibriport",
  "obriport",
  "ibrname",
  "obrname",
  "cpu",
  "length",
  "priority",
  "secmark",
  "time",
  "day",
  "hour",
  "hash",
  "inner",
  "tunnel",
]);

/** How a bare word or number on the right of a selector reads. */
type Hint =
  | "addr"
  | "port"
  | "int"
  | "sym"
  /** an interface name (or helper name): bare words become strings */
  | "name"
  /** a bitmask type: comma lists and `|` combine bits */
  | "flags";

interface SelectorInfo {
  readonly sel: Selector;
  readonly hints: readonly Hint[];
  /** Symbols of a flag type, to fold `syn|ack` into a number. */
  readonly flagSymbols: SymbolTable | null;
  /** `tcp option maxseg size`: only valid before `set` (the MSS clamp statement). */
  readonly mss?: true;
}

interface Frame {
  readonly tokens: readonly Token[];
  i: number;
  /** Sources of the include chain that produced this frame (for loop detection). */
  readonly chain: readonly string[];
}

interface ChainDraft {
  name: string;
  origin: Origin;
  base?: BaseChainSpec;
  rules: Rule[];
  comment?: string;
}

interface SetDraft {
  name: string;
  origin: Origin;
  isMap: boolean;
  keyType: KeyType[];
  dataType?: MapDataType;
  flags: SetFlag[];
  elements: Value[];
  mapElements: MapElement[];
  comment?: string;
}

interface TableDraft {
  family: TableFamily;
  name: string;
  origin: Origin;
  chains: ChainDraft[];
  sets: SetDraft[];
  ctHelpers: CtHelperObject[];
  comment?: string;
}

const originOf = (t: Token): Origin => ({ source: t.source, line: t.line, column: t.column });

/** Joins a relative include path to the directory of the including source (POSIX paths, no fs access). */
export function resolveIncludePath(path: string, from: string): string {
  if (path.startsWith("/")) return path;
  const slash = from.lastIndexOf("/");
  return slash < 0 ? path : `${from.slice(0, slash + 1)}${path}`;
}

export function parseNftText(text: string, opts: ParseNftOptions): ParseNftResult {
  const p = new NftParser(text, opts);
  const ruleset = p.parseRuleset();
  const diagnostics = p.diagnostics;
  return { ruleset: hasNftErrors(diagnostics) ? null : ruleset, diagnostics };
}

const EOF_TOKEN: Token = { kind: "eof", text: "", source: "", line: 0, column: 0 };

class NftParser {
  readonly diagnostics: NftDiagnostic[] = [];
  private readonly frames: Frame[];
  private readonly defines = new Map<string, readonly Token[]>();
  /** Set after an undefined `$var`: the rest of that statement would only report the hole it left. */
  private quiet = false;
  private tables: TableDraft[] = [];

  constructor(
    text: string,
    private readonly opts: ParseNftOptions,
  ) {
    const lexed = lexNft(text, opts.source);
    this.diagnostics.push(...lexed.diagnostics);
    this.frames = [{ tokens: lexed.tokens, i: 0, chain: [opts.source] }];
  }

  // -------------------------------------------------------------------------------------------------------------
  // Token stream: a stack of frames (the file, included files, expanded variables).

  private settle(): void {
    for (;;) {
      let top = this.frames[this.frames.length - 1];
      while (this.frames.length > 1 && top.i >= top.tokens.length) {
        this.frames.pop();
        top = this.frames[this.frames.length - 1];
      }
      const t = top.tokens[top.i] ?? EOF_TOKEN;
      if (t.kind !== "var") return;
      top.i++;
      const value = this.defines.get(t.text);
      if (value === undefined) {
        this.error(t, `undefined variable '$${t.text}'`, "unknown-variable", "declare it with `define NAME = value`");
        this.quiet = true;
        continue;
      }
      // Expanded tokens take the position of the `$name` use, so errors point where the user wrote it.
      const tokens = value.map((v) => ({ ...v, source: t.source, line: t.line, column: t.column }));
      this.frames.push({ tokens, i: 0, chain: top.chain });
    }
  }

  private peek(): Token {
    this.settle();
    const top = this.frames[this.frames.length - 1];
    return top.tokens[top.i] ?? EOF_TOKEN;
  }

  /** The token k places ahead (k ≥ 1 may be an unexpanded `$var`). */
  private peekAt(k: number): Token {
    this.settle();
    let left = k;
    for (let f = this.frames.length - 1; f >= 0; f--) {
      const fr = this.frames[f];
      const avail = fr.tokens.length - fr.i;
      if (left < avail) return fr.tokens[fr.i + left];
      left -= avail;
    }
    return EOF_TOKEN;
  }

  private next(): Token {
    const t = this.peek();
    const top = this.frames[this.frames.length - 1];
    if (t.kind !== "eof") top.i++;
    return t;
  }

  private isWord(t: Token, w?: string): boolean {
    return t.kind === "word" && (w === undefined || t.text === w);
  }

  private isPunct(t: Token, p: string): boolean {
    return t.kind === "punct" && t.text === p;
  }

  private atWord(w: string): boolean {
    return this.isWord(this.peek(), w);
  }

  private atPunct(p: string): boolean {
    return this.isPunct(this.peek(), p);
  }

  private eatWord(w: string): boolean {
    if (!this.atWord(w)) return false;
    this.next();
    return true;
  }

  private eatPunct(p: string): boolean {
    if (!this.atPunct(p)) return false;
    this.next();
    return true;
  }

  private isSeparator(t: Token): boolean {
    return t.kind === "nl" || t.kind === "eof" || this.isPunct(t, ";") || this.isPunct(t, "}");
  }

  // -------------------------------------------------------------------------------------------------------------
  // Diagnostics and recovery.

  private report(severity: NftDiagnostic["severity"], t: Token, message: string, code: string, hint?: string): null {
    if (this.quiet && code !== "unknown-variable") return null;
    const d: NftDiagnostic = { severity, code, message, source: t.source, line: t.line, column: t.column };
    this.diagnostics.push(hint === undefined ? d : { ...d, hint });
    return null;
  }

  private error(t: Token, message: string, code = "syntax", hint?: string): null {
    return this.report("error", t, message, code, hint);
  }

  private unsupported(t: Token, construct: string): null {
    return this.report(
      "unsupported",
      t,
      `${construct} is not supported by Mallory's ruleset model`,
      "unsupported",
      "remove it or rewrite the rule with supported matches",
    );
  }

  /** Statement parsers return false after reporting; this reads as what it does. */
  private failed(_reported: null): false {
    return false;
  }

  private warn(t: Token, message: string): void {
    this.report("warning", t, message, "ignored");
  }

  private expected(what: string, after?: string): null {
    const t = this.peek();
    return this.error(t, `expected ${what}${after === undefined ? "" : ` after ${after}`}, got ${describeToken(t)}`);
  }

  /** Skips to the end of the current statement: a newline or `;` at depth 0, or before the `}` closing it. */
  private recover(): void {
    this.quiet = false;
    let depth = 0;
    for (;;) {
      const t = this.peek();
      if (t.kind === "eof") return;
      if (depth === 0 && (t.kind === "nl" || this.isPunct(t, ";"))) {
        this.next();
        return;
      }
      if (this.isPunct(t, "}")) {
        if (depth === 0) return;
        depth--;
      } else if (this.isPunct(t, "{")) depth++;
      this.next();
    }
  }

  /** After a statement: a separator must follow (a `}` is left for the block). */
  /** The rest of a `comment "…"` statement, after the word: its quoted text, given to `assign`, and its end. */
  private commentStatement(assign: (text: string) => void): boolean {
    const c = this.peek();
    if (c.kind !== "string") return this.failed(this.expected("a quoted string", "'comment'"));
    this.next();
    assign(c.text);
    return this.endStatement("comment");
  }

  private endStatement(what: string): boolean {
    const t = this.peek();
    if (t.kind === "nl" || this.isPunct(t, ";")) {
      this.next();
      return true;
    }
    if (t.kind === "eof" || this.isPunct(t, "}")) return true;
    this.error(t, `unexpected ${describeToken(t)} after ${what}`);
    return false;
  }

  private skipSeparators(): void {
    for (;;) {
      const t = this.peek();
      if (t.kind === "nl" || this.isPunct(t, ";")) this.next();
      else return;
    }
  }

  private name(what: string): string | null {
    const t = this.peek();
    if (t.kind === "word" || t.kind === "string" || t.kind === "number") {
      this.next();
      return t.text;
    }
    return this.expected(what);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Top level.

  parseRuleset(): Ruleset {
    for (;;) {
      this.skipSeparators();
      const t = this.peek();
      if (t.kind === "eof") break;
      if (this.isPunct(t, "}")) {
        this.error(t, "unmatched '}'");
        this.next();
        continue;
      }
      const before = this.position();
      this.quiet = false;
      if (!this.topStatement()) this.recover();
      if (this.position() === before) this.next();
    }
    return this.finish();
  }

  private position(): string {
    const top = this.frames[this.frames.length - 1];
    return `${String(this.frames.length)}:${String(top.i)}`;
  }

  private topStatement(): boolean {
    const t = this.peek();
    if (t.kind !== "word") return this.failed(this.expected("'table', 'define', 'include' or 'flush ruleset'"));
    switch (t.text) {
      case "table":
        this.next();
        return this.table(t);
      case "define":
      case "redefine":
        return this.define();
      case "undefine": {
        this.next();
        const n = this.name("a variable name");
        if (n === null) return false;
        this.defines.delete(n);
        return this.endStatement("undefine");
      }
      case "include":
        return this.include();
      case "flush": {
        this.next();
        if (!this.eatWord("ruleset")) {
          const w = this.peek();
          return this.failed(this.unsupported(w, `'flush ${w.text}'`));
        }
        this.parseFamilyOpt();
        this.tables = [];
        return this.endStatement("flush ruleset");
      }
      case "add":
      case "create":
      case "insert":
        return this.command();
      case "delete":
      case "destroy":
      case "replace":
      case "reset":
      case "list":
      case "rename":
        return this.failed(this.unsupported(t, `the '${t.text}' command`));
      default:
        return this.failed(
          this.error(
            t,
            `unexpected ${describeToken(t)} at top level`,
            "syntax",
            "expected 'table', 'define', 'include' or 'flush ruleset'",
          ),
        );
    }
  }

  private parseFamilyOpt(): TableFamily | null {
    const t = this.peek();
    if (t.kind === "word" && FAMILIES.has(t.text)) {
      this.next();
      return t.text as TableFamily;
    }
    return null;
  }

  /** `FAMILY NAME`, family defaulting to ip as in nft. */
  private tableId(): { family: TableFamily; name: string; at: Token } | null {
    const t = this.peek();
    if (t.kind === "word" && OTHER_FAMILIES.has(t.text)) {
      this.unsupported(t, `the ${t.text} family`);
      return null;
    }
    const family = this.parseFamilyOpt() ?? "ip";
    const at = this.peek();
    const name = this.name("a table name");
    return name === null ? null : { family, name, at };
  }

  private getTable(family: TableFamily, name: string, origin: Origin): TableDraft {
    let table = this.tables.find((x) => x.family === family && x.name === name);
    if (table === undefined) {
      table = { family, name, origin, chains: [], sets: [], ctHelpers: [] };
      this.tables.push(table);
    }
    return table;
  }

  private table(kw: Token): boolean {
    const id = this.tableId();
    if (id === null) return false;
    const table = this.getTable(id.family, id.name, originOf(kw));
    if (!this.atPunct("{")) return this.endStatement(`table ${id.name}`);
    return this.block(`table ${id.name}`, () => this.tableStatement(table));
  }

  /** `{ statements }`; the closing brace is required and reported at the end of input when missing. */
  private block(what: string, statement: () => boolean): boolean {
    const open = this.next();
    for (;;) {
      this.skipSeparators();
      const t = this.peek();
      if (t.kind === "eof") {
        this.error(t, `expected '}' to close ${what} opened at ${String(open.line)}:${String(open.column)}`);
        return true;
      }
      if (this.isPunct(t, "}")) {
        this.next();
        return true;
      }
      const before = this.position();
      this.quiet = false;
      if (!statement()) this.recover();
      if (this.position() === before && !this.isPunct(this.peek(), "}")) this.next();
    }
  }

  private tableStatement(table: TableDraft): boolean {
    const t = this.peek();
    if (t.kind !== "word") return this.failed(this.expected("'chain', 'set', 'map' or 'comment' in table"));
    switch (t.text) {
      case "chain": {
        this.next();
        const name = this.name("a chain name");
        if (name === null) return false;
        const chain = this.getChain(table, name, originOf(t));
        if (!this.atPunct("{")) return this.endStatement(`chain ${name}`);
        return this.block(`chain ${name}`, () => this.chainStatement(table, chain));
      }
      case "set":
      case "map": {
        this.next();
        const name = this.name(`a ${t.text} name`);
        if (name === null) return false;
        return this.setBlock(table, name, t, t.text === "map");
      }
      case "comment":
        this.next();
        return this.commentStatement((text) => (table.comment = text));
      case "define":
      case "redefine":
        return this.define();
      case "include":
        return this.include();
      case "flags":
        return this.failed(this.unsupported(t, "table flags"));
      case "ct": {
        this.next();
        const kind = this.peek();
        if (!this.isWord(kind, "helper")) return this.failed(this.unsupported(t, `a named ct ${kind.text} object`));
        this.next();
        return this.ctHelperObject(table, t);
      }
      case "flowtable":
      case "counter":
      case "quota":
      case "limit":
      case "secmark":
      case "synproxy":
        return this.failed(this.unsupported(t, `a named ${t.text} object`));
      default:
        return this.failed(
          this.error(
            t,
            `unexpected ${describeToken(t)} in table ${table.name}`,
            "syntax",
            "expected 'chain', 'set', 'map' or 'comment'",
          ),
        );
    }
  }

  /** `ct helper NAME { type "ftp" protocol tcp; l3proto inet; comment "…" }`, after `ct helper`. */
  private ctHelperObject(table: TableDraft, kw: Token): boolean {
    const name = this.name("a ct helper name");
    if (name === null) return false;
    if (!this.atPunct("{")) return this.failed(this.expected("'{'", `ct helper ${name}`));
    const draft: { type?: string; protocol?: "tcp" | "udp"; l3proto?: "ip" | "ip6" | "inet"; comment?: string } = {};
    const reported = this.diagnostics.length;
    const ok = this.block(`ct helper ${name}`, () => {
      const t = this.peek();
      if (this.isWord(t, "type")) {
        this.next();
        const type = this.peek();
        if (type.kind !== "string") return this.failed(this.expected("a quoted helper type", "'type'"));
        this.next();
        if (!this.eatWord("protocol")) return this.failed(this.expected("'protocol'", `type "${type.text}"`));
        const proto = this.peek();
        if (!this.isWord(proto, "tcp") && !this.isWord(proto, "udp"))
          return this.failed(this.expected("'tcp' or 'udp'", "'protocol'"));
        this.next();
        draft.type = type.text;
        draft.protocol = proto.text as "tcp" | "udp";
        return this.endStatement("type");
      }
      if (this.isWord(t, "l3proto")) {
        this.next();
        const l3 = this.peek();
        if (!this.isWord(l3, "ip") && !this.isWord(l3, "ip6") && !this.isWord(l3, "inet"))
          return this.failed(this.expected("'ip', 'ip6' or 'inet'", "'l3proto'"));
        this.next();
        draft.l3proto = l3.text as "ip" | "ip6" | "inet";
        return this.endStatement("l3proto");
      }
      if (this.isWord(t, "comment")) {
        this.next();
        return this.commentStatement((text) => (draft.comment = text));
      }
      return this.failed(this.expected("'type', 'l3proto' or 'comment' in ct helper"));
    });
    if (draft.type === undefined || draft.protocol === undefined) {
      // A statement inside already said what was wrong with it.
      if (this.diagnostics.length === reported)
        this.error(kw, `ct helper ${name} needs 'type "<helper>" protocol tcp|udp'`);
      return ok;
    }
    if (table.ctHelpers.some((h) => h.name === name)) {
      this.error(kw, `ct helper ${name} is declared twice`, "duplicate");
      return ok;
    }
    table.ctHelpers.push({
      name,
      origin: originOf(kw),
      type: draft.type,
      protocol: draft.protocol,
      ...(draft.l3proto === undefined ? {} : { l3proto: draft.l3proto }),
      ...(draft.comment === undefined ? {} : { comment: draft.comment }),
    });
    return ok;
  }

  private getChain(table: TableDraft, name: string, origin: Origin): ChainDraft {
    let chain = table.chains.find((c) => c.name === name);
    if (chain === undefined) {
      chain = { name, origin, rules: [] };
      table.chains.push(chain);
    }
    return chain;
  }

  private chainStatement(table: TableDraft, chain: ChainDraft): boolean {
    const t = this.peek();
    if (this.isWord(t, "type")) return this.chainType(chain);
    if (this.isWord(t, "policy")) {
      this.next();
      const pol = this.policy();
      if (pol === null) return false;
      if (chain.base === undefined)
        return this.failed(this.error(t, `'policy' needs a base chain ('type … hook …') in chain ${chain.name}`));
      chain.base = { ...chain.base, policy: pol };
      return this.endStatement("policy");
    }
    if (this.isWord(t, "comment") && this.peekAt(1).kind === "string" && this.isSeparator(this.peekAt(2))) {
      this.next();
      chain.comment = this.next().text;
      return this.endStatement("comment");
    }
    if (this.isWord(t, "include")) return this.include();
    if (this.isWord(t, "devices") || this.isWord(t, "device")) return this.failed(this.unsupported(t, "chain devices"));
    const rule = this.rule(table);
    if (rule === null) return false;
    chain.rules.push(rule);
    return true;
  }

  private policy(): ChainPolicy | null {
    const p = this.peek();
    if (this.isWord(p, "accept") || this.isWord(p, "drop")) {
      this.next();
      return p.text as ChainPolicy;
    }
    return this.expected("'accept' or 'drop'", "'policy'");
  }

  /** `type T hook H [device D] priority P [; policy P]`. */
  private chainType(chain: ChainDraft): boolean {
    this.next();
    const ty = this.peek();
    if (ty.kind !== "word" || !CHAIN_TYPES.has(ty.text))
      return this.failed(this.expected("'filter', 'nat' or 'route'", "'type'"));
    this.next();
    if (!this.eatWord("hook")) return this.failed(this.expected("'hook'", `'type ${ty.text}'`));
    const h = this.peek();
    if (h.kind !== "word") return this.failed(this.expected("a hook name", "'hook'"));
    if (h.text === "ingress" || h.text === "egress") return this.failed(this.unsupported(h, `the ${h.text} hook`));
    if (!HOOKS.has(h.text))
      return this.failed(this.expected("'prerouting', 'input', 'forward', 'output' or 'postrouting'", "'hook'"));
    this.next();
    if (this.atWord("device")) return this.failed(this.unsupported(this.peek(), "a chain device"));
    if (!this.eatWord("priority")) return this.failed(this.expected("'priority'", `'hook ${h.text}'`));
    const prio = this.priority();
    if (prio === null) return false;
    let policy: ChainPolicy = chain.base?.policy ?? "accept";
    // `policy` may follow on the same line after `;`, or come as its own statement later.
    if (this.atPunct(";") && this.isWord(this.peekAt(1), "policy")) {
      this.next();
      this.next();
      const pol = this.policy();
      if (pol === null) return false;
      policy = pol;
    }
    chain.base = { type: ty.text as ChainType, hook: h.text as Hook, priority: prio, policy };
    return this.endStatement("the chain type");
  }

  /** A number, or a standard name optionally `+ N` / `- N` (nft(8) CHAINS). */
  private priority(): number | null {
    const t = this.peek();
    let sign = 1;
    if (this.isPunct(t, "-")) {
      this.next();
      sign = -1;
    }
    const v = this.peek();
    if (v.kind === "number") {
      this.next();
      return sign * Number(v.text);
    }
    if (sign === 1 && v.kind === "word") {
      // `filter-10` lexes as one word because `-` is a name character.
      const m = /^([a-z]+)(?:-(\d+))?$/.exec(v.text);
      const base = m === null ? undefined : PRIORITY_NAMES[m[1]];
      if (m !== null && base !== undefined) {
        this.next();
        const glued = m[2] as string | undefined;
        if (glued !== undefined) return base - Number(glued);
        const op = this.peek();
        if (this.isPunct(op, "+") || this.isPunct(op, "-")) {
          this.next();
          const n = this.peek();
          if (n.kind !== "number") return this.expected("a number", `'${v.text} ${op.text}'`);
          this.next();
          return op.text === "+" ? base + Number(n.text) : base - Number(n.text);
        }
        return base;
      }
    }
    return this.expected("a priority (a number or raw, mangle, dstnat, filter, security, srcnat)", "'priority'");
  }

  // -------------------------------------------------------------------------------------------------------------
  // define / include / commands.

  private define(): boolean {
    this.next();
    const nameTok = this.peek();
    if (nameTok.kind !== "word") return this.failed(this.expected("a variable name", "'define'"));
    this.next();
    if (!this.eatPunct("=")) return this.failed(this.expected("'='", `'define ${nameTok.text}'`));
    const value: Token[] = [];
    let depth = 0;
    for (;;) {
      const t = this.peek();
      if (t.kind === "eof") break;
      if (depth === 0 && (t.kind === "nl" || this.isPunct(t, ";"))) break;
      if (this.isPunct(t, "{")) depth++;
      if (this.isPunct(t, "}")) {
        if (depth === 0) break;
        depth--;
      }
      // Newlines inside `{ }` are insignificant; keep them out so the value reads as one expression.
      if (t.kind !== "nl") value.push(t);
      this.next();
    }
    if (value.length === 0) return this.failed(this.error(nameTok, `define ${nameTok.text} has no value`));
    this.defines.set(nameTok.text, value);
    return this.endStatement(`define ${nameTok.text}`);
  }

  private include(): boolean {
    const kw = this.next();
    const p = this.peek();
    if (p.kind !== "string") return this.failed(this.expected("a quoted file name", "'include'"));
    this.next();
    if (!this.endStatement("include")) return false;
    if (/[*?[]/.test(p.text)) return this.failed(this.unsupported(p, "an include glob pattern"));
    const top = this.frames[this.frames.length - 1];
    const path = resolveIncludePath(p.text, kw.source);
    if (top.chain.includes(path))
      return this.failed(this.error(p, `include loop: ${path} includes itself`, "include-loop"));
    if (top.chain.length > MAX_INCLUDE_DEPTH)
      return this.failed(this.error(p, "includes nest too deeply", "include-loop"));
    if (this.opts.readInclude === undefined)
      return this.failed(
        this.error(p, `cannot include "${p.text}": no file access in this context`, "include-not-found"),
      );
    const text = this.opts.readInclude(path, kw.source);
    if (text === null) return this.failed(this.error(p, `cannot read included file ${path}`, "include-not-found"));
    const lexed = lexNft(text, path);
    this.diagnostics.push(...lexed.diagnostics);
    const tokens = lexed.tokens.slice(0, -1);
    const eof = lexed.tokens[lexed.tokens.length - 1];
    tokens.push({ ...eof, kind: "nl", text: "\n" });
    this.frames.push({ tokens, i: 0, chain: [...top.chain, path] });
    return true;
  }

  /** `add|create|insert table|chain|rule|set|map|element …` (nft(8) commands as written in scripts). */
  private command(): boolean {
    const verb = this.next();
    const what = this.peek();
    if (what.kind !== "word")
      return this.failed(this.expected("'table', 'chain', 'rule', 'set', 'map' or 'element'", `'${verb.text}'`));
    this.next();
    if (verb.text === "insert" && what.text !== "rule")
      return this.failed(this.error(what, "'insert' only applies to rules"));
    if (what.text === "table") return this.table(verb);
    const id = this.tableId();
    if (id === null) return false;
    const table = this.tables.find((x) => x.family === id.family && x.name === id.name);
    if (table === undefined)
      return this.failed(
        this.error(id.at, `table ${id.family} ${id.name} does not exist`, "syntax", "add the table first"),
      );
    switch (what.text) {
      case "chain": {
        const name = this.name("a chain name");
        if (name === null) return false;
        const chain = this.getChain(table, name, originOf(verb));
        if (!this.atPunct("{")) return this.endStatement(`chain ${name}`);
        return this.block(`chain ${name}`, () => this.chainStatement(table, chain));
      }
      case "rule": {
        const name = this.name("a chain name");
        if (name === null) return false;
        const chain = table.chains.find((c) => c.name === name);
        if (chain === undefined)
          return this.failed(this.error(what, `chain ${name} does not exist in table ${table.name}`));
        if (this.atWord("position") || this.atWord("handle") || this.atWord("index"))
          return this.failed(this.unsupported(this.peek(), "rule placement by handle or index"));
        const first = this.peek();
        const rule = this.rule(table, originOf(verb));
        if (rule === null) return false;
        if (verb.text === "insert") chain.rules.unshift(rule);
        else chain.rules.push(rule);
        return first.kind !== "eof";
      }
      case "set":
      case "map": {
        const name = this.name(`a ${what.text} name`);
        if (name === null) return false;
        return this.setBlock(table, name, verb, what.text === "map");
      }
      case "element": {
        const name = this.name("a set name");
        if (name === null) return false;
        const set = table.sets.find((s) => s.name === name);
        if (set === undefined)
          return this.failed(this.error(what, `set ${name} does not exist in table ${table.name}`));
        if (!this.atPunct("{")) return this.failed(this.expected("'{'", `'element … ${name}'`));
        if (!this.setElements(set)) return false;
        return this.endStatement("element");
      }
      default:
        return this.failed(this.unsupported(what, `'${verb.text} ${what.text}'`));
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Named sets and maps.

  private setBlock(table: TableDraft, name: string, kw: Token, isMap: boolean): boolean {
    let set = table.sets.find((s) => s.name === name);
    if (set === undefined) {
      set = { name, origin: originOf(kw), isMap, keyType: [], flags: [], elements: [], mapElements: [] };
      table.sets.push(set);
    } else if (set.isMap !== isMap)
      return this.failed(this.error(kw, `${name} is already declared as a ${set.isMap ? "map" : "set"}`));
    if (!this.atPunct("{")) return this.failed(this.expected("'{'", `${isMap ? "map" : "set"} ${name}`));
    const draft = set;
    const ok = this.block(`${isMap ? "map" : "set"} ${name}`, () => this.setStatement(draft));
    if (ok && draft.keyType.length === 0) this.error(kw, `${isMap ? "map" : "set"} ${name} needs a 'type' or 'typeof'`);
    return ok;
  }

  private setStatement(set: SetDraft): boolean {
    const t = this.peek();
    if (t.kind !== "word") return this.failed(this.expected("a set property ('type', 'flags', 'elements', …)"));
    this.next();
    switch (t.text) {
      case "type": {
        const key = this.keyTypes();
        if (key === null) return false;
        set.keyType = key;
        if (set.isMap) {
          if (!this.eatPunct(":")) return this.failed(this.expected("':' and a data type", "the map key type"));
          const d = this.peek();
          if (d.kind !== "word" || !MAP_DATA_TYPES.has(d.text)) {
            if (d.kind === "word") return this.failed(this.unsupported(d, `map data type ${d.text}`));
            return this.failed(this.expected("a map data type"));
          }
          this.next();
          set.dataType = d.text as MapDataType;
        }
        return this.endStatement("type");
      }
      case "typeof": {
        const key = this.typeofKeys();
        if (key === null) return false;
        set.keyType = key;
        if (set.isMap) {
          if (!this.eatPunct(":")) return this.failed(this.expected("':' and a data expression", "the map key"));
          if (this.atWord("verdict")) {
            this.next();
            set.dataType = "verdict";
          } else {
            const data = this.typeofKeys();
            if (data === null) return false;
            if (data.length !== 1 || !MAP_DATA_TYPES.has(data[0]))
              return this.failed(this.unsupported(t, "this typeof map data"));
            set.dataType = data[0] as MapDataType;
          }
        }
        return this.endStatement("typeof");
      }
      case "flags": {
        for (;;) {
          const f = this.peek();
          if (f.kind !== "word") return this.failed(this.expected("a set flag", "'flags'"));
          if (!SET_FLAGS.has(f.text)) return this.failed(this.unsupported(f, `set flag ${f.text}`));
          this.next();
          if (!set.flags.includes(f.text as SetFlag)) set.flags.push(f.text as SetFlag);
          if (!this.eatPunct(",")) break;
        }
        return this.endStatement("flags");
      }
      case "elements": {
        if (!this.eatPunct("=")) return this.failed(this.expected("'='", "'elements'"));
        if (!this.atPunct("{")) return this.failed(this.expected("'{'", "'elements ='"));
        if (set.keyType.length === 0) return this.failed(this.error(t, "'elements' before the set's 'type'"));
        if (!this.setElements(set)) return false;
        return this.endStatement("elements");
      }
      case "comment":
        return this.commentStatement((text) => (set.comment = text));
      case "size":
      case "gc-interval": {
        const n = this.peek();
        if (n.kind !== "number" && n.kind !== "word") return this.failed(this.expected("a value", `'${t.text}'`));
        this.next();
        return this.endStatement(t.text);
      }
      case "policy": {
        if (!this.eatWord("performance") && !this.eatWord("memory"))
          return this.failed(this.expected("'performance' or 'memory'", "'policy'"));
        return this.endStatement("policy");
      }
      case "auto-merge":
        return this.endStatement("auto-merge");
      case "counter":
        this.warn(t, "per-element counters are not modelled");
        return this.endStatement("counter");
      case "timeout":
        return this.failed(this.unsupported(t, "a set timeout (elements that expire)"));
      default:
        return this.failed(
          this.error(
            t,
            `unexpected '${t.text}' in a set`,
            "syntax",
            "expected 'type', 'typeof', 'flags', 'elements' or 'comment'",
          ),
        );
    }
  }

  private keyTypes(): KeyType[] | null {
    const out: KeyType[] = [];
    for (;;) {
      const k = this.peek();
      if (k.kind !== "word") return this.expected("a data type (ipv4_addr, ipv6_addr, inet_service, …)", "'type'");
      if (!KEY_TYPES.has(k.text)) return this.unsupported(k, `set key type ${k.text}`);
      this.next();
      out.push(k.text as KeyType);
      if (!this.eatPunct(".")) return out;
    }
  }

  /** `typeof EXPR [. EXPR]`: the key types of the selectors. */
  private typeofKeys(): KeyType[] | null {
    const out: KeyType[] = [];
    for (;;) {
      const at = this.peek();
      const info = this.selector();
      if (info === null) return null;
      const kt = keyTypeOf(info.sel);
      if (kt === null) return this.unsupported(at, "a typeof key of this selector");
      out.push(kt);
      if (!this.eatPunct(".")) return out;
    }
  }

  private setElements(set: SetDraft): boolean {
    const hints = set.keyType.map(hintOfKeyType);
    const open = this.next();
    for (;;) {
      this.skipNewlines();
      if (this.eatPunct("}")) return true;
      if (this.peek().kind === "eof") {
        this.error(
          this.peek(),
          `expected '}' to close the elements opened at ${String(open.line)}:${String(open.column)}`,
        );
        return false;
      }
      const key = this.element(hints);
      if (key === null) return false;
      if (set.isMap) {
        if (!this.eatPunct(":")) return this.failed(this.expected("':' and a value", "a map key"));
        if (set.dataType === "verdict") {
          const v = this.verdict();
          if (v === null) return false;
          set.mapElements.push({ key, data: { kind: "verdict", verdict: v } });
        } else {
          const value = this.element([hintOfKeyType(set.dataType ?? "integer")]);
          if (value === null) return false;
          set.mapElements.push({ key, data: { kind: "value", value } });
        }
      } else set.elements.push(key);
      if (!this.elementTail()) return false;
      this.skipNewlines();
      if (this.eatPunct(",")) continue;
      if (this.atPunct("}")) continue;
      return this.failed(this.expected("',' or '}'", "a set element"));
    }
  }

  /** Per-element options: a comment is kept out of the IR with a warning; expiry changes meaning. */
  private elementTail(): boolean {
    for (;;) {
      const t = this.peek();
      if (this.isWord(t, "comment")) {
        this.next();
        if (this.peek().kind !== "string") return this.failed(this.expected("a quoted string", "'comment'"));
        this.next();
        this.warn(t, "set element comments are not kept");
      } else if (this.isWord(t, "timeout") || this.isWord(t, "expires")) {
        return this.failed(this.unsupported(t, `element ${t.text}`));
      } else if (this.isWord(t, "counter")) {
        return this.failed(this.unsupported(t, "element counters"));
      } else return true;
    }
  }

  private skipNewlines(): void {
    while (this.peek().kind === "nl") this.next();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Rules.

  private rule(table: TableDraft, origin?: Origin): Rule | null {
    const first = this.peek();
    const exprs: Expr[] = [];
    let comment: string | undefined;
    for (;;) {
      const t = this.peek();
      if (this.isSeparator(t)) break;
      if (this.isWord(t, "comment")) {
        this.next();
        const c = this.peek();
        if (c.kind !== "string") return this.expected("a quoted string", "'comment'");
        this.next();
        comment = c.text;
        continue;
      }
      const e = this.expr(table);
      if (e === null) return null;
      exprs.push(e);
    }
    if (exprs.length === 0 && comment === undefined) return this.expected("a rule");
    const end = this.peek();
    if (end.kind === "nl" || this.isPunct(end, ";")) this.next();
    const rule: Rule = { origin: origin ?? originOf(first), exprs };
    return comment === undefined ? rule : { ...rule, comment };
  }

  private expr(table: TableDraft): Expr | null {
    const t = this.peek();
    if (t.kind !== "word")
      return this.error(
        t,
        `unexpected ${describeToken(t)} in a rule`,
        "syntax",
        "a rule is a list of matches, statements and a verdict",
      );
    switch (t.text) {
      case "accept":
      case "drop":
      case "return":
      case "continue":
      case "jump":
      case "goto":
      case "reject":
        return this.verdict();
      case "counter":
        return this.counter();
      case "log":
        return this.log();
      case "limit":
        return this.limit();
      case "snat":
      case "dnat":
        return this.nat(t.text);
      case "masquerade":
      case "redirect":
        return this.masqRedirect(t.text);
      case "notrack":
        this.next();
        return { kind: "notrack" };
      default:
        break;
    }
    if (this.isSelectorStart(t)) return this.matchOrSet(table);
    if (UNSUPPORTED_WORDS.has(t.text)) return this.unsupported(t, `'${t.text}'`);
    return this.error(
      t,
      `unknown expression '${t.text}'`,
      "syntax",
      "expected a match (ip, tcp, meta, ct, …), a statement or a verdict",
    );
  }

  private isSelectorStart(t: Token): boolean {
    if (t.kind !== "word") return false;
    switch (t.text) {
      case "ip":
      case "ip6":
      case "tcp":
      case "udp":
      case "th":
      case "icmp":
      case "icmpv6":
      case "meta":
      case "ct":
      case "fib":
        return true;
      default:
        return BARE_META.has(t.text);
    }
  }

  /** One selector (no concatenation). */
  private selector(): SelectorInfo | null {
    const t = this.next();
    const field = (): Token | null => {
      const f = this.peek();
      if (f.kind !== "word") return this.expected("a field name", `'${t.text}'`);
      this.next();
      return f;
    };
    const pay = (sel: Selector, hint: Hint, flagSymbols: SymbolTable | null = null): SelectorInfo => ({
      sel,
      hints: [hint],
      flagSymbols,
    });
    switch (t.text) {
      case "ip": {
        const f = field();
        if (f === null) return null;
        switch (f.text) {
          case "saddr":
          case "daddr":
            return pay({ kind: "payload", protocol: "ip", field: f.text }, "addr");
          case "protocol":
            return pay({ kind: "payload", protocol: "ip", field: "protocol" }, "sym");
          case "length":
          case "ttl":
            return pay({ kind: "payload", protocol: "ip", field: f.text }, "int");
          default:
            return this.unsupported(f, `'ip ${f.text}'`);
        }
      }
      case "ip6": {
        const f = field();
        if (f === null) return null;
        switch (f.text) {
          case "saddr":
          case "daddr":
            return pay({ kind: "payload", protocol: "ip6", field: f.text }, "addr");
          case "nexthdr":
            return pay({ kind: "payload", protocol: "ip6", field: "nexthdr" }, "sym");
          case "length":
          case "hoplimit":
            return pay({ kind: "payload", protocol: "ip6", field: f.text }, "int");
          default:
            return this.unsupported(f, `'ip6 ${f.text}'`);
        }
      }
      case "tcp":
      case "udp":
      case "th": {
        const f = field();
        if (f === null) return null;
        if (f.text === "sport" || f.text === "dport")
          return pay({ kind: "payload", protocol: t.text, field: f.text }, "port");
        if (t.text === "tcp" && f.text === "flags")
          return pay({ kind: "payload", protocol: "tcp", field: "flags" }, "flags", TCP_FLAG_SYMBOLS);
        if (t.text === "tcp" && f.text === "option") return this.tcpOption(f);
        return this.unsupported(f, `'${t.text} ${f.text}'`);
      }
      case "icmp":
      case "icmpv6": {
        const f = field();
        if (f === null) return null;
        if (f.text === "type" || f.text === "code")
          return pay({ kind: "payload", protocol: t.text, field: f.text }, "sym");
        if (f.text === "id") return pay({ kind: "payload", protocol: t.text, field: "id" }, "int");
        return this.unsupported(f, `'${t.text} ${f.text}'`);
      }
      case "meta": {
        const f = field();
        if (f === null) return null;
        if (!META_KEYS.has(f.text)) return this.unsupported(f, `'meta ${f.text}'`);
        return this.metaInfo(f.text as Extract<Selector, { kind: "meta" }>["key"]);
      }
      case "ct": {
        const f = field();
        if (f === null) return null;
        if (!CT_KEYS.has(f.text)) return this.unsupported(f, `'ct ${f.text}'`);
        switch (f.text) {
          case "state":
            return pay({ kind: "ct", key: "state" }, "flags", CT_STATE_SYMBOLS);
          case "status":
            return pay({ kind: "ct", key: "status" }, "flags", CT_STATUS_SYMBOLS);
          case "direction":
            return pay({ kind: "ct", key: "direction" }, "sym");
          case "mark":
            return pay({ kind: "ct", key: "mark" }, "int");
          default:
            return pay({ kind: "ct", key: "helper" }, "name");
        }
      }
      case "fib": {
        const flags: FibFlag[] = [];
        for (;;) {
          const f = this.peek();
          if (f.kind !== "word" || !FIB_FLAGS.has(f.text))
            return this.expected("a fib key (saddr, daddr, mark, iif, oif)", flags.length === 0 ? "'fib'" : "'.'");
          this.next();
          flags.push(f.text as FibFlag);
          if (!this.isPunct(this.peek(), ".") || !this.isWord(this.peekAt(1)) || !FIB_FLAGS.has(this.peekAt(1).text))
            break;
          this.next();
        }
        const r = this.peek();
        if (this.isWord(r, "oif") || this.isWord(r, "type")) {
          this.next();
          return pay({ kind: "fib", flags, result: r.text as "oif" | "type" }, "sym");
        }
        if (this.isWord(r, "oifname")) return this.unsupported(r, "'fib … oifname'");
        return this.expected("'oif' or 'type'", "the fib keys");
      }
      default:
        // Bare meta keys: `iifname`, `oifname`, `iif`, `oif`, `mark`.
        return this.metaInfo(t.text as Extract<Selector, { kind: "meta" }>["key"]);
    }
  }

  private metaInfo(key: Extract<Selector, { kind: "meta" }>["key"]): SelectorInfo {
    const hint: Hint =
      key === "iif" || key === "oif" || key === "iifname" || key === "oifname"
        ? "name"
        : key === "mark"
          ? "int"
          : "sym";
    return { sel: { kind: "meta", key }, hints: [hint], flagSymbols: null };
  }

  /** `tcp option maxseg size` — only the fw4 MSS clamp (`… set rt mtu | N`) is modelled. */
  private tcpOption(f: Token): SelectorInfo | null {
    const o = this.peek();
    if (!this.isWord(o, "maxseg")) return this.unsupported(o.kind === "word" ? o : f, `'tcp option ${o.text}'`);
    this.next();
    if (!this.eatWord("size")) return this.expected("'size'", "'tcp option maxseg'");
    if (!this.atWord("set")) return this.unsupported(o, "a match on 'tcp option maxseg size'");
    return { sel: { kind: "payload", protocol: "tcp", field: "flags" }, hints: ["int"], flagSymbols: null, mss: true };
  }

  private matchOrSet(table: TableDraft): Expr | null {
    const first = this.selector();
    if (first === null) return null;
    if (first.mss === true) return this.mssSet();
    let info = first;
    // Concatenation: `ip saddr . tcp dport`.
    if (this.atPunct(".") && this.isSelectorStart(this.peekAt(1))) {
      const parts: Selector[] = [first.sel];
      const hints: Hint[] = [...first.hints];
      while (this.atPunct(".") && this.isSelectorStart(this.peekAt(1))) {
        this.next();
        const at = this.peek();
        const p = this.selector();
        if (p === null) return null;
        if (p.mss === true) return this.unsupported(at, "tcp option in a concatenation");
        parts.push(p.sel);
        hints.push(...p.hints);
      }
      info = { sel: { kind: "concat", parts }, hints, flagSymbols: null };
    }
    const t = this.peek();
    if (this.isWord(t, "set")) return this.setStatement2(info, t);
    if (this.isWord(t, "vmap")) {
      this.next();
      return this.vmap(info, table);
    }
    if (this.isWord(t, "map")) return this.unsupported(t, "a data map lookup ('map')");
    return this.match(info);
  }

  private mssSet(): Statement | null {
    this.next(); // set
    const v = this.peek();
    if (this.isWord(v, "rt")) {
      this.next();
      if (!this.eatWord("mtu")) return this.expected("'mtu'", "'rt'");
      return { kind: "tcp-mss-set", size: "rt-mtu" };
    }
    if (v.kind === "number") {
      this.next();
      return { kind: "tcp-mss-set", size: Number(v.text) };
    }
    return this.expected("'rt mtu' or a number", "'tcp option maxseg size set'");
  }

  /** `meta mark set N`, `ct mark set N`, `ct helper set "name"`. */
  private setStatement2(info: SelectorInfo, kw: Token): Statement | null {
    this.next();
    const sel = info.sel;
    const v = this.peek();
    if ((sel.kind === "meta" && sel.key === "mark") || (sel.kind === "ct" && sel.key === "mark")) {
      if (v.kind !== "number") {
        if (v.kind === "word") return this.unsupported(v, "setting a mark from an expression");
        return this.expected("a number", "'mark set'");
      }
      this.next();
      if (this.atPunct("|") || this.atPunct("&") || this.atPunct("^") || this.atWord("or") || this.atWord("and"))
        return this.unsupported(this.peek(), "a mark set with bit operations");
      return { kind: "mark-set", target: sel.kind, value: Number(v.text) };
    }
    if (sel.kind === "ct" && sel.key === "helper") {
      if (v.kind !== "string" && v.kind !== "word") return this.expected("a helper name", "'ct helper set'");
      this.next();
      return { kind: "ct-helper-set", name: v.text };
    }
    return this.unsupported(kw, "setting this field");
  }

  private vmap(info: SelectorInfo, table: TableDraft): Statement | null {
    const t = this.peek();
    if (t.kind === "setref") {
      this.next();
      const m = table.sets.find((s) => s.name === t.text);
      if (m !== undefined && (!m.isMap || m.dataType !== "verdict"))
        return this.error(t, `@${t.text} is not a verdict map`);
      return { kind: "vmap", key: info.sel, map: { kind: "named", name: t.text } };
    }
    if (!this.isPunct(t, "{")) return this.expected("'{' or '@map'", "'vmap'");
    const open = this.next();
    const entries: VerdictMapEntry[] = [];
    for (;;) {
      this.skipNewlines();
      if (this.eatPunct("}")) break;
      if (this.peek().kind === "eof")
        return this.error(
          this.peek(),
          `expected '}' to close the vmap opened at ${String(open.line)}:${String(open.column)}`,
        );
      const key = this.element(info.hints);
      if (key === null) return null;
      if (!this.eatPunct(":")) return this.expected("':' and a verdict", "a vmap key");
      const verdict = this.verdict();
      if (verdict === null) return null;
      entries.push({ key, verdict });
      if (!this.elementTail()) return null;
      this.skipNewlines();
      if (this.eatPunct(",")) continue;
      if (this.atPunct("}")) continue;
      return this.expected("',' or '}'", "a vmap entry");
    }
    return { kind: "vmap", key: info.sel, map: { kind: "anonymous", entries } };
  }

  private relOp(): MatchOp | null {
    const t = this.peek();
    const ops: Readonly<Record<string, MatchOp>> = {
      "==": "==",
      "!=": "!=",
      "<": "<",
      ">": ">",
      "<=": "<=",
      ">=": ">=",
      eq: "==",
      ne: "!=",
      lt: "<",
      gt: ">",
      le: "<=",
      ge: ">=",
    };
    if ((t.kind === "punct" || t.kind === "word") && Object.hasOwn(ops, t.text)) {
      this.next();
      return ops[t.text];
    }
    return null;
  }

  /** `SEL [& MASK] [OP] VALUE [/ MASK]`. */
  private match(info: SelectorInfo): Expr | null {
    const flags = info.hints.length === 1 && info.hints[0] === "flags";
    let mask: Value | undefined;
    if (this.atPunct("&") || this.atWord("and")) {
      this.next();
      const m = this.flagExpr(info, true);
      if (m === null) return null;
      mask = m;
    }
    const explicit = this.relOp();
    if (flags && mask === undefined && explicit === null && this.atPunct("!")) {
      // `tcp flags ! fin,syn`: none of these bits set, as nft lists `flags & (fin|syn) == 0`.
      this.next();
      const m = this.flagExpr(info, true);
      if (m === null) return null;
      return { kind: "match", left: info.sel, op: "==", right: { kind: "int", value: 0 }, mask: m };
    }
    const start = this.peek();
    if (this.isSeparator(start)) return this.expected("a value", "the selector");
    if (start.kind === "setref") {
      this.next();
      return {
        kind: "match",
        left: info.sel,
        op: explicit ?? "==",
        right: { kind: "setref", name: start.text },
        ...(mask === undefined ? {} : { mask }),
      };
    }
    if (this.isPunct(start, "{")) {
      const set = this.anonSet(info.hints);
      if (set === null) return null;
      return {
        kind: "match",
        left: info.sel,
        op: explicit ?? "==",
        right: set,
        ...(mask === undefined ? {} : { mask }),
      };
    }
    if (flags) {
      const right = this.flagExpr(info, false);
      if (right === null) return null;
      if (mask === undefined && this.atPunct("/")) {
        // `tcp flags syn / fin,syn,rst,ack`: (flags & mask) == value.
        this.next();
        const m = this.flagExpr(info, true);
        if (m === null) return null;
        return {
          kind: "match",
          left: info.sel,
          op: explicit ?? "==",
          right: this.foldFlags(right, info, start),
          mask: m,
        };
      }
      if (mask !== undefined)
        return { kind: "match", left: info.sel, op: explicit ?? "==", right: this.foldFlags(right, info, start), mask };
      if (explicit === null) return { kind: "match", left: info.sel, op: "in", right };
      return {
        kind: "match",
        left: info.sel,
        op: explicit,
        right: explicit === "==" || explicit === "!=" ? this.foldFlags(right, info, start) : right,
      };
    }
    const right = this.element(info.hints);
    if (right === null) return null;
    if (this.atPunct(",")) {
      // A bare comma list is an anonymous set (nft's list_rhs_expr).
      const elements: Value[] = [right];
      while (this.eatPunct(",")) {
        const e = this.element(info.hints);
        if (e === null) return null;
        elements.push(e);
      }
      return {
        kind: "match",
        left: info.sel,
        op: explicit ?? "==",
        right: { kind: "set", elements },
        ...(mask === undefined ? {} : { mask }),
      };
    }
    return { kind: "match", left: info.sel, op: explicit ?? "==", right, ...(mask === undefined ? {} : { mask }) };
  }

  /** A flag list: `a,b,c`, `a|b|c` or `(a|b|c)`; one flag stays a single value, several become a set. */
  private flagExpr(info: SelectorInfo, isMask: boolean): Value | null {
    const paren = this.eatPunct("(");
    const items: Value[] = [];
    for (;;) {
      const v = this.atom(info.flagSymbols === null ? "int" : "sym");
      if (v === null) return null;
      items.push(v);
      if (this.atPunct("|") || this.atPunct(",") || this.atWord("or")) {
        // A comma after the value of `a / b` ends the match only when followed by a separator; keep reading flags.
        this.next();
        continue;
      }
      break;
    }
    if (paren && !this.eatPunct(")")) return this.expected("')'", isMask ? "the mask" : "the flags");
    return items.length === 1 ? items[0] : { kind: "set", elements: items };
  }

  /** `syn|ack` compared with `==` is one number: the bits ORed (nft evaluates the `|` at parse time). */
  private foldFlags(v: Value, info: SelectorInfo, at: Token): Value {
    if (v.kind !== "set") return v;
    let bits = 0;
    for (const e of v.elements) {
      if (e.kind === "int") bits |= e.value;
      else if (e.kind === "symbol") {
        const b = info.flagSymbols?.get(e.name);
        if (b === undefined) {
          this.error(at, `unknown flag '${e.name}'`);
          return v;
        }
        bits |= b;
      } else {
        this.error(at, "a flag combination takes names or numbers");
        return v;
      }
    }
    return { kind: "int", value: bits >>> 0 };
  }

  private anonSet(hints: readonly Hint[]): Value | null {
    const open = this.next();
    const elements: Value[] = [];
    for (;;) {
      this.skipNewlines();
      if (this.eatPunct("}")) break;
      if (this.peek().kind === "eof")
        return this.error(
          this.peek(),
          `expected '}' to close the set opened at ${String(open.line)}:${String(open.column)}`,
        );
      const e = this.element(hints);
      if (e === null) return null;
      elements.push(e);
      if (!this.elementTail()) return null;
      this.skipNewlines();
      if (this.eatPunct(",")) continue;
      if (this.atPunct("}")) continue;
      return this.expected("',' or '}'", "a set element");
    }
    if (elements.length === 0) return this.error(open, "an anonymous set cannot be empty");
    return { kind: "set", elements };
  }

  /** One element: a value, or a concatenation `a . b` when the key has several parts. */
  private element(hints: readonly Hint[]): Value | null {
    const first = this.atom(hints[0]);
    if (first === null) return null;
    if (hints.length === 1) return first;
    const parts: Value[] = [first];
    for (let i = 1; i < hints.length; i++) {
      if (!this.eatPunct("."))
        return this.expected(`'.' and part ${String(i + 1)} of ${String(hints.length)} of the concatenation`);
      const p = this.atom(hints[i]);
      if (p === null) return null;
      parts.push(p);
    }
    return { kind: "concat", parts };
  }

  /** A single value with its range or prefix: `22`, `80-90`, `10.0.0.0/8`, `10.0.0.1-10.0.0.9`, `ssh`, `"eth0"`. */
  private atom(hint: Hint): Value | null {
    const t = this.peek();
    let v: Value;
    switch (t.kind) {
      case "number": {
        if (hint === "addr") return this.expected("an IPv4 or IPv6 address");
        this.next();
        v = { kind: "int", value: Number(t.text) };
        break;
      }
      case "addr4":
      case "addr6": {
        this.next();
        if (this.atPunct("/")) {
          this.next();
          const n = this.peek();
          if (n.kind !== "number") return this.expected("a prefix length", "'/'");
          this.next();
          const len = Number(n.text);
          if (len > (t.kind === "addr4" ? 32 : 128))
            return this.error(n, `prefix length ${n.text} is too long for ${t.text}`);
          return { kind: "prefix", addr: t.text, len };
        }
        v = { kind: "address", addr: t.text };
        break;
      }
      case "string":
        this.next();
        v = hint === "sym" || hint === "flags" ? { kind: "symbol", name: t.text } : { kind: "string", value: t.text };
        break;
      case "word": {
        if (hint === "addr" && /^[\d.]+$/.test(t.text)) return this.error(t, `'${t.text}' is not an IPv4 address`);
        if (hint === "addr") return this.unsupported(t, `a host name ('${t.text}') where an address is expected`);
        this.next();
        if (hint === "port" && Object.hasOwn(SERVICES, t.text)) v = { kind: "int", value: SERVICES[t.text] };
        else if (hint === "port")
          return this.error(t, `unknown service '${t.text}'`, "syntax", "write the port number");
        else if (hint === "name") v = { kind: "string", value: t.text };
        else if (hint === "int") return this.error(t, `expected a number, got '${t.text}'`);
        else v = { kind: "symbol", name: t.text };
        break;
      }
      default:
        return this.expected("a value");
    }
    if (this.atPunct("-")) {
      this.next();
      const hi = this.atom(hint);
      if (hi === null) return null;
      if (hi.kind === "range" || hi.kind === "prefix") return this.error(t, "a range bound must be a single value");
      return { kind: "range", lo: v, hi };
    }
    return v;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Statements and verdicts.

  private verdict(): VerdictExpr | null {
    const t = this.peek();
    if (t.kind !== "word") return this.expected("a verdict");
    switch (t.text) {
      case "accept":
      case "drop":
      case "return":
      case "continue":
        this.next();
        return { kind: t.text };
      case "jump":
      case "goto": {
        this.next();
        const target = this.name(`a chain name`);
        if (target === null) return null;
        return { kind: t.text, target };
      }
      case "reject":
        this.next();
        return this.reject();
      case "queue":
        return this.unsupported(t, "the queue verdict");
      default:
        return this.expected("a verdict (accept, drop, reject, jump, goto, return, continue)");
    }
  }

  private reject(): VerdictExpr | null {
    if (!this.eatWord("with")) return { kind: "reject" };
    const ty = this.peek();
    if (this.isWord(ty, "tcp")) {
      this.next();
      if (!this.eatWord("reset")) return this.expected("'reset'", "'reject with tcp'");
      return { kind: "reject", with: { type: "tcp-reset" } };
    }
    if (this.isWord(ty, "icmp") || this.isWord(ty, "icmpv6") || this.isWord(ty, "icmpx")) {
      this.next();
      this.eatWord("type");
      const c = this.peek();
      const codes = ty.text === "icmp" ? ICMP_REJECT : ty.text === "icmpv6" ? ICMPV6_REJECT : ICMPX_REJECT;
      if (c.kind !== "word" || !codes.has(c.text))
        return this.expected(`an ${ty.text} reject code (${[...codes].join(", ")})`, `'reject with ${ty.text}'`);
      this.next();
      return { kind: "reject", with: { type: ty.text, code: c.text } as RejectWith };
    }
    return this.expected("'tcp reset', 'icmp', 'icmpv6' or 'icmpx'", "'reject with'");
  }

  private counter(): Statement | null {
    this.next();
    if (this.atWord("name")) return this.unsupported(this.peek(), "a named counter reference");
    if (this.eatWord("packets")) {
      if (this.peek().kind !== "number") return this.expected("a number", "'counter packets'");
      this.next();
      if (!this.eatWord("bytes")) return this.expected("'bytes'", "the packet count");
      if (this.peek().kind !== "number") return this.expected("a number", "'bytes'");
      this.next();
    }
    return { kind: "counter" };
  }

  private log(): Statement | null {
    this.next();
    let prefix: string | undefined;
    let level: LogLevel | undefined;
    for (;;) {
      const t = this.peek();
      if (this.isWord(t, "prefix")) {
        this.next();
        const s = this.peek();
        if (s.kind !== "string") return this.expected("a quoted string", "'log prefix'");
        this.next();
        prefix = s.text;
      } else if (this.isWord(t, "level")) {
        this.next();
        const l = this.peek();
        if (l.kind !== "word" || !LOG_LEVELS.has(l.text))
          return this.expected(`a log level (${[...LOG_LEVELS].join(", ")})`, "'log level'");
        this.next();
        level = l.text as LogLevel;
      } else if (this.isWord(t, "flags")) {
        this.next();
        // `flags tcp sequence,options`, `flags ip options`, `flags skuid`, `flags ether`, `flags all`.
        for (;;) {
          const f = this.peek();
          if (f.kind !== "word") return this.expected("a log flag", "'log flags'");
          this.next();
          if ((f.text === "tcp" || f.text === "ip") && this.peek().kind === "word") this.next();
          if (!this.eatPunct(",")) break;
        }
        this.warn(t, "log flags only change what is logged; they are not modelled");
      } else if (this.isWord(t, "group") || this.isWord(t, "snaplen") || this.isWord(t, "queue-threshold")) {
        this.next();
        if (this.peek().kind !== "number") return this.expected("a number", `'log ${t.text}'`);
        this.next();
        this.warn(t, `log ${t.text} only changes where the log goes; it is not modelled`);
      } else break;
    }
    const s: { kind: "log"; prefix?: string; level?: LogLevel } = { kind: "log" };
    if (prefix !== undefined) s.prefix = prefix;
    if (level !== undefined) s.level = level;
    return s;
  }

  /** `limit rate [over] N[/unit] [burst N packets|bytes]`, byte rates `N kbytes/second`. */
  private limit(): Statement | null {
    this.next();
    if (this.atWord("name")) return this.unsupported(this.peek(), "a named limit reference");
    if (!this.eatWord("rate")) return this.expected("'rate'", "'limit'");
    const over = this.eatWord("over");
    if (this.atWord("until")) this.next();
    const amount = this.byteAmount("the rate");
    if (amount === null) return null;
    if (!this.eatPunct("/")) return this.expected("'/' and a time unit", "the rate");
    const u = this.peek();
    if (u.kind !== "word" || !RATE_UNITS.has(u.text)) return this.expected("second, minute, hour, day or week", "'/'");
    this.next();
    let burst = 0;
    if (this.eatWord("burst")) {
      const b = this.byteAmount("'burst'");
      if (b === null) return null;
      if (b.bytes !== amount.bytes && !(b.explicitPackets && !amount.bytes)) {
        return this.error(u, amount.bytes ? "a byte rate needs a byte burst" : "a packet rate needs a packet burst");
      }
      burst = b.value;
    }
    return {
      kind: "limit",
      rate: amount.value,
      per: u.text as RateUnit,
      burst,
      unit: amount.bytes ? "bytes" : "packets",
      over,
    };
  }

  private byteAmount(what: string): { value: number; bytes: boolean; explicitPackets: boolean } | null {
    const n = this.peek();
    if (n.kind === "word") {
      // `10mbytes` lexes as one word.
      const m = /^(\d+)([a-z]+)$/.exec(n.text);
      if (m !== null && Object.hasOwn(BYTE_UNITS, m[2])) {
        this.next();
        return { value: Number(m[1]) * BYTE_UNITS[m[2]], bytes: true, explicitPackets: false };
      }
    }
    if (n.kind !== "number") return this.expected("a number", what);
    this.next();
    const u = this.peek();
    if (u.kind === "word" && Object.hasOwn(BYTE_UNITS, u.text)) {
      this.next();
      return { value: Number(n.text) * BYTE_UNITS[u.text], bytes: true, explicitPackets: false };
    }
    if (this.isWord(u, "packets")) {
      this.next();
      return { value: Number(n.text), bytes: false, explicitPackets: true };
    }
    return { value: Number(n.text), bytes: false, explicitPackets: false };
  }

  private natFlags(): NatFlag[] | null {
    const flags: NatFlag[] = [];
    for (;;) {
      const f = this.peek();
      if (f.kind !== "word" || !NAT_FLAGS.has(f.text)) return flags;
      this.next();
      flags.push(f.text as NatFlag);
      if (!this.eatPunct(",")) return flags;
      const nf = this.peek();
      if (nf.kind !== "word" || !NAT_FLAGS.has(nf.text))
        return this.expected("random, fully-random or persistent", "','");
    }
  }

  private portRange(what: string): PortRange | null {
    const lo = this.peek();
    if (lo.kind !== "number") return this.expected("a port", what);
    this.next();
    let hi = lo;
    if (this.eatPunct("-")) {
      hi = this.peek();
      if (hi.kind !== "number") return this.expected("a port", "'-'");
      this.next();
    }
    return { lo: Number(lo.text), hi: Number(hi.text) };
  }

  /** `snat|dnat [ip|ip6] [to] ADDR[-ADDR][:PORT[-PORT]] [flags]`, `dnat to :PORT`, `[v6]:port`. */
  private nat(kind: "snat" | "dnat"): Statement | null {
    this.next();
    let family: "ip" | "ip6" | undefined;
    const f = this.peek();
    if (this.isWord(f, "ip") || this.isWord(f, "ip6")) {
      this.next();
      family = f.text as "ip" | "ip6";
      if (this.atWord("addr") || this.atWord("prefix"))
        return this.unsupported(this.peek(), `'${kind} ${f.text} ${this.peek().text}'`);
    }
    this.eatWord("to");
    let addr: Value | undefined;
    let port: PortRange | undefined;
    const a = this.peek();
    if (this.isPunct(a, "[")) {
      this.next();
      const v = this.atom("addr");
      if (v === null) return null;
      if (!this.eatPunct("]")) return this.expected("']'", "the IPv6 address");
      addr = v;
    } else if (a.kind === "addr4" || a.kind === "addr6") {
      const v = this.atom("addr");
      if (v === null) return null;
      addr = v;
    } else if (a.kind === "word" && this.isSelectorStart(a)) {
      return this.unsupported(a, `${kind} to an address taken from a map or expression`);
    } else if (!this.isPunct(a, ":")) return this.expected("an address or ':port'", `'${kind} to'`);
    if (this.eatPunct(":")) {
      const p = this.portRange("':'");
      if (p === null) return null;
      port = p;
    }
    const flags = this.natFlags();
    if (flags === null) return null;
    const s: {
      kind: "snat" | "dnat";
      family?: "ip" | "ip6";
      addr?: Value;
      port?: PortRange;
      flags?: NatFlag[];
    } = { kind };
    if (family !== undefined) s.family = family;
    if (addr !== undefined) s.addr = addr;
    if (port !== undefined) s.port = port;
    if (flags.length > 0) s.flags = flags;
    return s;
  }

  /** `masquerade [to :P[-P]] [flags]`, `redirect [to [:]P[-P]] [flags]`. */
  private masqRedirect(kind: "masquerade" | "redirect"): Statement | null {
    this.next();
    let port: PortRange | undefined;
    if (this.eatWord("to")) {
      const colon = this.eatPunct(":");
      if (!colon && kind === "masquerade") return this.expected("':port'", "'masquerade to'");
      const p = this.portRange(`'${kind} to'`);
      if (p === null) return null;
      port = p;
    }
    const flags = this.natFlags();
    if (flags === null) return null;
    const s: { kind: "masquerade" | "redirect"; port?: PortRange; flags?: NatFlag[] } = { kind };
    if (port !== undefined) s.port = port;
    if (flags.length > 0) s.flags = flags;
    return s;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Assembly.

  private finish(): Ruleset {
    return {
      tables: this.tables.map((t) => {
        const sets = t.sets.filter((s) => !s.isMap);
        const maps = t.sets.filter((s) => s.isMap);
        return {
          family: t.family,
          name: t.name,
          origin: t.origin,
          chains: t.chains.map((c) => ({
            name: c.name,
            origin: c.origin,
            ...(c.base === undefined ? {} : { base: c.base }),
            rules: c.rules,
            ...(c.comment === undefined ? {} : { comment: c.comment }),
          })),
          ...(sets.length === 0
            ? {}
            : {
                sets: sets.map((s) => ({
                  name: s.name,
                  origin: s.origin,
                  keyType: s.keyType,
                  ...(s.flags.length === 0 ? {} : { flags: s.flags }),
                  elements: s.elements,
                  ...(s.comment === undefined ? {} : { comment: s.comment }),
                })),
              }),
          ...(maps.length === 0
            ? {}
            : {
                maps: maps.map((s) => ({
                  name: s.name,
                  origin: s.origin,
                  keyType: s.keyType,
                  dataType: s.dataType ?? "verdict",
                  ...(s.flags.length === 0 ? {} : { flags: s.flags }),
                  elements: s.mapElements,
                  ...(s.comment === undefined ? {} : { comment: s.comment }),
                })),
              }),
          ...(t.ctHelpers.length === 0 ? {} : { ctHelpers: t.ctHelpers }),
          ...(t.comment === undefined ? {} : { comment: t.comment }),
        };
      }),
    };
  }
}

function keyTypeOf(sel: Selector): KeyType | null {
  switch (sel.kind) {
    case "payload":
      if (sel.field === "saddr" || sel.field === "daddr") return sel.protocol === "ip" ? "ipv4_addr" : "ipv6_addr";
      if (sel.field === "sport" || sel.field === "dport") return "inet_service";
      if (sel.field === "protocol" || sel.field === "nexthdr") return "inet_proto";
      return null;
    case "meta":
      switch (sel.key) {
        case "iifname":
        case "oifname":
          return "ifname";
        case "iif":
        case "oif":
          return "iface_index";
        case "l4proto":
          return "inet_proto";
        case "mark":
          return "mark";
        default:
          return null;
      }
    case "ct":
      return sel.key === "state" ? "ct_state" : sel.key === "mark" ? "mark" : null;
    default:
      return null;
  }
}

function hintOfKeyType(k: KeyType | MapDataType): Hint {
  switch (k) {
    case "ipv4_addr":
    case "ipv6_addr":
      return "addr";
    case "inet_service":
      return "port";
    case "inet_proto":
      return "sym";
    case "ifname":
    case "iface_index":
      return "name";
    case "ct_state":
      return "sym";
    case "mark":
    case "integer":
      return "int";
    case "verdict":
      return "sym";
  }
}
