// `mallory audit` as a library (ARCHITECTURE.md layer 8 and the `audit --json` contract): every applicable attack
// of the catalogue from every foothold it plans against every target, each on a fresh twin; every intent checked
// with real packets; the layers protecting each service counted by ablation. A breach becomes a finding with a
// severity, the path its packets took (each hop with the rule that let it through), why nothing stopped it, and
// plain-language fixes. Blocked runs are kept as `checks` with the rule that stopped them.

import { catalogue as defaultCatalogue } from "../attacks/index.js";
import type { Attack, AttackResult, AttackStep, Capability, StoppedBy } from "../attacks/index.js";
import type { Host, Network, Router } from "../model/index.js";
import { formatIpv4 } from "../wire/address.js";
import { checkIntents } from "./intents.js";
import type { IntentCheck } from "./intents.js";
import { countLayers } from "./layers.js";
import type { ServiceLayers } from "./layers.js";

export type Severity = "low" | "medium" | "high";
export const SEVERITIES: readonly Severity[] = ["low", "medium", "high"];

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

/** One node the attack's packets crossed, with what it did and the rule that let them through. */
export interface Hop {
  readonly node: string;
  /** What the node did to the first packet of the attack it saw (the step's verdict). */
  readonly action: string;
  /** `file:line:col` of the accepting rule, when a rule decided. */
  readonly rule: string | null;
}

export interface Finding {
  readonly attack: string;
  readonly capability: Capability;
  /** `node:port/proto` */
  readonly target: string;
  readonly foothold: string | null;
  readonly severity: Severity;
  readonly outcome: "breached";
  readonly path: readonly Hop[];
  /** Always null for a breach: nothing stopped it (`why` says what would have had to). */
  readonly stoppedBy: StoppedBy | null;
  readonly why: string;
  readonly evidence: string;
  readonly note?: string;
  readonly fixes: readonly string[];
}

/** A run that did not breach, with what stopped it. */
export interface Check {
  readonly attack: string;
  readonly target: string;
  readonly foothold: string | null;
  readonly outcome: "blocked";
  readonly stoppedBy: StoppedBy | null;
  readonly evidence: string;
}

export interface SkippedAttack {
  readonly attack: string;
  readonly reason: string;
}

export interface AuditReport {
  readonly network: string;
  readonly findings: readonly Finding[];
  readonly checks: readonly Check[];
  readonly skipped: readonly SkippedAttack[];
  readonly services: readonly ServiceLayers[];
  readonly intents: readonly IntentCheck[];
  readonly counts: Readonly<Record<Severity, number>>;
}

export interface AuditProgress {
  readonly done: number;
  readonly total: number;
  /** What just finished, e.g. `spoofed-source u -> s:22/tcp`. */
  readonly label: string;
}

export interface AuditOptions {
  readonly seed?: number;
  /** The attacks to run; default the whole catalogue. */
  readonly attacks?: readonly Attack[];
  readonly onProgress?: (p: AuditProgress) => void;
}

/** Implants that only use flows the user's own host starts: a stateful firewall allows them by design. */
const OUTBOUND_RESIDUE = new Set(["c2-beacon", "udp-hole-punch"]);
const REMOTE_CAPABILITIES = new Set<Capability>(["remote", "web-visitor"]);
const ACCEPT_RULE = /accept \(([^)]+)\)/;

// ---------------------------------------------------------------------------------------------------------------
// Severity, path, why, fixes.

function hostByName(network: Network, name: string | null): Host | undefined {
  return name === null ? undefined : network.hosts.find((h) => h.name === name);
}

function routerOf(network: Network, host: Host | undefined): Router | undefined {
  return host === undefined ? undefined : network.routers.find((r) => r.lans.some((l) => l.lan === host.lan));
}

function targetNode(result: AttackResult): string {
  return result.target.slice(0, result.target.indexOf(":"));
}

function isWorkstation(h: Host | undefined): boolean {
  return h !== undefined && (h.role === "workstation" || h.browses);
}

/**
 * high: a remote or web-visitor breach of a LAN service, or a breach of a service no layer protects;
 * low: outbound-initiated residue from a user's workstation; medium: the rest (user-code, root-code, a LAN device).
 */
export function severityOf(network: Network, r: AttackResult, layers: readonly ServiceLayers[]): Severity {
  const target = hostByName(network, targetNode(r));
  if (OUTBOUND_RESIDUE.has(r.attack) && isWorkstation(hostByName(network, r.foothold))) return "low";
  if (target !== undefined && REMOTE_CAPABILITIES.has(r.capability)) return "high";
  const service = layers.find((s) => s.service === r.target);
  if (service !== undefined && service.layers.length === 0) return "high";
  return "medium";
}

/** The nodes the attack's packets crossed, in order, each with its first verdict and the accepting rule. */
export function pathOf(steps: readonly AttackStep[]): Hop[] {
  const seen = new Set<string>();
  const hops: Hop[] = [];
  for (const s of steps) {
    if (seen.has(s.node)) continue;
    seen.add(s.node);
    const m = ACCEPT_RULE.exec(s.verdict);
    hops.push({ node: s.node, action: s.verdict, rule: m === null ? null : m[1] });
  }
  return hops;
}

/** Who may reach a host by the intents: sources and ports, for a host-firewall fix. */
function allowedByIntents(network: Network, host: string): { sources: string[]; ports: string[] } {
  const sources: string[] = [];
  const ports: string[] = [];
  for (const i of network.intents) {
    if (i.to.kind !== "node" || i.to.name !== host) continue;
    const from = network.hosts.find((h) => h.name === i.from);
    if (from !== undefined && !sources.includes(formatIpv4(from.address))) sources.push(formatIpv4(from.address));
    const p = i.port === null ? "any port" : `${i.port}/${i.proto ?? "tcp"}`;
    if (!ports.includes(p)) ports.push(p);
  }
  return { sources, ports };
}

function hostFirewallFix(network: Network, host: string): string {
  const a = allowedByIntents(network, host);
  if (a.ports.length === 0)
    return `run a host firewall on ${host} that drops every inbound connection (no intent reaches it)`;
  const from = a.sources.length === 0 ? "" : ` from ${a.sources.join(", ")}`;
  return `run a host firewall on ${host} allowing only ${a.ports.join(", ")}${from} (its intents) and dropping the rest`;
}

function needsInternet(network: Network, host: string): boolean {
  return network.intents.some((i) => i.from === host && i.to.kind === "internet");
}

/** Plain-language fixes for a breach: the smallest change at the router first, then defense in depth. */
export function fixesFor(network: Network, r: AttackResult): string[] {
  const targetName = targetNode(r);
  const target = hostByName(network, targetName);
  const foothold = hostByName(network, r.foothold);
  const router = routerOf(network, target ?? foothold);
  const rname = router?.name ?? "the router";
  const wan = router?.wan.interface ?? "wan";
  const fixes: string[] = [];
  switch (r.attack) {
    case "spoofed-source":
      if (target !== undefined && !needsInternet(network, targetName))
        fixes.push(
          `add \`ip saddr ${formatIpv4(target.address)} oifname "${wan}" drop\` to ${rname}'s forward chain before the ` +
            `LAN→WAN accept (least privilege: ${targetName} has no reason to reach the internet)`,
        );
      else
        fixes.push(
          `bind each LAN address to its MAC on ${rname} (\`ether saddr . ip saddr\` against the DHCP leases) or enable ` +
            "IP source guard on the switch, so a host cannot forge another's address",
        );
      fixes.push(hostFirewallFix(network, targetName));
      break;
    case "upnp-forward-self":
    case "upnp-forward-other":
      fixes.push(`turn UPnP off on ${rname}, or enable secure mode with a permission list that ends in deny`);
      if (r.attack === "upnp-forward-self" && r.foothold !== null)
        fixes.push(`run a host firewall on ${r.foothold} that drops inbound connections it did not ask for`);
      break;
    case "dns-rebinding":
      fixes.push(`enable rebind protection on ${rname}'s DNS resolver (dnsmasq stop-dns-rebind)`);
      fixes.push(`require authentication on ${r.target} and check the Host header`);
      break;
    case "nat-slipstream":
      fixes.push(`turn the SIP helper (ALG) off on ${rname}`);
      break;
    case "ipv6-no-nat":
      fixes.push(
        `add \`iifname "${wan}" meta nfproto ipv6 ct state new drop\` to ${rname}'s forward chain (IPv6 has no NAT: ` +
          "only the filter hides the LAN)",
      );
      fixes.push(hostFirewallFix(network, targetName));
      break;
    case "port-forward-exposure":
    case "inbound-scan":
      fixes.push(
        `remove the port forward to ${r.target} on ${rname}, or limit it to known source addresses (or put the ` +
          "service behind a VPN)",
      );
      fixes.push(hostFirewallFix(network, targetName));
      break;
    case "c2-beacon":
    case "udp-hole-punch":
      if (r.foothold !== null && !needsInternet(network, r.foothold) && foothold !== undefined)
        fixes.push(
          `add \`ip saddr ${formatIpv4(foothold.address)} oifname "${wan}" drop\` to ${rname}'s forward chain ` +
            `(least privilege: ${r.foothold} has no intent to reach the internet)`,
        );
      else
        fixes.push(
          `only an egress allow-list on ${rname} (or a web proxy) stops it: a stateful firewall accepts flows ` +
            `${r.foothold ?? "the host"} starts itself, by design`,
        );
      break;
    case "lateral-movement":
    case "rogue-device":
      fixes.push(hostFirewallFix(network, targetName));
      if (r.attack === "rogue-device") fixes.push("require 802.1X or a separate VLAN for devices you do not manage");
      else fixes.push(`put ${targetName} on its own VLAN so ${rname}'s forward chain sees and filters LAN traffic`);
      break;
    default:
      fixes.push(hostFirewallFix(network, targetName));
  }
  return fixes;
}

function whyNothingStopped(network: Network, r: AttackResult, layers: readonly ServiceLayers[]): string {
  if (OUTBOUND_RESIDUE.has(r.attack))
    return (
      r.note ??
      "the flow starts inside: a stateful firewall accepts it and its replies, and only an egress allow-list or a " +
        "proxy would stop it"
    );
  const service = layers.find((s) => s.service === r.target);
  const onPath = pathOf(r.steps)
    .filter((h) => h.rule !== null)
    .map((h) => `${h.node} (${h.rule ?? ""})`);
  const target = hostByName(network, targetNode(r));
  const noFw = target !== undefined && target.firewall === null ? `${target.name} has no host firewall` : null;
  const parts = [
    onPath.length > 0 ? `accepted by ${onPath.join(", ")}` : null,
    noFw,
    service === undefined
      ? null
      : `layers protecting ${r.target}: ${service.layers.length === 0 ? "none" : service.layers.join(" + ")}`,
  ].filter((x): x is string => x !== null);
  return parts.length > 0 ? parts.join("; ") : "no rule on the path dropped it";
}

// ---------------------------------------------------------------------------------------------------------------
// The audit.

export function audit(network: Network, opts: AuditOptions = {}): AuditReport {
  const seed = opts.seed ?? 1;
  const attacks = opts.attacks ?? defaultCatalogue;
  const planned = attacks.map((a) => ({ attack: a, planned: a.plan(network) }));
  const total = planned.reduce((n, p) => n + p.planned.plans.length, 0) + 2;
  let done = 0;
  const tick = (label: string): void => {
    done++;
    opts.onProgress?.({ done, total, label });
  };

  const services = countLayers(network, { seed });
  tick("layers");
  const intents = checkIntents(network, { seed });
  tick("intents");

  const findings: Finding[] = [];
  const checks: Check[] = [];
  const skipped: SkippedAttack[] = [];
  for (const { attack, planned: p } of planned) {
    if (p.plans.length === 0) skipped.push({ attack: attack.id, reason: p.notApplicable ?? "nothing to try" });
    for (const plan of p.plans) {
      const label = `${attack.id} ${plan.foothold ?? "internet"} -> ${plan.target.node}:${plan.target.port}/${plan.target.proto}`;
      // Traced from the start: the steps are recorded anyway, and a breach needs them for its path.
      const run = attack.run(network, plan, { seed, trace: true });
      if (!run.ok) {
        skipped.push({ attack: attack.id, reason: `${label}: ${run.error.message}` });
        tick(label);
        continue;
      }
      const r = run.result;
      if (r.outcome === "blocked") {
        checks.push({
          attack: r.attack,
          target: r.target,
          foothold: r.foothold,
          outcome: "blocked",
          stoppedBy: r.stoppedBy,
          evidence: r.evidence,
        });
        tick(label);
        continue;
      }
      const finding: Finding = {
        attack: r.attack,
        capability: r.capability,
        target: r.target,
        foothold: r.foothold,
        severity: severityOf(network, r, services),
        outcome: "breached",
        path: pathOf(r.steps),
        stoppedBy: null,
        why: whyNothingStopped(network, r, services),
        evidence: r.evidence,
        ...(r.note !== undefined ? { note: r.note } : {}),
        fixes: fixesFor(network, r),
      };
      findings.push(finding);
      tick(label);
    }
  }
  findings.sort((a, b) => severityRank(b.severity) - severityRank(a.severity));
  const counts = { low: 0, medium: 0, high: 0 };
  for (const f of findings) counts[f.severity]++;
  return { network: network.name, findings, checks, skipped, services, intents, counts };
}

/** True when some finding is at or above `threshold` (the `--fail-on` rule). */
export function failsAt(report: AuditReport, threshold: Severity): boolean {
  return report.findings.some((f) => severityRank(f.severity) >= severityRank(threshold));
}
