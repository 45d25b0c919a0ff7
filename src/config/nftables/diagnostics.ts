/** A positioned finding about nftables input; `unsupported` marks valid nft the Mallory IR cannot express. */
export interface NftDiagnostic {
  severity: "error" | "warning" | "unsupported";
  code: string;
  message: string;
  source: string;
  line: number;
  column: number;
  hint?: string;
}

/** `file:line:col: severity: message` — the form compilers and editors recognise. */
export function formatNftDiagnostic(d: NftDiagnostic): string {
  const hint = d.hint === undefined ? "" : ` (${d.hint})`;
  return `${d.source}:${String(d.line)}:${String(d.column)}: ${d.severity}: ${d.message}${hint}`;
}

/** True when the diagnostics block producing a ruleset (errors and unsupported constructs both do). */
export function hasNftErrors(ds: readonly NftDiagnostic[]): boolean {
  return ds.some((d) => d.severity !== "warning");
}
