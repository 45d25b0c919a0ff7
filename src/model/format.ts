// How a model diagnostic and a loaded network read as one line of text (the CLI and editors' problem matchers).
import type { ModelDiagnostic, Network } from "./types.js";

/** `file:line:col: severity: message (hint)`, the form compilers print and editors recognise. */
export function formatModelDiagnostic(d: ModelDiagnostic): string {
  const hint = d.hint === undefined ? "" : ` (${d.hint})`;
  return `${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message}${hint}`;
}

function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** `seed-home — 1 router, 2 hosts, 2 internet hosts, 3 intents`. */
export function summarizeNetwork(n: Network): string {
  return [
    count(n.routers.length, "router", "routers"),
    count(n.hosts.length, "host", "hosts"),
    count(n.internetHosts.length, "internet host", "internet hosts"),
    count(n.intents.length, "intent", "intents"),
  ]
    .join(", ")
    .replace(/^/, `${n.name} — `);
}
