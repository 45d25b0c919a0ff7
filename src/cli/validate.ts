// `mallory validate NETWORK.yaml`: load the network, parse every firewall it holds with the nftables importer,
// and print every diagnostic as `file:line:col: severity: message`, or a one-line summary when the network is
// usable. Exit 1 on any error, 0 otherwise (warnings included). nft positions inside an inline ruleset are mapped
// to the YAML file, so the editor jumps to the offending line of the `firewall: |` block.
import { readFileSync } from "node:fs";
import { parseNftText } from "../config/nftables/index.js";
import type { NftDiagnostic } from "../config/nftables/index.js";
import { firewallPosition, formatModelDiagnostic, loadNetwork, summarizeNetwork } from "../model/index.js";
import type { Firewall, ModelDiagnostic, Network } from "../model/index.js";

export interface ValidateOutcome {
  readonly exitCode: 0 | 1;
  /** Text for stdout, one line per diagnostic then (on success) the summary. */
  readonly output: string;
}

function readInclude(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** An nft diagnostic as a model diagnostic, at its YAML position when it is about the inline text itself. */
function fromNft(d: NftDiagnostic, fw: Firewall, source: string, owner: string): ModelDiagnostic {
  const at =
    d.source === source ? firewallPosition(fw, d.line, d.column) : { file: d.source, line: d.line, column: d.column };
  const unsupported = d.severity === "unsupported" ? "not supported by Mallory: " : "";
  const out: ModelDiagnostic = {
    // An unsupported construct leaves the twin without this ruleset, so it blocks like an error.
    severity: d.severity === "warning" ? "warning" : "error",
    code: `nft-${d.code}`,
    message: `${owner}.firewall: ${unsupported}${d.message}`,
    file: at.file,
    line: at.line,
    column: at.column,
  };
  return d.hint === undefined ? out : { ...out, hint: d.hint };
}

/** Parses each ruleset of the network; text positions of inline rulesets become YAML positions. */
export function checkFirewalls(network: Network): ModelDiagnostic[] {
  const owners: [string, Firewall | null][] = [
    ...network.routers.map((r): [string, Firewall | null] => [`routers.${r.name}`, r.firewall]),
    ...network.hosts.map((h): [string, Firewall | null] => [`hosts.${h.name}`, h.firewall]),
  ];
  const out: ModelDiagnostic[] = [];
  for (const [owner, fw] of owners) {
    if (fw === null || fw.text === null) continue;
    const source = fw.kind === "file" ? fw.resolvedPath : `${fw.at.file}#${owner}.firewall`;
    const parsed = parseNftText(fw.text, { source, readInclude });
    for (const d of parsed.diagnostics) out.push(fromNft(d, fw, source, owner));
  }
  return out;
}

export async function validateCommand(path: string): Promise<ValidateOutcome> {
  const { network, diagnostics } = await loadNetwork(path);
  const all = [...diagnostics, ...(network === null ? [] : checkFirewalls(network))];
  all.sort((a, b) => (a.file === b.file ? a.line - b.line || a.column - b.column : a.file < b.file ? -1 : 1));
  const lines = all.map(formatModelDiagnostic);
  if (network === null || all.some((d) => d.severity === "error"))
    return { exitCode: 1, output: `${lines.join("\n")}\n` };
  const warnings = all.length;
  const tail = warnings === 0 ? "" : ` (${warnings} warning${warnings === 1 ? "" : "s"})`;
  lines.push(`ok: ${summarizeNetwork(network)}${tail}`);
  return { exitCode: 0, output: `${lines.join("\n")}\n` };
}
