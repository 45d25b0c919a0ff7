// upnp-forward-other (SCENARIOS.md, SEMANTICS.md §5 and §6.6): malware on one LAN host asks the router's IGD to map
// a WAN port to *another* host's service (WAN:2222 → S:22). miniupnpd's secure_mode refuses a NewInternalClient
// other than the requester with 718 ConflictInMappingEntry; with it off (Debian's shipped configuration, no
// permission lines) the mapping is made and Mallory reaches the other host. Breached when the service's own first
// bytes (S's SSH banner) reach Mallory.

import type { Network } from "../model/index.js";
import type { Attack, AttackPlan, AttackRun, PlanResult, RunOptions } from "./attack.js";
import { userHosts } from "./actors/cast.js";
import { attackerOf, routerOfLan } from "./attack-run.js";
import { runUpnpMalware } from "./actors/upnp-malware.js";

export const ID = "upnp-forward-other";

/** The WAN port the malware asks for (the ground truth's WAN:2222 → S:22). */
export const EXTERNAL_PORT = 2222;

/** Sent once connected, so a service that waits for its client (HTTP, an echo) answers too; SSH speaks first. */
const CLIENT_HELLO = new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n");

function plan(network: Network): PlanResult {
  if (attackerOf(network) === null) return { plans: [], notApplicable: "no internet host is marked attacker" };
  const plans: AttackPlan[] = [];
  for (const f of userHosts(network)) {
    const router = routerOfLan(network, f.lan);
    for (const t of network.hosts) {
      if (t.name === f.name || routerOfLan(network, t.lan) !== router) continue;
      for (const s of t.services)
        if (s.proto === "tcp") plans.push({ foothold: f.name, target: { node: t.name, port: s.port, proto: "tcp" } });
    }
  }
  if (plans.length === 0)
    return { plans, notApplicable: "no other LAN host behind the same router runs a TCP service" };
  return { plans };
}

function run(network: Network, p: AttackPlan, opts: RunOptions): AttackRun {
  if (p.foothold === p.target.node)
    return {
      ok: false,
      error: { kind: "attack-setup", message: `${ID} maps a port to another host; use upnp-forward-self` },
    };
  return runUpnpMalware(network, p, opts, {
    attack: ID,
    capability: "user-code",
    externalPort: EXTERNAL_PORT,
    // The service is already there; whatever it says first is the proof.
    listen: () => () => false,
    judge: (received) => received.length > 0,
    probe: CLIENT_HELLO,
    meaning: `another host's service is exposed to the internet by a request that host never made`,
  });
}

export const upnpForwardOther: Attack = {
  id: ID,
  capability: "user-code",
  summary: "malware asks the router's UPnP IGD to forward a WAN port to another LAN host's service",
  plan,
  run,
};
