// Writes the ruleset IR as libnftables JSON (libnftables-json(5), schema version 1) in the shape
// `nft -j list ruleset` prints, which `nft -j -f` also loads: objects without a command are added.

import type {
  CtHelperObject,
  Chain,
  Expr,
  NamedMap,
  NamedSet,
  PortRange,
  Rule,
  Ruleset,
  Selector,
  Statement,
  Table,
  Value,
  VerdictExpr,
} from "../../engine/filter/ir.js";
import { assertNever } from "../../engine/filter/ir.js";

type Json = null | boolean | number | string | readonly Json[] | { readonly [k: string]: Json };

export function selectorJson(s: Selector): Json {
  switch (s.kind) {
    case "payload":
      return { payload: { protocol: s.protocol, field: s.field } };
    case "meta":
      return { meta: { key: s.key } };
    case "ct":
      return { ct: { key: s.key } };
    case "fib":
      return { fib: { result: s.result, flags: [...s.flags] } };
    case "concat":
      return { concat: s.parts.map(selectorJson) };
    default:
      return assertNever(s);
  }
}

/** `fib … oif missing` is the boolean false in libnftables JSON. */
const isFibOif = (s: Selector): boolean => s.kind === "fib" && s.result === "oif";

export function valueJson(v: Value, fibOif = false): Json {
  switch (v.kind) {
    case "int":
      return v.value;
    case "symbol":
      return fibOif && v.name === "missing" ? false : v.name;
    case "string":
      return v.value;
    case "address":
      return v.addr;
    case "prefix":
      return { prefix: { addr: v.addr, len: v.len } };
    case "range":
      return { range: [valueJson(v.lo), valueJson(v.hi)] };
    case "set":
      return { set: v.elements.map((e) => valueJson(e)) };
    case "setref":
      return `@${v.name}`;
    case "concat":
      return { concat: v.parts.map((p) => valueJson(p)) };
    default:
      return assertNever(v);
  }
}

function maskJson(v: Value): Json {
  return v.kind === "set" ? v.elements.map((e) => valueJson(e)) : valueJson(v);
}

/** libnftables prints one NAT flag as a string and several as an array. */
function natFlagsJson(flags: readonly string[]): Json {
  return flags.length === 1 ? flags[0] : [...flags];
}

function portJson(p: PortRange): Json {
  return p.lo === p.hi ? p.lo : { range: [p.lo, p.hi] };
}

export function verdictJson(v: VerdictExpr): Json {
  switch (v.kind) {
    case "accept":
    case "drop":
    case "return":
    case "continue":
      return { [v.kind]: null };
    case "jump":
    case "goto":
      return { [v.kind]: { target: v.target } };
    case "reject":
      if (v.with === undefined) return { reject: null };
      if (v.with.type === "tcp-reset") return { reject: { type: "tcp reset" } };
      return { reject: { type: v.with.type, expr: v.with.code } };
    default:
      return assertNever(v);
  }
}

function statementJson(s: Statement): Json {
  switch (s.kind) {
    case "counter":
      return { counter: { packets: 0, bytes: 0 } };
    case "log":
      return {
        log:
          s.prefix === undefined && s.level === undefined
            ? null
            : {
                ...(s.prefix === undefined ? {} : { prefix: s.prefix }),
                ...(s.level === undefined ? {} : { level: s.level }),
              },
      };
    case "limit":
      return {
        limit: {
          rate: s.rate,
          per: s.per,
          ...(s.burst === 0 ? {} : { burst: s.burst }),
          ...(s.unit === "bytes" ? { rate_unit: "bytes", burst_unit: "bytes" } : {}),
          ...(s.over ? { inv: true } : {}),
        },
      };
    case "mark-set":
      return {
        mangle: { key: s.target === "meta" ? { meta: { key: "mark" } } : { ct: { key: "mark" } }, value: s.value },
      };
    case "snat":
    case "dnat":
      return {
        [s.kind]: {
          ...(s.family === undefined ? {} : { family: s.family }),
          ...(s.addr === undefined ? {} : { addr: valueJson(s.addr) }),
          ...(s.port === undefined ? {} : { port: portJson(s.port) }),
          ...(s.flags === undefined || s.flags.length === 0 ? {} : { flags: natFlagsJson(s.flags) }),
        },
      };
    case "masquerade":
    case "redirect":
      return {
        [s.kind]:
          s.port === undefined && (s.flags === undefined || s.flags.length === 0)
            ? null
            : {
                ...(s.port === undefined ? {} : { port: portJson(s.port) }),
                ...(s.flags === undefined || s.flags.length === 0 ? {} : { flags: natFlagsJson(s.flags) }),
              },
      };
    case "notrack":
      return { notrack: null };
    case "ct-helper-set":
      return { "ct helper": s.name };
    case "tcp-mss-set":
      return {
        mangle: {
          key: { "tcp option": { name: "maxseg", field: "size" } },
          value: s.size === "rt-mtu" ? { rt: { key: "mtu" } } : s.size,
        },
      };
    case "vmap":
      return {
        vmap: {
          key: selectorJson(s.key),
          data:
            s.map.kind === "named"
              ? `@${s.map.name}`
              : { set: s.map.entries.map((e) => [valueJson(e.key), verdictJson(e.verdict)]) },
        },
      };
    default:
      return assertNever(s);
  }
}

export function exprJson(e: Expr): Json {
  switch (e.kind) {
    case "match": {
      const left = e.mask === undefined ? selectorJson(e.left) : { "&": [selectorJson(e.left), maskJson(e.mask)] };
      // A bitmask list (`in` on a flag type) is a plain array, not an anonymous set.
      const right =
        e.op === "in" && e.right.kind === "set"
          ? e.right.elements.map((x) => valueJson(x))
          : valueJson(e.right, isFibOif(e.left));
      return { match: { op: e.op, left, right } };
    }
    case "accept":
    case "drop":
    case "reject":
    case "jump":
    case "goto":
    case "return":
    case "continue":
      return verdictJson(e);
    default:
      return statementJson(e);
  }
}

function keyTypeJson(types: readonly string[]): Json {
  return types.length === 1 ? types[0] : [...types];
}

function ctHelperJson(t: Table, h: CtHelperObject): Json {
  return {
    "ct helper": {
      family: t.family,
      table: t.name,
      name: h.name,
      type: h.type,
      protocol: h.protocol,
      l3proto: h.l3proto ?? t.family,
      ...(h.comment === undefined ? {} : { comment: h.comment }),
    },
  };
}

function setJson(t: Table, s: NamedSet): Json {
  return {
    set: {
      family: t.family,
      table: t.name,
      name: s.name,
      type: keyTypeJson(s.keyType),
      ...(s.flags === undefined || s.flags.length === 0 ? {} : { flags: [...s.flags] }),
      ...(s.elements.length === 0 ? {} : { elem: s.elements.map((e) => valueJson(e)) }),
      ...(s.comment === undefined ? {} : { comment: s.comment }),
    },
  };
}

function mapJson(t: Table, m: NamedMap): Json {
  return {
    map: {
      family: t.family,
      table: t.name,
      name: m.name,
      type: keyTypeJson(m.keyType),
      map: m.dataType,
      ...(m.flags === undefined || m.flags.length === 0 ? {} : { flags: [...m.flags] }),
      ...(m.elements.length === 0
        ? {}
        : {
            elem: m.elements.map((e) => [
              valueJson(e.key),
              e.data.kind === "verdict" ? verdictJson(e.data.verdict) : valueJson(e.data.value),
            ]),
          }),
      ...(m.comment === undefined ? {} : { comment: m.comment }),
    },
  };
}

function chainJson(t: Table, c: Chain): Json {
  return {
    chain: {
      family: t.family,
      table: t.name,
      name: c.name,
      ...(c.base === undefined
        ? {}
        : { type: c.base.type, hook: c.base.hook, prio: c.base.priority, policy: c.base.policy }),
      ...(c.comment === undefined ? {} : { comment: c.comment }),
    },
  };
}

function ruleJson(t: Table, c: Chain, r: Rule): Json {
  return {
    rule: {
      family: t.family,
      table: t.name,
      chain: c.name,
      expr: r.exprs.map(exprJson),
      ...(r.comment === undefined ? {} : { comment: r.comment }),
    },
  };
}

/** The ruleset as libnftables JSON, one object per line inside the `nftables` array. */
export function writeNftJson(r: Ruleset): string {
  const objects: Json[] = [{ metainfo: { json_schema_version: 1 } }];
  for (const t of r.tables) {
    objects.push({
      table: { family: t.family, name: t.name, ...(t.comment === undefined ? {} : { comment: t.comment }) },
    });
    // Chains before maps: nft resolves a verdict map element's `jump` target when it adds the element and refuses
    // an unknown chain (ENOENT). Sets and maps before the rules that reference them.
    for (const c of t.chains) objects.push(chainJson(t, c));
    // Helper objects before the rules whose `ct helper set` names them.
    for (const h of t.ctHelpers ?? []) objects.push(ctHelperJson(t, h));
    for (const s of t.sets ?? []) objects.push(setJson(t, s));
    for (const m of t.maps ?? []) objects.push(mapJson(t, m));
    for (const c of t.chains) for (const rule of c.rules) objects.push(ruleJson(t, c, rule));
  }
  return `{"nftables": [\n${objects.map((o) => JSON.stringify(o)).join(",\n")}\n]}\n`;
}
