// upnp-forward-self (SCENARIOS.md, SEMANTICS.md §6.6): unprivileged malware on a LAN host listens on a high port
// and asks the router's IGD to map the same WAN port to itself; UPnP has no authentication and secure_mode allows
// a host to map to its own address, so Mallory connects from the internet straight to the malware. Breached when
// Mallory's connection reaches the malware's listener and its greeting comes back; stopped by UPnP off (no IGD
// answers the search) or by the host's own inbound firewall.

import type { Network } from "../model/index.js";
import type { TcpConnection } from "../sim/index.js";
import type { Attack, AttackPlan, AttackRun, PlanResult, RunOptions } from "./attack.js";
import type { Cast } from "./actors/cast.js";
import { userHosts } from "./actors/cast.js";
import { attackerOf } from "./attack-run.js";
import { runUpnpMalware } from "./actors/upnp-malware.js";

export const ID = "upnp-forward-self";

/** The malware's listening port and the WAN port it asks for (≥1024: no privilege needed). */
export const MALWARE_PORT = 4444;

const MALWARE_GREETING = new TextEncoder().encode("malware: shell ready\n");

function plan(network: Network): PlanResult {
  if (attackerOf(network) === null) return { plans: [], notApplicable: "no internet host is marked attacker" };
  const plans: AttackPlan[] = userHosts(network).map((h) => ({
    foothold: h.name,
    target: { node: h.name, port: MALWARE_PORT, proto: "tcp" },
  }));
  if (plans.length === 0) return { plans, notApplicable: "no LAN host behind a router runs a user's software" };
  return { plans };
}

/** The malware's listener: greets whoever connects and remembers who that was. */
function listen(cast: Cast, port: number): (malloryConn: TcpConnection | null) => boolean {
  const accepted: TcpConnection[] = [];
  cast.foothold.node.stack.listenTcp(port, {
    onEstablished: (c) => {
      accepted.push(c);
      c.send(MALWARE_GREETING);
    },
  });
  const mallory = cast.mallory.words[0];
  return () => accepted.some((c) => c.remote[0] === mallory);
}

function run(network: Network, p: AttackPlan, opts: RunOptions): AttackRun {
  if (p.foothold !== p.target.node)
    return {
      ok: false,
      error: { kind: "attack-setup", message: `${ID} maps a port to the foothold itself; use upnp-forward-other` },
    };
  return runUpnpMalware(network, p, opts, {
    attack: ID,
    capability: "user-code",
    externalPort: p.target.port,
    listen,
    judge: (received, reachedListener) =>
      reachedListener &&
      received.length >= MALWARE_GREETING.length &&
      MALWARE_GREETING.every((b, i) => received[i] === b),
    meaning: "the malware is reachable from the whole internet, NAT or not",
  });
}

export const upnpForwardSelf: Attack = {
  id: ID,
  capability: "user-code",
  summary: "malware asks the router's UPnP IGD to forward a WAN port to itself; Mallory connects in",
  plan,
  run,
};
