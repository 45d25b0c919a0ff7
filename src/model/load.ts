// YAML text → Network, in three passes that each stop the next when they fail: YAML syntax (the `yaml` package,
// YAML 1.2 core schema so `22:30`, MACs and `no` stay strings), the zod schema (each issue mapped through its path
// to line:column), then the cross-checks. Nothing here throws on bad input: every problem is a ModelDiagnostic.
import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import type { YAMLError } from "yaml";
import { z } from "zod";
import { buildNetwork, suggest } from "./cross-check.js";
import { NetworkSchema } from "./schema.js";
import type { Firewall, Host, ModelDiagnostic, Network, Router, SourcePos } from "./types.js";
import { YamlLocator } from "./yaml-locator.js";
import type { YamlPath } from "./yaml-locator.js";

export interface LoadResult {
  /** The network, or null when any diagnostic is an error. */
  readonly network: Network | null;
  /** Sorted by position; warnings may accompany a network. */
  readonly diagnostics: readonly ModelDiagnostic[];
}

export interface ParseOptions {
  /** Directory `{ file: ... }` firewalls are relative to; default: none (paths stay as written). */
  readonly baseDir?: string;
}

// A YAML bomb (billion laughs) is refused rather than expanded.
const MAX_ALIAS_COUNT = 100;

/** What the fallback messages say a zod type expects. */
const EXPECTED_TYPE: Readonly<Record<string, string>> = {
  object: "a mapping (key: value lines)",
  record: "a mapping of names to entries",
  array: "a list",
  string: "a text string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
  null: "null",
};

/** The "expected …" phrase for issues whose schema gives no message of its own. */
function fallbackPhrase(issue: z.core.$ZodRawIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return EXPECTED_TYPE[issue.expected] ?? issue.expected;
    case "invalid_value":
      return `one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "too_small":
      return issue.origin === "array"
        ? `a list with at least ${String(issue.minimum)} item(s)`
        : `a value ≥ ${String(issue.minimum)}`;
    case "too_big":
      return issue.origin === "array"
        ? `a list with at most ${String(issue.maximum)} item(s)`
        : `a value ≤ ${String(issue.maximum)}`;
    default:
      return "a valid value";
  }
}

function show(v: unknown): string {
  if (v === null) return "an empty value";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  return typeof v;
}

function pathText(path: YamlPath): string {
  return path
    .map((s) => (typeof s === "number" ? `[${s}]` : `.${String(s)}`))
    .join("")
    .replace(/^\./, "");
}

function valueAt(data: unknown, path: YamlPath): unknown {
  let v = data;
  for (const seg of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

/** The object schema at `path` (through records, lists, defaults and unions), for the fields an unknown key could mean. */
function objectKeysAt(path: YamlPath): string[] {
  let s: z.ZodType = NetworkSchema;
  for (let i = 0; i <= path.length; i++) {
    for (;;) {
      if (
        s instanceof z.ZodDefault ||
        s instanceof z.ZodPrefault ||
        s instanceof z.ZodOptional ||
        s instanceof z.ZodNullable
      ) {
        s = s.unwrap() as z.ZodType;
      } else if (s instanceof z.ZodUnion) {
        const obj = (s.options as z.ZodType[]).find((o) => o instanceof z.ZodObject);
        if (obj === undefined) return [];
        s = obj;
      } else {
        break;
      }
    }
    if (i === path.length) break;
    const seg = path[i];
    if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodType | undefined>)[String(seg)] ?? z.never();
    else if (s instanceof z.ZodRecord) s = s.valueType as z.ZodType;
    else if (s instanceof z.ZodArray) s = s.element as z.ZodType;
    else return [];
  }
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

function diagnostic(
  at: SourcePos,
  code: string,
  message: string,
  hint?: string,
  severity: ModelDiagnostic["severity"] = "error",
): ModelDiagnostic {
  const d: ModelDiagnostic = { severity, code, message, file: at.file, line: at.line, column: at.column };
  return hint === undefined ? d : { ...d, hint };
}

function schemaDiagnostics(issues: readonly z.core.$ZodIssue[], data: unknown, loc: YamlLocator): ModelDiagnostic[] {
  const out: ModelDiagnostic[] = [];
  for (const issue of issues) {
    const path = issue.path;
    if (issue.code === "unrecognized_keys") {
      const known = objectKeysAt(path);
      for (const key of issue.keys) {
        const kpath = [...path, key];
        out.push(
          diagnostic(
            loc.key(kpath),
            "unknown-field",
            `${pathText(kpath)}: unknown field "${key}"`,
            suggest(key, known, "fields"),
          ),
        );
      }
      continue;
    }
    if (issue.code === "invalid_key") {
      const key = String(path[path.length - 1]);
      out.push(
        diagnostic(
          loc.key(path),
          "schema",
          `${pathText(path.slice(0, -1))}: "${key}" is not a valid name: expected ${issue.issues[0]?.message ?? "a name"}`,
        ),
      );
      continue;
    }
    const value = valueAt(data, path);
    const where = path.length === 0 ? "the document" : pathText(path);
    if (value === undefined) {
      const field = String(path[path.length - 1]);
      out.push(
        diagnostic(
          loc.key(path),
          "missing-field",
          `${pathText(path.slice(0, -1)) || "top level"}: missing required field "${field}": expected ${issue.message}`,
        ),
      );
      continue;
    }
    out.push(diagnostic(loc.value(path), "schema", `${where}: expected ${issue.message}, got ${show(value)}`));
  }
  return out;
}

function yamlDiagnostic(e: YAMLError, loc: YamlLocator, severity: ModelDiagnostic["severity"]): ModelDiagnostic {
  // Without prettyErrors the message is one sentence; the position is ours to add.
  const message = e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
  return diagnostic(
    loc.at(e.pos[0]),
    severity === "error" ? "yaml-syntax" : "yaml-warning",
    message,
    undefined,
    severity,
  );
}

function byPosition(a: ModelDiagnostic, b: ModelDiagnostic): number {
  return a.file === b.file ? a.line - b.line || a.column - b.column : a.file < b.file ? -1 : 1;
}

function finish(network: Network | null, diagnostics: ModelDiagnostic[]): LoadResult {
  diagnostics.sort(byPosition);
  return { network: diagnostics.some((d) => d.severity === "error") ? null : network, diagnostics };
}

/** Parses and checks a network from YAML text; `source` names it in diagnostics. Firewall files are not read. */
export function parseNetwork(text: string, source: string, options: ParseOptions = {}): LoadResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, version: "1.2" });
  const loc = new YamlLocator(doc, lines, source, text);
  const diagnostics = [
    ...doc.errors.map((e) => yamlDiagnostic(e, loc, "error")),
    ...doc.warnings.map((e) => yamlDiagnostic(e, loc, "warning")),
  ];
  if (doc.errors.length > 0) return finish(null, diagnostics);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    // toJS throws (a ReferenceError) only for alias abuse: too many, or one to an anchor not yet defined.
    diagnostics.push(diagnostic(loc.at(0), "yaml-syntax", e instanceof Error ? e.message : String(e)));
    return finish(null, diagnostics);
  }
  const parsed = NetworkSchema.safeParse(data, { error: (issue) => fallbackPhrase(issue) });
  if (!parsed.success) return finish(null, [...diagnostics, ...schemaDiagnostics(parsed.error.issues, data, loc)]);
  const built = buildNetwork(parsed.data, loc, { baseDir: options.baseDir ?? null, source });
  return finish(built.network, [...diagnostics, ...built.diagnostics]);
}

/** Reads each `{ file: ... }` firewall of a network; a file that cannot be read is an error at its `file:` value. */
async function readFirewallFiles(network: Network): Promise<{ network: Network; diagnostics: ModelDiagnostic[] }> {
  const diagnostics: ModelDiagnostic[] = [];
  const read = async (fw: Firewall | null): Promise<Firewall | null> => {
    if (fw?.kind !== "file") return fw;
    try {
      return { ...fw, text: await readFile(fw.resolvedPath, "utf8") };
    } catch (e) {
      const reason = (e as NodeJS.ErrnoException).code === "ENOENT" ? "not found" : "cannot be read";
      diagnostics.push(
        diagnostic(
          fw.at,
          "firewall-file",
          `firewall file "${fw.path}" ${reason} (looked at ${fw.resolvedPath})`,
          "the path is relative to the YAML file",
        ),
      );
      return fw;
    }
  };
  const routers: Router[] = [];
  for (const r of network.routers) routers.push({ ...r, firewall: await read(r.firewall) });
  const hosts: Host[] = [];
  for (const h of network.hosts) hosts.push({ ...h, firewall: await read(h.firewall) });
  return { network: { ...network, routers, hosts }, diagnostics };
}

/** Loads a network file: parse, check, then read the firewall files it names. Never throws. */
export async function loadNetwork(path: string): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const reason = code === "ENOENT" ? "file not found" : code === "EISDIR" ? "is a directory" : "cannot be read";
    return {
      network: null,
      diagnostics: [{ severity: "error", code: "file", message: reason, file: path, line: 1, column: 1 }],
    };
  }
  const parsed = parseNetwork(text, path, { baseDir: dirname(path) });
  if (parsed.network === null) return parsed;
  const withFiles = await readFirewallFiles(parsed.network);
  return finish(withFiles.network, [...parsed.diagnostics, ...withFiles.diagnostics]);
}

/**
 * Maps a position inside a firewall's nftables text (line and column from 1) to the YAML file, for rulesets
 * written inline as a literal block; other rulesets keep their own source (the file, or the scalar's start).
 */
export function firewallPosition(fw: Firewall, line: number, column: number): SourcePos {
  if (fw.kind === "file") return { file: fw.resolvedPath, line, column };
  if (!fw.lineExact) return fw.at;
  return { file: fw.at.file, line: fw.at.line + line - 1, column: fw.at.column + column - 1 };
}
