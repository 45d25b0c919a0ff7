// lateral-movement (SCENARIOS.md): unprivileged code on a LAN host connects straight to the services of the other
// LAN hosts. On one segment the router never sees these packets, so only the target's own firewall (or its
// service binding) can stop them. Flows the network declares as intents are legitimate and are not tried.

import type { Host, Network } from "../model/index.js";
import { formatIpv4 } from "../wire/address.js";
import type { Attack, AttackPlan, AttackRun, PlanResult, RunOptions } from "./attack.js";
import { formatTarget } from "./attack.js";
import { PROBE_WAIT_MS, describeAnswer, isIntent, isOpen, probeStop, startProbe } from "./inbound-scan.js";
import { buildRunTwin, finishRun, routerOfLan, setupError } from "./attack-run.js";

export const ID = "lateral-movement";

/** LAN hosts where a user runs software (the user-code foothold), workstations first. */
export function userFootholds(network: Network): Host[] {
  const users = network.hosts.filter((h) => h.role === "workstation" || h.browses);
  const rest = network.hosts.filter((h) => !users.includes(h));
  return [...users, ...rest];
}

function plan(network: Network): PlanResult {
  const plans: AttackPlan[] = [];
  for (const f of userFootholds(network)) {
    const router = routerOfLan(network, f.lan);
    for (const t of network.hosts) {
      if (t.name === f.name) continue;
      if (t.lan !== f.lan && (router === null || routerOfLan(network, t.lan) !== router)) continue;
      for (const s of t.services) {
        const target = { node: t.name, port: s.port, proto: s.proto };
        if (!isIntent(network, f.name, target)) plans.push({ foothold: f.name, target });
      }
    }
  }
  if (plans.length === 0)
    return { plans, notApplicable: "no LAN host runs a service that another LAN host is not meant to use" };
  return { plans };
}

function run(network: Network, p: AttackPlan, opts: RunOptions): AttackRun {
  if (p.foothold === null) return setupError("lateral-movement needs a foothold (a LAN host running user code)");
  const foothold = network.hosts.find((h) => h.name === p.foothold);
  if (foothold === undefined) return setupError(`no LAN host named ${p.foothold}`);
  const target = network.hosts.find((h) => h.name === p.target.node);
  if (target === undefined) return setupError(`no LAN host named ${p.target.node}`);
  const twin = buildRunTwin(network, opts);
  if (typeof twin === "string") return setupError(twin);
  const from = twin.node(foothold.name);
  if (from === undefined) return setupError("twin lacks the foothold");
  const fromAddress = formatIpv4(foothold.address);
  const probe = startProbe(from, formatIpv4(target.address), p.target.port, p.target.proto);
  twin.sim.run({ until: twin.sim.now + PROBE_WAIT_MS });
  const base = {
    attack: ID,
    capability: "user-code" as const,
    target: formatTarget(p.target),
    foothold: foothold.name,
  };
  const path = `${foothold.name} (${fromAddress}) → ${probe.address}:${probe.port}/${probe.proto}`;
  const details = { answer: probe.answer, bytesBack: probe.bytesBack, sameLan: foothold.lan === target.lan };
  if (isOpen(probe))
    return finishRun(twin, opts, {
      ...base,
      outcome: "breached",
      stoppedBy: null,
      evidence: `${path}: ${describeAnswer(probe)}`,
      details,
    });
  return finishRun(twin, opts, {
    ...base,
    outcome: "blocked",
    stoppedBy: probeStop(twin, fromAddress, probe, target.name),
    evidence: `${path}: ${describeAnswer(probe)}`,
    details,
  });
}

export const lateralMovement: Attack = {
  id: ID,
  capability: "user-code",
  summary: "code on a LAN host connects straight to the other LAN hosts' services; the router never sees it",
  plan,
  run,
};
