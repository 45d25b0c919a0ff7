// port-forward-exposure (SCENARIOS.md): every port forward (a DNAT rule on the router's WAN side) publishes a LAN
// service to the whole internet. Mallory, remote only, connects to each forwarded WAN port; a session (or a UDP
// answer) from the LAN service is a breach. The router's forward chain still decides whether the translated
// packet passes (fw4 accepts `ct status dnat`), so a forward can exist and yet be blocked.

import type { Network, PortForward, Router } from "../model/index.js";
import { addressWords } from "../sim/index.js";
import { formatIpv4 } from "../wire/address.js";
import type { Attack, AttackPlan, AttackRun, PlanResult, RunOptions } from "./attack.js";
import { formatTarget } from "./attack.js";
import { PROBE_WAIT_MS, describeAnswer, isOpen, probeStop, startProbe } from "./inbound-scan.js";
import { attackerEndpoint, buildRunTwin, finishRun, setupError } from "./attack-run.js";

export const ID = "port-forward-exposure";

function plan(network: Network): PlanResult {
  if (attackerEndpoint(network) === null) return { plans: [], notApplicable: "no internet host is marked attacker" };
  const plans: AttackPlan[] = [];
  for (const r of network.routers)
    for (const pf of r.portForwards)
      plans.push({ foothold: null, target: { node: pf.to, port: pf.toPort, proto: pf.proto } });
  if (plans.length === 0) return { plans, notApplicable: "no router forwards a port (nothing is exposed by DNAT)" };
  return { plans };
}

/** The forward that publishes a plan's target (the LAN service, or the router's WAN port). */
function forwardOf(network: Network, p: AttackPlan): { router: Router; forward: PortForward } | null {
  for (const router of network.routers)
    for (const forward of router.portForwards) {
      if (forward.proto !== p.target.proto) continue;
      const toService = forward.to === p.target.node && forward.toPort === p.target.port;
      const toWan = router.name === p.target.node && forward.port === p.target.port;
      if (toService || toWan) return { router, forward };
    }
  return null;
}

function run(network: Network, p: AttackPlan, opts: RunOptions): AttackRun {
  const m = attackerEndpoint(network);
  if (m === null) return setupError("no internet host is marked attacker");
  const found = forwardOf(network, p);
  if (found === null) return setupError(`no port forward publishes ${formatTarget(p.target)}`);
  const { router, forward } = found;
  const service = network.hosts.find((h) => h.name === forward.to);
  if (service === undefined) return setupError(`port forward to unknown host ${forward.to}`);
  const twin = buildRunTwin(network, opts);
  if (typeof twin === "string") return setupError(twin);
  const mallory = twin.node(m.name);
  const lanNode = twin.node(service.name);
  if (mallory === undefined || lanNode === undefined) return setupError("twin lacks a node");
  const wan = formatIpv4(router.wan.address);
  const probe = startProbe(mallory, wan, forward.port, forward.proto);
  twin.sim.run({ until: twin.sim.now + PROBE_WAIT_MS });

  const serviceAddress = formatIpv4(service.address);
  const serviceWords = addressWords(serviceAddress)?.words ?? new Uint32Array(4);
  const malloryWords = addressWords(m.address)?.words ?? new Uint32Array(4);
  const session = lanNode.stack.find(4, serviceWords, forward.toPort, malloryWords, probe.localPort);
  const bytesAtService = session?.bytesIn ?? 0;
  const target = formatTarget({ node: service.name, port: forward.toPort, proto: forward.proto });
  const path = `${m.name} → ${wan}:${forward.port}/${forward.proto} (forwarded to ${serviceAddress}:${forward.toPort})`;
  const base = { attack: ID, capability: "remote" as const, target, foothold: null };
  const details = {
    router: router.name,
    wanPort: forward.port,
    forward: `${forward.at.file}:${forward.at.line}:${forward.at.column}`,
    answer: probe.answer,
    bytesAtService,
  };
  if (isOpen(probe))
    return finishRun(twin, opts, {
      ...base,
      outcome: "breached",
      stoppedBy: null,
      evidence:
        `${path}: ${describeAnswer(probe)}` +
        (bytesAtService > 0 ? `; ${bytesAtService} bytes of Mallory's data reached ${service.name}'s service` : ""),
      details,
    });
  return finishRun(twin, opts, {
    ...base,
    outcome: "blocked",
    stoppedBy: probeStop(twin, m.address, probe, service.name),
    evidence: `${path}: ${describeAnswer(probe)}`,
    details,
  });
}

export const portForwardExposure: Attack = {
  id: ID,
  capability: "remote",
  summary: "Mallory reaches every LAN service a port forward (DNAT) publishes on the router's public address",
  plan,
  run,
};
