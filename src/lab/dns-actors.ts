// The kernel side of dns-rebinding (`lab verify`): the same steps as attacks/dns-rebinding.ts with real processes.
// Mallory's authoritative server is an actor (`dns-server`) in Mallory's namespace answering the attack's name first
// with Mallory's address, then with the target's, both with the simulator's TTL; the victim's browser is an actor
// (`rebind-browser`) on the foothold that asks the router's real dnsmasq (started by `lab up`, with
// `--stop-dns-rebind` when the model asks), loads the landing page from the first answer, waits past the TTL, asks
// again and connects to the second answer's port. Judged only from what arrived: breached when the resolver gave
// the private answer, the target's listener logged the connection from the foothold and the target answered HTTP
// (anything else is a network error to the page's script, as in the simulator's browser); blocked otherwise, naming
// dnsmasq when its log says it emptied an answer.
//
// Lab fact (measured on dnsmasq 2.90): stop-dns-rebind also empties answers in the documentation ranges, so the
// lab's Mallory (203.0.113.0/24) is "private" to it and the first answer is emptied too; the simulator treats those
// ranges as the public addresses they stand for. Both end blocked by the resolver; the details say which answers
// dnsmasq emptied.

import { readFileSync } from "node:fs";
import type { AttackPlan } from "../attacks/attack.js";
import { attackerEndpoint, attackerOf, routerOfLan } from "../attacks/attack-run.js";
import { REBIND_TTL_SECONDS } from "../attacks/actors/rebinding-web.js";
import type { Network } from "../model/index.js";
import { formatIpv4 } from "../wire/address.js";
import { EXFIL_REQUEST_LINE, isHttpResponse } from "./actor.js";
import type { ActorResult, DnsServerEvent, RebindVisit, ScriptedZones } from "./actor.js";
// Types only: verify.ts imports this module to register the actor.
import type { KernelAttack, KernelOutcome, RunningLab } from "./verify.js";

const ID = "dns-rebinding";
const DNS_PORT = 53;
/** The simulator's landing page port (attacks/actors/rebinding-web.ts LANDING_PORT): Mallory's web listener. */
const LANDING_PORT = 80;
/** As attacks/dns-rebinding.ts REBIND_WAIT_MS: the script asks again half a second past the TTL. */
const REBIND_WAIT_MS = REBIND_TTL_SECONDS * 1000 + 500;
/** dnsmasq's log line when stop-dns-rebind empties an answer (forward.c). */
export const DNSMASQ_REBIND_LINE = "possible DNS-rebind attack detected";

const notRunnable = (evidence: string): KernelOutcome => ({ outcome: "not-runnable", evidence });

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** The lines of dnsmasq's log after the first `skip` characters (what this run caused). */
function logSince(file: string, skip: number): string[] {
  try {
    return readFileSync(file, "utf8")
      .slice(skip)
      .split("\n")
      .filter((l) => l !== "");
  } catch {
    return [];
  }
}

function logLength(file: string): number {
  try {
    return readFileSync(file, "utf8").length;
  } catch {
    return 0;
  }
}

function hexText(hex: string | undefined): string {
  let s = "";
  for (let i = 0; hex !== undefined && i + 1 < hex.length; i += 2)
    s += String.fromCharCode(parseInt(hex.slice(i, i + 2), 16));
  return s;
}

function describeLookup(l: RebindVisit["first"] | null): string {
  if (l === null) return "not asked";
  if (l.rcode === null) return `no answer (${l.error ?? "timeout"})`;
  return l.addresses.length > 0 ? l.addresses.join(", ") : `no address (rcode ${l.rcode})`;
}

/** The attacker's domain, the one its authoritative server is scripted for. */
function domainOf(network: Network): string | null {
  return attackerOf(network)?.domains.at(0) ?? null;
}

async function runRebinding(lab: RunningLab, p: AttackPlan): Promise<KernelOutcome> {
  const network = lab.network;
  const m = attackerEndpoint(network);
  const domain = domainOf(network);
  const foothold = network.hosts.find((h) => h.name === p.foothold);
  const target = network.hosts.find((h) => h.name === p.target.node);
  if (m === null || domain === null || foothold === undefined || target === undefined)
    return notRunnable("dns-rebinding needs an attacker authoritative for a domain, a foothold and a LAN target");
  const router = routerOfLan(network, foothold.lan);
  const gateway = router?.lans.find((l) => l.lan === foothold.lan);
  if (router === null || gateway === undefined) return notRunnable(`no router serves ${foothold.name}'s LAN`);
  const dnsmasq = lab.state.processes.find((x) => x.what === "dnsmasq" && x.node === router.name);
  if (router.dns.resolver && dnsmasq === undefined)
    return notRunnable(`the lab runs no dnsmasq on ${router.name} (is dnsmasq installed?)`);
  // As the simulator: the LAN asks the router when it runs a resolver, else Mallory's server answers it directly.
  const resolver = dnsmasq !== undefined ? formatIpv4(gateway.address) : m.address;
  const victim = formatIpv4(target.address);
  const from = formatIpv4(foothold.address);
  const port = p.target.port;
  const zones: ScriptedZones = {
    [domain]: [
      { address: m.address, ttl: REBIND_TTL_SECONDS },
      { address: victim, ttl: REBIND_TTL_SECONDS },
    ],
  };

  const logSkip = dnsmasq === undefined ? 0 : logLength(dnsmasq.log);
  const since = new Date().toISOString();
  const server = await lab.startActor(m.name, ["dns-server", String(DNS_PORT), "--zones", JSON.stringify(zones)]);
  let visitResult: ActorResult;
  try {
    visitResult = await lab.actor(foothold.name, [
      "rebind-browser",
      resolver,
      domain,
      String(port),
      "--landing-port",
      String(LANDING_PORT),
      "--rebind-wait",
      String(REBIND_WAIT_MS),
    ]);
  } finally {
    await server.stop();
  }
  if (!visitResult.ok) return notRunnable(`the browser actor: ${visitResult.message}`);
  const visit = visitResult.value as RebindVisit;
  const queries = server.lines() as DnsServerEvent[];
  const dnsmasqLines = dnsmasq === undefined ? [] : logSince(dnsmasq.log, logSkip);
  const rebindLines = dnsmasqLines.filter((l) => l.includes(DNSMASQ_REBIND_LINE));
  const fresh = <T extends { time: string }>(events: T[]): T[] => events.filter((e) => e.time >= since);
  const arrived = fresh(lab.listenerLog(target.name)).filter(
    (e) => e.event === "accept" && e.peer === from && e.port === port,
  );
  const exfiltrated = fresh(lab.listenerLog(m.name)).filter(
    (e) => e.event === "data" && hexText(e.head).startsWith(EXFIL_REQUEST_LINE),
  );

  // Mallory's answers in order beside what the browser got: an address that left Mallory and never arrived was
  // emptied on the way (dnsmasq logs the name only).
  const lookups = [visit.first, visit.second];
  const emptied = queries.flatMap((q, i) =>
    q.addresses.length > 0 && lookups.at(i)?.rcode != null && lookups.at(i)?.addresses.length === 0 ? q.addresses : [],
  );
  const details = {
    resolver: dnsmasq === undefined ? `none: ${m.address} asked directly` : `dnsmasq on ${router.name} at ${resolver}`,
    rebindProtection: router.dns.rebindProtection,
    first: visit.first,
    second: visit.second,
    landing: visit.landing?.answer ?? null,
    rebound: visit.rebound === null ? null : { answer: visit.rebound.answer, bytesBack: visit.rebound.bytesBack },
    authoritativeQueries: queries.map((q) => `${q.peer} asked ${q.name} -> ${q.addresses.join(", ") || "nothing"}`),
    dnsmasqRebindLog: rebindLines,
    emptied,
    targetAccepts: arrived.length,
    exfiltratedToMallory: exfiltrated.length,
  };
  const steps =
    `${foothold.name} asked ${resolver} for ${domain}: ${describeLookup(visit.first)}; ` +
    `landing page ${visit.landing === null ? "not loaded" : visit.landing.answer === "session" ? "loaded" : `not loaded (${visit.landing.answer})`}; ` +
    `${REBIND_WAIT_MS} ms later: ${describeLookup(visit.second)}`;
  const privateAnswer = visit.second?.addresses.includes(victim) ?? false;
  const readable = visit.rebound?.firstReply != null && isHttpResponse(visit.rebound.firstReply);
  if (privateAnswer && arrived.length > 0 && readable)
    return {
      outcome: "breached",
      evidence:
        `${steps}; ${target.name}'s listener logged the connection from ${from} to :${port}` +
        (exfiltrated.length > 0 ? `, and the answer was posted to Mallory (${m.address}:${LANDING_PORT})` : ""),
      details,
    };
  const why =
    rebindLines.length > 0
      ? `dnsmasq on ${router.name} emptied ${emptied.length > 0 ? `the answers ${emptied.join(", ")}` : `${rebindLines.length} answer(s)`} ("${rebindLines[0].replace(/^.*dnsmasq\[\d+\]: /, "")}")`
      : visit.rebound === null
        ? "the page's script never reached the rebound address"
        : arrived.length > 0 && !readable
          ? `${target.name}:${port} took the connection but did not answer HTTP, so the browser gives the script a network error`
          : `the rebound connection to ${victim}:${port}: ${visit.rebound.answer}`;
  // verify.ts runs the next plan only after a blocked one: wait past the TTL, so that plan's first lookup is not
  // answered from dnsmasq's cache.
  await sleep(REBIND_WAIT_MS);
  return { outcome: "blocked", evidence: `${steps}; ${why}`, details };
}

const dnsRebindingKernel: KernelAttack = {
  id: ID,
  // Mallory's authoritative server is an actor process, so the listener must leave UDP 53 free.
  labNetwork(network) {
    const m = attackerOf(network);
    if (m === null) return network;
    return {
      ...network,
      internetHosts: network.internetHosts.map((h) =>
        h.name === m.name
          ? { ...h, services: h.services.filter((s) => !(s.proto === "udp" && s.port === DNS_PORT)) }
          : h,
      ),
    };
  },
  run: (lab, p) => runRebinding(lab, p),
};

/** Registered by verify.ts. */
export const DNS_KERNEL_ATTACKS: readonly KernelAttack[] = [dnsRebindingKernel];
