// `mallory lab up|down|status NETWORK.yaml [--json]`: the network in Linux namespaces. The CLI loads the model,
// calls src/lab and prints its progress lines; without root or `ip netns` it says so in one line and exits 2.
import { formatModelDiagnostic, loadNetwork } from "../model/index.js";
import { labDown, labStatus, labUp, probeLab } from "../lab/index.js";
import type { LabError, LabStatus } from "../lab/index.js";
import { verifyNetwork } from "../lab/verify.js";
import type { LinkReport, LinkSide, VerifyReport } from "../lab/verify.js";

export const LAB_ACTIONS = ["up", "down", "status"] as const;
export type LabAction = (typeof LAB_ACTIONS)[number];

export interface LabArgs {
  readonly action: LabAction;
  readonly network: string;
  readonly json: boolean;
  /** Progress lines, printed as they happen. */
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
}

/** 0 done, 1 invalid network or a step failed (what was built is torn down), 2 no root / no namespaces. */
export type LabExit = 0 | 1 | 2;

function exitFor(e: LabError): LabExit {
  return e.kind === "unsupported" ? 2 : 1;
}

export function formatLabStatus(s: LabStatus): string {
  const lines = [`lab ${s.network}: ${s.up ? "up" : s.namespaces.some((n) => n.exists) ? "partly up" : "down"}`];
  for (const n of s.namespaces) {
    if (!n.exists) {
      lines.push(`  ${n.name} (${n.role}): absent`);
      continue;
    }
    lines.push(`  ${n.name} (${n.role})${n.addresses.length > 0 ? `: ${n.addresses.join(", ")}` : ""}`);
  }
  for (const p of s.processes)
    lines.push(`  ${p.what} of ${p.node}: pid ${p.pid} ${p.alive ? "running" : "gone"}, log ${p.log}`);
  if (s.stateFile !== null) lines.push(`  state: ${s.stateFile}`);
  return `${lines.join("\n")}\n`;
}

export async function labCommand(a: LabArgs): Promise<LabExit> {
  // Before reading the network: without root nothing else matters, and the user should hear only that.
  const caps = await probeLab();
  if (caps.missing !== null) {
    a.err(`mallory: lab ${a.action}: ${caps.missing}\n`);
    return 2;
  }
  const loaded = await loadNetwork(a.network);
  const errors = loaded.diagnostics.filter((d) => d.severity === "error");
  if (loaded.network === null || errors.length > 0) {
    a.err(errors.map((d) => `${formatModelDiagnostic(d)}\n`).join(""));
    return 1;
  }
  const network = loaded.network;
  const onProgress = (line: string): void => {
    a.out(`${line}\n`);
  };
  switch (a.action) {
    case "up": {
      const r = await labUp(network, { onProgress });
      if (!r.ok) {
        a.err(`mallory: lab up: ${r.error.message}\n`);
        return exitFor(r.error);
      }
      for (const w of r.value.warnings) a.err(`mallory: warning: ${w}\n`);
      return 0;
    }
    case "down": {
      const r = await labDown(network, { onProgress });
      if (!r.ok) {
        a.err(`mallory: lab down: ${r.error.message}\n`);
        return exitFor(r.error);
      }
      return 0;
    }
    case "status": {
      const r = await labStatus(network);
      if (!r.ok) {
        a.err(`mallory: lab status: ${r.error.message}\n`);
        return exitFor(r.error);
      }
      a.out(a.json ? `${JSON.stringify(r.value, null, 2)}\n` : formatLabStatus(r.value));
      return 0;
    }
  }
}

export interface LabVerifyArgs {
  readonly network: string;
  /** Catalogue ids (each may be a comma-separated list); every attack with a kernel actor when absent or empty. */
  readonly attack?: string | readonly string[];
  readonly json: boolean;
  /** Keeps the captures: `DIR/<attack>/kernel/<segment>.pcap` and `DIR/<attack>/simulated/<segment>.pcapng`. */
  readonly pcap?: string;
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
}

/** How many differing flows a text line names before it says "and N more" (the JSON lists them all). */
const FLOWS_SHOWN = 3;

function sideText(what: string, side: LinkSide): string {
  if (side.packets === null) return `${what} not captured${side.error !== undefined ? ` (${side.error})` : ""}`;
  return `${what} ${side.packets} packet${side.packets === 1 ? "" : "s"}`;
}

function flowList(flows: readonly string[]): string {
  const shown = flows.slice(0, FLOWS_SHOWN).join("; ");
  return flows.length > FLOWS_SHOWN ? `${shown}; and ${flows.length - FLOWS_SHOWN} more` : shown;
}

/** `segment: kernel N packets, simulated M packets`, the flows only one side saw, and the files when kept. */
export function formatLink(l: LinkReport): string[] {
  const lines = [`      ${l.segment}: ${sideText("kernel", l.kernel)}, ${sideText("simulated", l.simulated)}`];
  if (l.flows !== undefined) {
    const f = l.flows;
    lines[0] += `; ${f.matched} flow${f.matched === 1 ? "" : "s"} on both sides`;
    if (f.kernelOnly.length > 0) lines.push(`        only in the kernel:    ${flowList(f.kernelOnly)}`);
    if (f.simulatedOnly.length > 0) lines.push(`        only in the simulator: ${flowList(f.simulatedOnly)}`);
  }
  if (l.kernel.path !== null) lines.push(`        ${l.kernel.path}`);
  if (l.simulated.path !== null) lines.push(`        ${l.simulated.path}`);
  return lines;
}

export function formatVerifyReport(r: VerifyReport): string {
  const lines = [
    `lab verify ${r.network}: ${r.mismatches.length === 0 ? "no mismatch" : `${r.mismatches.length} mismatch(es)`}`,
  ];
  for (const a of r.agreement) {
    const verdict = a.agree === null ? "not compared" : a.agree ? "agree" : "MISMATCH";
    lines.push(
      `  ${a.attack}${a.target !== null ? ` (${a.target})` : ""}: simulated ${a.simulated}, kernel ${a.kernel}: ${verdict}`,
    );
    lines.push(`    simulator: ${a.evidence.simulated}`);
    lines.push(`    kernel:    ${a.evidence.kernel}`);
    if (a.links.length > 0) {
      lines.push("    links:");
      for (const l of a.links) lines.push(...formatLink(l));
    }
  }
  return `${lines.join("\n")}\n`;
}

/**
 * `mallory lab verify NETWORK.yaml [--attack ID[,ID...]]... [--json] [--pcap DIR]`: 0 no mismatch, 1 a mismatch or bad input,
 * 2 no root.
 */
export async function labVerifyCommand(a: LabVerifyArgs): Promise<LabExit> {
  const caps = await probeLab();
  if (caps.missing !== null) {
    a.err(`mallory: lab verify: ${caps.missing}\n`);
    return 2;
  }
  const loaded = await loadNetwork(a.network);
  const errors = loaded.diagnostics.filter((d) => d.severity === "error");
  if (loaded.network === null || errors.length > 0) {
    a.err(errors.map((d) => `${formatModelDiagnostic(d)}\n`).join(""));
    return 1;
  }
  const attacks = (typeof a.attack === "string" ? [a.attack] : (a.attack ?? []))
    .flatMap((x) => x.split(","))
    .map((x) => x.trim())
    .filter((x) => x !== "");
  const r = await verifyNetwork(loaded.network, {
    ...(attacks.length > 0 ? { attacks } : {}),
    ...(a.pcap !== undefined ? { pcapDir: a.pcap } : {}),
    ...(a.json
      ? {}
      : {
          onProgress: (line: string) => {
            a.err(`${line}\n`);
          },
        }),
  });
  if (!r.ok) {
    a.err(`mallory: lab verify: ${r.error.message}\n`);
    return r.error.kind === "unsupported" ? 2 : 1;
  }
  a.out(
    a.json
      ? `${JSON.stringify({ agreement: r.value.agreement, mismatches: r.value.mismatches }, null, 2)}\n`
      : formatVerifyReport(r.value),
  );
  return r.value.mismatches.length === 0 ? 0 : 1;
}
