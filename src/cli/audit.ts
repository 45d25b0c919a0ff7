// `mallory audit NETWORK.yaml [--format text|json] [--out PATH] [--fail-on low|medium|high]`: loads the network,
// runs the audit library (src/analysis/audit.ts) and renders it. JSON is the ARCHITECTURE.md contract (findings,
// services with their layers, intents with `holds`); text is a concise report. Exit 1 when a finding is at or
// above --fail-on (or the network is invalid), 2 for formats not written yet (sarif, html), else 0.
import { writeFileSync } from "node:fs";
import pc from "picocolors";
import { audit, failsAt } from "../analysis/audit.js";
import type { AuditProgress, AuditReport, Finding, Severity } from "../analysis/audit.js";
import { formatModelDiagnostic, loadNetwork } from "../model/index.js";

export const AUDIT_FORMATS = ["text", "json", "sarif", "html"] as const;
export type AuditFormat = (typeof AUDIT_FORMATS)[number];
export const FAIL_ON = ["low", "medium", "high"] as const;

export interface AuditCommandOptions {
  readonly format: AuditFormat;
  readonly out?: string;
  readonly failOn?: Severity;
  readonly color: boolean;
  /** Called as the audit advances (the CLI draws a counter on a terminal). */
  readonly onProgress?: (p: AuditProgress) => void;
}

export interface AuditCommandOutcome {
  readonly exitCode: 0 | 1 | 2;
  readonly out: string;
  readonly err: string;
}

type Paint = (s: string) => string;

function painter(color: boolean) {
  const c = pc.createColors(color);
  const sev: Record<Severity, Paint> = { high: (s) => c.bold(c.red(s)), medium: c.yellow, low: c.cyan };
  return { c, sev };
}

function findingLines(f: Finding, p: ReturnType<typeof painter>): string[] {
  const from = f.foothold === null ? f.capability : `${f.capability} on ${f.foothold}`;
  const lines = [
    `  ${p.sev[f.severity](f.severity.toUpperCase().padEnd(6))} ${p.c.bold(f.attack)} → ${f.target} (${from})`,
  ];
  lines.push(`         ${f.evidence}`);
  if (f.path.length > 0)
    lines.push(`         path: ${f.path.map((h) => (h.rule === null ? h.node : `${h.node} [${h.rule}]`)).join(" → ")}`);
  lines.push(`         why: ${f.why}`);
  for (const fix of f.fixes) lines.push(`         ${p.c.green("fix:")} ${fix}`);
  return lines;
}

/** The text report: findings by severity, services with their layers, intents, and what was blocked. */
export function renderAuditText(r: AuditReport, color: boolean): string {
  const p = painter(color);
  const { c } = p;
  const lines: string[] = [c.bold(`mallory audit: ${r.network}`), ""];
  const n = r.findings.length;
  lines.push(c.bold(`Findings (${n}): `) + `${r.counts.high} high, ${r.counts.medium} medium, ${r.counts.low} low`);
  for (const f of r.findings) lines.push(...findingLines(f, p));
  lines.push("", c.bold("Services (independent layers that protect each one)"));
  for (const s of r.services) {
    const count =
      s.layers.length === 0 ? c.red("0 layers") : `${s.layers.length} layer${s.layers.length === 1 ? "" : "s"}`;
    const what = s.layers.length === 0 ? "" : `: ${s.layers.join(" + ")}`;
    lines.push(`  ${s.service} (${s.name}) ${count}${what}`);
  }
  lines.push("", c.bold("Intents"));
  for (const i of r.intents) {
    const mark = i.holds ? c.green("holds ") : c.red("BROKEN");
    const by = i.stoppedBy === null ? "" : ` — stopped by ${i.stoppedBy.node} ${i.stoppedBy.layer} ${i.stoppedBy.rule}`;
    lines.push(`  ${mark} ${i.intent}: ${i.evidence}${by}`);
  }
  lines.push("", c.bold(`Blocked (${r.checks.length})`));
  for (const k of r.checks) {
    const by = k.stoppedBy === null ? "nothing named" : `${k.stoppedBy.node} ${k.stoppedBy.layer} ${k.stoppedBy.rule}`;
    lines.push(
      `  ${c.dim("blocked")} ${k.attack} → ${k.target}${k.foothold === null ? "" : ` from ${k.foothold}`}: ${by}`,
    );
  }
  if (r.skipped.length > 0) {
    lines.push("", c.bold("Not applicable"));
    for (const s of r.skipped) lines.push(`  ${s.attack}: ${s.reason}`);
  }
  return `${lines.join("\n")}\n`;
}

export async function auditCommand(path: string, opts: AuditCommandOptions): Promise<AuditCommandOutcome> {
  if (opts.format === "sarif" || opts.format === "html")
    return {
      exitCode: 2,
      out: "",
      err: `mallory audit: --format ${opts.format} is not yet supported (use text or json)\n`,
    };
  const { network, diagnostics } = await loadNetwork(path);
  if (network === null) return { exitCode: 1, out: "", err: `${diagnostics.map(formatModelDiagnostic).join("\n")}\n` };
  const report = audit(network, opts.onProgress !== undefined ? { onProgress: opts.onProgress } : {});
  const body =
    opts.format === "json"
      ? `${JSON.stringify(
          {
            network: report.network,
            findings: report.findings,
            services: report.services,
            intents: report.intents,
            checks: report.checks,
            skipped: report.skipped,
            counts: report.counts,
          },
          null,
          2,
        )}\n`
      : renderAuditText(report, opts.color && opts.out === undefined);
  let out = body;
  if (opts.out !== undefined) {
    try {
      writeFileSync(opts.out, body);
    } catch (e) {
      return {
        exitCode: 1,
        out: "",
        err: `mallory audit: cannot write ${opts.out}: ${e instanceof Error ? e.message : String(e)}\n`,
      };
    }
    out = "";
  }
  const failed = opts.failOn !== undefined && failsAt(report, opts.failOn);
  return { exitCode: failed ? 1 : 0, out, err: "" };
}

/** A one-line counter redrawn on a terminal's stderr (no progress-bar dependency is installed). */
export function terminalCounter(write: (s: string) => void): (p: AuditProgress) => void {
  return (p) => {
    write(`\r\x1b[2K[${p.done}/${p.total}] ${p.label}`);
    if (p.done === p.total) write("\r\x1b[2K");
  };
}
