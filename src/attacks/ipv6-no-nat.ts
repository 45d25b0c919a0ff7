// ipv6-no-nat (SCENARIOS.md): with global IPv6 addresses on the LAN there is no translation at all, so whatever
// "NAT protection" the IPv4 side seemed to give is gone: Mallory sends straight to a LAN host's own address and
// only the router's IPv6 forward filter (RFC 6092 §3.2: drop unsolicited inbound) or the host's firewall stands
// in the way. The twin's internet side is IPv4 only, so the run gives it the IPv6 an ISP would: addresses on the
// ISP's links and Mallory, a default route on the router, and a route for the LAN's /64 via the router.

import type { Family } from "../engine/index.js";
import type { Host, Network, Router } from "../model/index.js";
import { addressWords } from "../sim/index.js";
import type { Twin } from "../sim/twin.js";
import { formatIpv6 } from "../wire/address.js";
import type { Attack, AttackPlan, AttackRun, PlanResult, RunOptions } from "./attack.js";
import { formatTarget } from "./attack.js";
import { PROBE_WAIT_MS, describeAnswer, isOpen, probeStop, startProbe } from "./inbound-scan.js";
import { attackerEndpoint, buildRunTwin, finishRun, routerOfLan, setupError } from "./attack-run.js";

export const ID = "ipv6-no-nat";

/** Documentation prefixes (RFC 3849) for the internet side: the shared segment, and one link per customer. */
const INTERNET_V6_PREFIX = "2001:db8:ffff::";
const CUSTOMER_V6_PREFIX = "2001:db8:fffe:";
/** Mallory's interface identifier when the model gives it no IPv6 address (its IPv4 address ends in .66 too). */
const ATTACKER_V6_HOST = "66";
const V6_SUBNET_LEN = 64;
const V6_HOST_LEN = 128;
/** The port tried on a host that runs no service: a RST back still proves the packet got through. */
const PROBE_PORT_WITHOUT_SERVICE = 22;
const IPV6: Family = 6;

/** A LAN host's global IPv6 address behind a router with IPv6 on that LAN, as text; null otherwise. */
/** A traced NDP solicitation or advertisement (`… icmp type 135|136 …`). */
const NDP_STEP = / icmp type 13[56] /;

function globalAddress(network: Network, h: Host): string | null {
  if (h.ipv6 === null) return null;
  const router = routerOfLan(network, h.lan);
  const rl = router?.lans.find((l) => l.lan === h.lan);
  if (rl?.ipv6 === null || rl === undefined) return null;
  return formatIpv6(h.ipv6);
}

function plan(network: Network): PlanResult {
  if (attackerEndpoint(network) === null) return { plans: [], notApplicable: "no internet host is marked attacker" };
  const plans: AttackPlan[] = [];
  for (const h of network.hosts) {
    if (globalAddress(network, h) === null) continue;
    if (h.services.length === 0)
      plans.push({ foothold: null, target: { node: h.name, port: PROBE_PORT_WITHOUT_SERVICE, proto: "tcp" } });
    for (const s of h.services) plans.push({ foothold: null, target: { node: h.name, port: s.port, proto: s.proto } });
  }
  if (plans.length === 0) return { plans, notApplicable: "no LAN host has a global IPv6 address" };
  return { plans };
}

function words(text: string): Uint32Array {
  return addressWords(text)?.words ?? new Uint32Array(4);
}

/**
 * Gives the twin's internet IPv6: `attacker` on the shared segment with the ISP, the router's WAN link numbered,
 * the router's default route via the ISP and the ISP's route for the router's LAN prefixes. Returns the
 * attacker's IPv6 address, or a reason.
 */
export function connectIpv6Internet(twin: Twin, network: Network, router: Router, attacker: string): string | null {
  const isp = twin.node("isp");
  const m = twin.node(attacker);
  const r = twin.node(router.name);
  const index = network.routers.indexOf(router);
  if (isp === undefined || m === undefined || r === undefined || index < 0) return null;
  const model = network.internetHosts.find((h) => h.name === attacker);
  const mallory = model?.ipv6 != null ? formatIpv6(model.ipv6) : `${INTERNET_V6_PREFIX}${ATTACKER_V6_HOST}`;
  const ispShared = `${INTERNET_V6_PREFIX}1`;
  const ispLink = `${CUSTOMER_V6_PREFIX}${index.toString(16)}::1`;
  const routerLink = `${CUSTOMER_V6_PREFIX}${index.toString(16)}::2`;
  const ispInternet = isp.datapath.interfaceIndex("internet");
  const ispCustomer = isp.datapath.interfaceIndex(`cust${index}`);
  const malloryIf = m.datapath.interfaceIndex("eth0");
  const routerWan = r.datapath.interfaceIndex(router.wan.interface);
  if (ispInternet < 0 || ispCustomer < 0 || malloryIf < 0 || routerWan < 0) return null;
  const steps = [
    isp.datapath.fib.addAddress(ispInternet, IPV6, words(ispShared), V6_SUBNET_LEN),
    isp.datapath.fib.addAddress(ispCustomer, IPV6, words(ispLink), V6_SUBNET_LEN),
    m.datapath.fib.addAddress(malloryIf, IPV6, words(mallory), model?.ipv6 != null ? V6_HOST_LEN : V6_SUBNET_LEN),
    m.datapath.fib.addRoute({
      family: IPV6,
      prefix: new Uint32Array(4),
      prefixLength: 0,
      oif: malloryIf,
      gateway: words(ispShared),
    }),
    r.datapath.fib.addAddress(routerWan, IPV6, words(routerLink), V6_SUBNET_LEN),
    r.datapath.fib.addRoute({
      family: IPV6,
      prefix: new Uint32Array(4),
      prefixLength: 0,
      oif: routerWan,
      gateway: words(ispLink),
    }),
  ];
  if (model?.ipv6 != null)
    steps.push(
      isp.datapath.fib.addRoute({
        family: IPV6,
        prefix: words(mallory),
        prefixLength: V6_HOST_LEN,
        oif: ispInternet,
        gateway: null,
      }),
    );
  for (const rl of router.lans) {
    const lan = network.lans.find((l) => l.name === rl.lan);
    if (lan?.ipv6 == null) continue;
    steps.push(
      isp.datapath.fib.addRoute({
        family: IPV6,
        prefix: words(formatIpv6(lan.ipv6.addr)),
        prefixLength: lan.ipv6.len,
        oif: ispCustomer,
        gateway: words(routerLink),
      }),
    );
  }
  return steps.every((s) => s.ok || s.reason === "exists") ? mallory : null;
}

function run(network: Network, p: AttackPlan, opts: RunOptions): AttackRun {
  const m = attackerEndpoint(network);
  if (m === null) return setupError("no internet host is marked attacker");
  const host = network.hosts.find((h) => h.name === p.target.node);
  if (host === undefined) return setupError(`no LAN host named ${p.target.node}`);
  const address = globalAddress(network, host);
  const router = routerOfLan(network, host.lan);
  if (address === null || router === null) return setupError(`${host.name} has no global IPv6 address behind a router`);
  const twin = buildRunTwin(network, opts);
  if (typeof twin === "string") return setupError(twin);
  const mallory = twin.node(m.name);
  if (mallory === undefined) return setupError("twin lacks the attacker");
  const malloryV6 = connectIpv6Internet(twin, network, router, m.name);
  if (malloryV6 === null) return setupError("the twin's internet could not be given IPv6");
  const probe = startProbe(mallory, address, p.target.port, p.target.proto);
  twin.sim.run({ until: twin.sim.now + PROBE_WAIT_MS });
  const path = `${m.name} (${malloryV6}) → [${address}]:${probe.port}/${probe.proto}, no translation on the way`;
  const base = { attack: ID, capability: "remote" as const, target: formatTarget(p.target), foothold: null };
  const details = { family: 6, address, malloryAddress: malloryV6, answer: probe.answer };
  if (isOpen(probe))
    return finishRun(twin, opts, {
      ...base,
      outcome: "breached",
      stoppedBy: null,
      evidence: `${path}: ${describeAnswer(probe)}`,
      details,
    });
  // Before any packet of the flow, a filter may already have refused IPv6 neighbour discovery on the way (NDP is
  // untracked, so `ct state established,related` does not let it in): then that drop is what stopped Mallory.
  const stoppedBy =
    probeStop(twin, malloryV6, probe, host.name) ?? twin.stoppedByFromSteps((s) => NDP_STEP.test(s.packet));
  const reached = probe.answer === "reset" || probe.answer === "unreachable";
  return finishRun(twin, opts, {
    ...base,
    outcome: "blocked",
    stoppedBy,
    evidence: `${path}: ${describeAnswer(probe)}`,
    ...(reached
      ? {
          note:
            `${host.name} answered from the internet: the router lets unsolicited IPv6 through, so any service ` +
            `${host.name} opens is exposed; only its own firewall would stop Mallory`,
        }
      : {}),
    details,
  });
}

export const ipv6NoNat: Attack = {
  id: ID,
  capability: "remote",
  summary: "Mallory sends straight to LAN hosts' global IPv6 addresses: no NAT, only the forward filter stands between",
  plan,
  run,
};
