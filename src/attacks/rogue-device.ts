// rogue-device (SCENARIOS.md): the attacker plugs a device of their own into a LAN (a guest's laptop, a bought
// IoT gadget, a drop box). The twin gains a host with a free address on that segment and a default route via the
// router, exactly as DHCP would configure it, and the device connects to every service of the LAN's hosts. Nothing
// on the LAN trusts it, so only the hosts' own firewalls (or service bindings) can stop it.

import type { Lan, Network } from "../model/index.js";
import type { SimNode } from "../sim/index.js";
import type { Twin } from "../sim/twin.js";
import { formatIpv4 } from "../wire/address.js";
import type { Attack, AttackPlan, AttackRun, PlanResult, RunOptions } from "./attack.js";
import { formatTarget } from "./attack.js";
import { PROBE_WAIT_MS, describeAnswer, isOpen, probeStop, startProbe } from "./inbound-scan.js";
import { buildRunTwin, finishRun, routerOfLan, setupError } from "./attack-run.js";

export const ID = "rogue-device";
export const ROGUE_NAME = "rogue";
const ROGUE_INTERFACE = "eth0";
const IPV4_BITS = 32;

/** The highest address of the LAN that no router or host uses (where a DHCP pool usually ends), or null. */
export function freeAddress(network: Network, lan: Lan): number | null {
  const used = new Set<number>();
  for (const h of network.hosts) used.add(h.address);
  for (const r of network.routers) for (const l of r.lans) used.add(l.address);
  const size = 2 ** (IPV4_BITS - lan.prefix.len);
  // The first and last addresses are the network and broadcast addresses (RFC 919, RFC 950).
  for (let i = size - 2; i >= 1; i--) {
    const a = (lan.prefix.addr + i) >>> 0;
    if (!used.has(a)) return a;
  }
  return null;
}

/** A device plugged into a LAN segment of the twin, configured as DHCP would (address, default route). */
export function plugRogueDevice(twin: Twin, network: Network, lan: Lan): { node: SimNode; address: string } | string {
  const address = freeAddress(network, lan);
  if (address === null) return `no free address on ${lan.name}`;
  const router = routerOfLan(network, lan.name);
  const gateway = router?.lans.find((l) => l.lan === lan.name)?.address;
  const segment = twin.sim.segments.get(lan.name);
  if (segment === undefined) return `the twin has no segment ${lan.name}`;
  let name = ROGUE_NAME;
  for (let i = 2; twin.sim.node(name) !== undefined; i++) name = `${ROGUE_NAME}${i}`;
  const added = twin.sim.addHost(name, {
    interfaces: [{ name: ROGUE_INTERFACE, addresses: [`${formatIpv4(address)}/${lan.prefix.len}`] }],
    routes: gateway === undefined ? [] : [{ to: "default", via: formatIpv4(gateway) }],
  });
  if (!added.ok) return added.error.message;
  added.value.plug(added.value.datapath.interfaceIndex(ROGUE_INTERFACE), segment);
  return { node: added.value, address: formatIpv4(address) };
}

function plan(network: Network): PlanResult {
  const plans: AttackPlan[] = [];
  for (const t of network.hosts)
    for (const s of t.services) plans.push({ foothold: null, target: { node: t.name, port: s.port, proto: s.proto } });
  if (plans.length === 0) return { plans, notApplicable: "no LAN host runs a service" };
  return { plans };
}

function run(network: Network, p: AttackPlan, opts: RunOptions): AttackRun {
  const target = network.hosts.find((h) => h.name === p.target.node);
  if (target === undefined) return setupError(`no LAN host named ${p.target.node}`);
  const lan = network.lans.find((l) => l.name === target.lan);
  if (lan === undefined) return setupError(`no LAN named ${target.lan}`);
  const twin = buildRunTwin(network, opts);
  if (typeof twin === "string") return setupError(twin);
  const rogue = plugRogueDevice(twin, network, lan);
  if (typeof rogue === "string") return setupError(rogue);
  const probe = startProbe(rogue.node, formatIpv4(target.address), p.target.port, p.target.proto);
  twin.sim.run({ until: twin.sim.now + PROBE_WAIT_MS });
  const path = `a device plugged into ${lan.name} as ${rogue.address} → ${probe.address}:${probe.port}/${probe.proto}`;
  const base = { attack: ID, capability: "lan-device" as const, target: formatTarget(p.target), foothold: null };
  const details = { device: rogue.node.name, lan: lan.name, address: rogue.address, answer: probe.answer };
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
    stoppedBy: probeStop(twin, rogue.address, probe, target.name),
    evidence: `${path}: ${describeAnswer(probe)}`,
    details,
  });
}

export const rogueDevice: Attack = {
  id: ID,
  capability: "lan-device",
  summary: "an attacker's device plugged into the LAN connects to every LAN service; nothing on the LAN trusts it",
  plan,
  run,
};
