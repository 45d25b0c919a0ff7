// `mallory import FILE --type nft|nft-json [--json]`: shows a ruleset as Mallory understands it, chains in the
// order packets meet them (base chains by hook, then priority; then regular chains), every rule with the
// file:line:column it came from. The JSON form (`--json`) is:
//   {"tables": [{"family", "name", "origin": "file:line:col", "chains": [{"name", "origin",
//     "base": {"type", "hook", "priority", "policy"} | null, "rules": [{"origin", "text", "exprs": <IR exprs>}]}],
//     "sets": [{"name", "origin", "keyType", "flags", "elements": [text]}],
//     "maps": [{"name", "origin", "keyType", "dataType", "elements": [{"key": text, "data": text}]}]}]}
// where chains are in the same order as the text form and `text` is the rule as nft text.

import { readFileSync } from "node:fs";
import type { Chain, Origin, Ruleset, Table } from "../engine/filter/ir.js";
import type { NftDiagnostic } from "../config/nftables/index.js";
import {
  formatNftDiagnostic,
  hasNftErrors,
  loadNftFile,
  readNftJson,
  ruleText,
  valueText,
  verdictText,
} from "../config/nftables/index.js";

export type ImportType = "nft" | "nft-json";
export const IMPORT_TYPES: readonly ImportType[] = ["nft", "nft-json"];

const HOOK_ORDER = ["prerouting", "input", "forward", "output", "postrouting"] as const;

export interface ImportResult {
  readonly ruleset: Ruleset | null;
  readonly diagnostics: readonly NftDiagnostic[];
}

/** Reads FILE as nftables text (with relative includes) or as `nft -j list ruleset` JSON. */
export function importRulesetFile(file: string, type: ImportType): ImportResult {
  if (type === "nft") return loadNftFile(file);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return {
      ruleset: null,
      diagnostics: [{ severity: "error", code: "io", message, source: file, line: 1, column: 1 }],
    };
  }
  return readNftJson(text, { source: file });
}

const at = (o: Origin): string => `${o.source}:${o.line}:${o.column}`;

/** Base chains by hook then priority (ties keep declaration order), then regular chains. */
export function chainsInHookOrder(t: Table): Chain[] {
  const base = t.chains.filter((c) => c.base !== undefined);
  const regular = t.chains.filter((c) => c.base === undefined);
  const rank = (c: Chain): number => HOOK_ORDER.indexOf(c.base!.hook);
  return [...base].sort((a, b) => rank(a) - rank(b) || a.base!.priority - b.base!.priority).concat(regular);
}

export function renderImportText(r: Ruleset): string {
  const lines: string[] = [];
  for (const t of r.tables) {
    lines.push(`table ${t.family} ${t.name}  (${at(t.origin)})`);
    for (const h of t.ctHelpers ?? [])
      lines.push(`  ct helper ${h.name}: ${h.type} over ${h.protocol}, ${h.l3proto ?? t.family}  (${at(h.origin)})`);
    for (const s of t.sets ?? [])
      lines.push(`  set ${s.name}: ${s.keyType.join(" . ")}, ${s.elements.length} elements  (${at(s.origin)})`);
    for (const m of t.maps ?? [])
      lines.push(
        `  map ${m.name}: ${m.keyType.join(" . ")} : ${m.dataType}, ${m.elements.length} elements  (${at(m.origin)})`,
      );
    for (const c of chainsInHookOrder(t)) {
      const b = c.base;
      const head =
        b === undefined
          ? `  chain ${c.name} (regular)`
          : `  chain ${c.name}: ${b.type} hook ${b.hook} priority ${b.priority} policy ${b.policy}`;
      lines.push(`${head}  (${at(c.origin)})`);
      for (const rule of c.rules) lines.push(`    ${at(rule.origin)}  ${ruleText(rule)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

export function importJson(r: Ruleset): unknown {
  return {
    tables: r.tables.map((t) => ({
      family: t.family,
      name: t.name,
      origin: at(t.origin),
      chains: chainsInHookOrder(t).map((c) => ({
        name: c.name,
        origin: at(c.origin),
        base: c.base ?? null,
        rules: c.rules.map((rule) => ({ origin: at(rule.origin), text: ruleText(rule), exprs: rule.exprs })),
      })),
      sets: (t.sets ?? []).map((s) => ({
        name: s.name,
        origin: at(s.origin),
        keyType: s.keyType,
        flags: s.flags ?? [],
        elements: s.elements.map(valueText),
      })),
      maps: (t.maps ?? []).map((m) => ({
        name: m.name,
        origin: at(m.origin),
        keyType: m.keyType,
        dataType: m.dataType,
        elements: m.elements.map((e) => ({
          key: valueText(e.key),
          data: e.data.kind === "verdict" ? verdictText(e.data.verdict) : valueText(e.data.value),
        })),
      })),
      ctHelpers: (t.ctHelpers ?? []).map((h) => ({
        name: h.name,
        origin: at(h.origin),
        type: h.type,
        protocol: h.protocol,
        l3proto: h.l3proto ?? t.family,
      })),
    })),
  };
}

/** Runs the command: what goes to stdout, to stderr, and whether it failed. */
export function runImport(
  file: string,
  type: ImportType,
  json: boolean,
): { readonly out: string; readonly err: string; readonly failed: boolean } {
  const { ruleset, diagnostics } = importRulesetFile(file, type);
  const err = diagnostics.map((d) => `${formatNftDiagnostic(d)}\n`).join("");
  if (ruleset === null || hasNftErrors(diagnostics)) return { out: "", err, failed: true };
  const out = json ? `${JSON.stringify(importJson(ruleset), null, 2)}\n` : renderImportText(ruleset);
  return { out, err, failed: false };
}
