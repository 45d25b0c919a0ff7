// `mallory simulate NETWORK.yaml --attack ID [--from NODE] [--to NODE:PORT/PROTO] [--seed N] [--json] [--trace]
// [--pcap DIR]`: runs one attack of the catalogue on a twin of the network and says what happened. `--json` prints
// ARCHITECTURE.md's contract (attack, capability, target, outcome, stoppedBy, steps) plus extra fields.
import { mkdirSync } from "node:fs";
import pc from "picocolors";
import { catalogue, findAttack, formatTarget, parseTarget, runPlans } from "../attacks/index.js";
import type { Attack, AttackPlan, AttackResult } from "../attacks/index.js";
import { formatModelDiagnostic, loadNetwork } from "../model/index.js";
import type { Network } from "../model/index.js";
import { buildTwin } from "../sim/twin.js";

export interface SimulateArgs {
  readonly network: string;
  readonly attack: string;
  readonly from?: string;
  readonly to?: string;
  readonly seed?: number;
  readonly json: boolean;
  readonly trace: boolean;
  readonly pcap?: string;
  readonly color: boolean;
}

export interface SimulateOutcome {
  /** 0 ran (breached or blocked), 1 invalid input, 2 usage error (unknown attack, malformed flag). */
  readonly exitCode: 0 | 1 | 2;
  readonly out: string;
  readonly err: string;
}

const DEFAULT_SEED = 1;

const usage = (err: string): SimulateOutcome => ({ exitCode: 2, out: "", err });
const invalid = (err: string): SimulateOutcome => ({ exitCode: 1, out: "", err });

/** The plans to try: the attack's own, narrowed by --from and --to; a --to it did not think of is tried as given. */
function choosePlans(attack: Attack, network: Network, from?: string, to?: string): AttackPlan[] | string {
  const known = new Set([...network.hosts, ...network.internetHosts, ...network.routers].map((n) => n.name));
  if (from !== undefined && !known.has(from)) return `--from ${from}: no node of that name in ${network.source}`;
  let target: AttackPlan["target"] | null = null;
  if (to !== undefined) {
    target = parseTarget(to);
    if (target === null) return `--to ${to}: expected NODE:PORT[/tcp|udp]`;
    if (!known.has(target.node)) return `--to ${to}: no node named ${target.node} in ${network.source}`;
  }
  const planned = attack.plan(network);
  const plans = planned.plans.filter(
    (p) =>
      (from === undefined || p.foothold === from) &&
      (target === null || formatTarget(p.target) === formatTarget(target)),
  );
  if (plans.length > 0) return plans;
  if (target !== null) return [{ foothold: from ?? planned.plans[0]?.foothold ?? null, target }];
  if (from !== undefined && planned.plans.length > 0) return `${attack.id} has no target to try from ${from}`;
  return `${attack.id} does not apply to ${network.name}: ${planned.notApplicable ?? "nothing to try"}`;
}

function toJson(network: Network, seed: number, result: AttackResult, pcaps: readonly string[]): string {
  const doc = {
    attack: result.attack,
    capability: result.capability,
    target: result.target,
    outcome: result.outcome,
    stoppedBy: result.stoppedBy,
    steps: result.steps,
    foothold: result.foothold,
    evidence: result.evidence,
    ...(result.note !== undefined ? { note: result.note } : {}),
    ...(result.details !== undefined ? { details: result.details } : {}),
    network: network.name,
    seed,
    pcaps,
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

function toText(network: Network, result: AttackResult, pcaps: readonly string[], trace: boolean, color: boolean) {
  const c = pc.createColors(color);
  const from = result.foothold !== null ? ` from ${result.foothold}` : "";
  const lines = [
    `${c.bold(result.attack)} on ${network.name} (${result.capability}${from})`,
    `  target      ${result.target}`,
    `  outcome     ${result.outcome === "breached" ? c.red(c.bold("BREACHED")) : c.green("blocked")}`,
  ];
  const s = result.stoppedBy;
  if (s !== null)
    lines.push(`  stopped by  ${s.node} · ${s.layer} · ${c.cyan(s.rule)}${s.text !== undefined ? `  ${s.text}` : ""}`);
  lines.push(`  evidence    ${result.evidence}`);
  if (result.note !== undefined) lines.push(`  note        ${c.dim(result.note)}`);
  if (trace && result.steps.length > 0) {
    lines.push("  steps");
    for (const st of result.steps)
      lines.push(
        `    ${st.time.toFixed(3).padStart(9)} ms  ${st.node.padEnd(8)} ${st.hook.padEnd(11)} ${st.packet}  ${c.dim(st.verdict)}`,
      );
  }
  for (const p of pcaps) lines.push(`  pcap        ${p}`);
  return `${lines.join("\n")}\n`;
}

export async function simulateCommand(a: SimulateArgs): Promise<SimulateOutcome> {
  const attack = findAttack(a.attack);
  if (attack === undefined)
    return usage(`mallory: unknown attack "${a.attack}"; known attacks: ${catalogue.map((x) => x.id).join(", ")}\n`);
  const seed = a.seed ?? DEFAULT_SEED;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    return usage(`mallory: --seed must be an integer from 0 to 4294967295\n`);

  const loaded = await loadNetwork(a.network);
  const errors = loaded.diagnostics.filter((d) => d.severity === "error");
  if (loaded.network === null || errors.length > 0)
    return invalid(errors.map((d) => `${formatModelDiagnostic(d)}\n`).join(""));
  const network = loaded.network;
  // Build once up front so a ruleset the twin cannot load is reported at its YAML place, like validate does.
  const probe = buildTwin(network, { seed, capture: false });
  if (!probe.ok) return invalid(probe.diagnostics.map((d) => `${formatModelDiagnostic(d)}\n`).join(""));

  const plans = choosePlans(attack, network, a.from, a.to);
  if (typeof plans === "string") return invalid(`mallory: ${plans}\n`);
  const trace = a.trace || a.json;
  const decided = runPlans(attack, network, plans, { seed, trace });
  if (decided === null) return invalid(`mallory: ${attack.id}: nothing to run\n`);
  if (!decided.ok) return invalid(`mallory: ${attack.id}: ${decided.error.message}\n`);
  let pcaps: readonly string[] = [];
  if (a.pcap !== undefined) {
    // Runs are deterministic: replaying the deciding plan with the same seed writes exactly the packets judged.
    const plan = plans.find(
      (p) => formatTarget(p.target) === decided.result.target && p.foothold === decided.result.foothold,
    );
    try {
      mkdirSync(a.pcap, { recursive: true });
    } catch (e) {
      return invalid(`mallory: --pcap ${a.pcap}: ${e instanceof Error ? e.message : String(e)}\n`);
    }
    const again = attack.run(network, plan ?? plans[0], { seed, trace, pcapDir: a.pcap });
    if (again.ok) pcaps = again.pcaps;
  }
  const out = a.json
    ? toJson(network, seed, decided.result, pcaps)
    : toText(network, decided.result, pcaps, a.trace, a.color);
  return { exitCode: 0, out, err: "" };
}
