// The seed story (SCENARIOS.md "Questions the discussion asks, that `mallory demo` must answer with packets"): the
// discussion of ../shared/seed replayed as attacks of the catalogue on twins of seed-home, seed-home with a host
// firewall on U, and seed-home-hardened. The story only chooses which attack runs where and what to say about each
// possible outcome; every outcome, every cited rule and every intent verdict comes from the packets of a fresh twin.

import { findAttack, formatTarget } from "../attacks/index.js";
import type { Capability, Outcome, StopLayer, StoppedBy } from "../attacks/index.js";
import type { Firewall, Network } from "../model/index.js";
import { checkIntents } from "./intents.js";
import type { IntentCheck } from "./intents.js";

/** The networks the story runs on; `u-firewall` is derived from `home` (see withHostFirewall). */
export type DemoNetworkId = "home" | "u-firewall" | "hardened";

export interface DemoNetworks {
  /** examples/seed-home.yaml */
  readonly home: Network;
  /** examples/seed-home-hardened.yaml */
  readonly hardened: Network;
}

export interface DemoQuestion {
  readonly id: "public-ip" | "past-nat" | "second-line" | "least-privilege";
  /** The discussion's question, in its own words where it asked one. */
  readonly text: string;
}

export const QUESTIONS: readonly DemoQuestion[] = [
  { id: "public-ip", text: "With no ports forwarded, what good is my public IP to an attacker?" },
  { id: "past-nat", text: "NAT hides my private addresses: how could anyone get past it?" },
  {
    id: "second-line",
    text: "Is a host firewall a second line of defense, in case I run malware that forwards ports?",
  },
  { id: "least-privilege", text: "What do least privilege and defense in depth change?" },
];

/** What the story says about a step, for each outcome the packets may decide (only the decided one is told). */
interface Lesson {
  readonly breached: string;
  readonly blocked: string;
  /** Where the blocked line assumes the attack stops; a stop elsewhere is told plainly instead. */
  readonly stopAt?: { readonly node: string; readonly layer: StopLayer };
}

interface StepSpec {
  /** Stable step id (JSON consumers key on it), e.g. `spoofed-source-tcp`. */
  readonly id: string;
  readonly question: DemoQuestion["id"];
  readonly attack: string;
  readonly network: DemoNetworkId;
  readonly foothold: string | null;
  /** `node:port/proto`, one of the attack's own plans on that network. */
  readonly target: string;
  /** How the step is shown in one line, e.g. `forged SYN from S:22 (TCP)`. */
  readonly title: string;
  readonly lesson: Lesson;
}

const RESIDUE =
  "a stateful firewall accepts flows U starts itself and their replies, by design; only an egress allow-list or a " +
  "proxy would stop it. Keeping malware off U is the remaining defense.";

const STEPS: readonly StepSpec[] = [
  {
    id: "inbound-scan",
    question: "public-ip",
    attack: "inbound-scan",
    network: "home",
    foothold: null,
    target: "router:22/tcp",
    title: "SYN and UDP probes to the public address and the LAN addresses behind it",
    lesson: {
      blocked:
        "Nothing answers. It is the router's filter (policy drop) that stays silent, not NAT: with input accept " +
        "and no listener the router would answer RST.",
      stopAt: { node: "router", layer: "router filter" },
      breached: "Something answered from the internet: a port is exposed even though nothing was forwarded.",
    },
  },
  {
    id: "spoofed-source-tcp",
    question: "past-nat",
    attack: "spoofed-source",
    network: "home",
    foothold: "u",
    target: "s:22/tcp",
    title: "root code on U forges a SYN from S:22 to Mallory (the discussion's trick)",
    lesson: {
      breached:
        "Masquerade mapped S:22 to the public address and Mallory's SYN met it (simultaneous open) at S's outdated " +
        "SSH. It needs root on U and works about half the tries; a patient attacker retries.",
      blocked: "No try got Mallory's data to S's SSH.",
    },
  },
  {
    id: "spoofed-source-udp",
    question: "past-nat",
    attack: "spoofed-source",
    network: "home",
    foothold: "u",
    target: "s:161/udp",
    title: "the same trick over UDP, to S's SNMP",
    lesson: {
      breached:
        "Every time: the forged datagram made the mapping, Mallory's datagram came back in to S and S answered.",
      blocked: "The forged datagram made no mapping Mallory could use.",
    },
  },
  {
    id: "upnp-forward-self",
    question: "past-nat",
    attack: "upnp-forward-self",
    network: "home",
    foothold: "u",
    target: "u:4444/tcp",
    title: "unprivileged malware on U asks the router's UPnP IGD to forward WAN:4444 to itself",
    lesson: {
      breached: "No root needed: UPnP has no authentication, and secure mode allows a host to map its own address.",
      blocked: "The router did not open the port.",
    },
  },
  {
    id: "dns-rebinding",
    question: "past-nat",
    attack: "dns-rebinding",
    network: "home",
    foothold: "u",
    target: "s:8080/tcp",
    title: "U's user opens evil.example; the name then resolves to S, and the page reads S's web admin",
    lesson: {
      breached: "No malware at all: U's browser carried Mallory's requests to S and the answers back out.",
      blocked: "The page could not read S's web admin.",
    },
  },
  {
    id: "udp-hole-punch",
    question: "past-nat",
    attack: "udp-hole-punch",
    network: "home",
    foothold: "u",
    target: "u:41641/udp",
    title: "software on U learns its public mapping from Mallory's STUN server",
    lesson: {
      breached:
        "NAT traversal works by design (VoIP, games, screen sharing use it): Mallory's datagram from the address U " +
        "wrote to is the reply of U's own entry.",
      blocked: "Mallory's datagram did not get in through U's mapping.",
    },
  },
  {
    id: "upnp-forward-self-host-firewall",
    question: "second-line",
    attack: "upnp-forward-self",
    network: "u-firewall",
    foothold: "u",
    target: "u:4444/tcp",
    title: "the same UPnP malware, with the Arch Wiki's simple stateful firewall on U",
    lesson: {
      blocked:
        "Yes: the router opened WAN:4444, but U's own firewall dropped Mallory's connection. Malware with root could " +
        "open U's firewall too; unprivileged malware cannot.",
      stopAt: { node: "u", layer: "host firewall" },
      breached: "U's firewall did not stop Mallory's connection.",
    },
  },
  {
    id: "lateral-movement",
    question: "second-line",
    attack: "lateral-movement",
    network: "home",
    foothold: "u",
    target: "s:22/tcp",
    title: "code on U connects straight to S's SSH across the LAN",
    lesson: {
      breached: "The router never sees LAN-to-LAN traffic: only a firewall on S itself can refuse it, and S has none.",
      blocked: "S refused the connection.",
    },
  },
  {
    id: "c2-beacon",
    question: "second-line",
    attack: "c2-beacon",
    network: "home",
    foothold: "u",
    target: "mallory:443/tcp",
    title: "an implant on U polls Mallory's C2 server for commands",
    lesson: {
      breached: `Honestly: no firewall here stops this, host or router: ${RESIDUE}`,
      blocked: "The implant could not reach its C2 server.",
    },
  },
  {
    id: "spoofed-source-tcp",
    question: "least-privilege",
    attack: "spoofed-source",
    network: "hardened",
    foothold: "u",
    target: "s:22/tcp",
    title: "forged SYN from S:22",
    lesson: {
      blocked: "Least privilege: S never needs the internet, so the router drops it; no mapping is ever created.",
      stopAt: { node: "router", layer: "router filter" },
      breached: "The forged SYN still got Mallory to S's SSH.",
    },
  },
  {
    id: "spoofed-source-udp",
    question: "least-privilege",
    attack: "spoofed-source",
    network: "hardened",
    foothold: "u",
    target: "s:161/udp",
    title: "forged datagram from S:161",
    lesson: {
      blocked: "The same rule stops the UDP variant.",
      stopAt: { node: "router", layer: "router filter" },
      breached: "The forged datagram still opened a channel to S.",
    },
  },
  {
    id: "upnp-forward-self",
    question: "least-privilege",
    attack: "upnp-forward-self",
    network: "hardened",
    foothold: "u",
    target: "u:4444/tcp",
    title: "UPnP malware on U",
    lesson: {
      blocked: "UPnP off: nobody can ask the router for a hole.",
      stopAt: { node: "router", layer: "upnp" },
      breached: "The malware still got a port.",
    },
  },
  {
    id: "dns-rebinding",
    question: "least-privilege",
    attack: "dns-rebinding",
    network: "hardened",
    foothold: "u",
    target: "s:8080/tcp",
    title: "DNS rebinding to S's web admin",
    lesson: {
      blocked: "The resolver refuses public names that answer with private addresses.",
      stopAt: { node: "router", layer: "dns" },
      breached: "The page still read S's web admin.",
    },
  },
  {
    id: "lateral-movement",
    question: "least-privilege",
    attack: "lateral-movement",
    network: "hardened",
    foothold: "u",
    target: "s:22/tcp",
    title: "U to S's SSH across the LAN",
    lesson: {
      blocked: "Defense in depth: S's own firewall lets U reach only 5432 and 8080, the flows U needs.",
      stopAt: { node: "s", layer: "host firewall" },
      breached: "U still reached S's SSH.",
    },
  },
  {
    id: "c2-beacon-from-s",
    question: "least-privilege",
    attack: "c2-beacon",
    network: "hardened",
    foothold: "s",
    target: "mallory:443/tcp",
    title: "an implant on S polls Mallory",
    lesson: {
      blocked: "Least privilege again: even an implant on S cannot call home.",
      stopAt: { node: "router", layer: "router filter" },
      breached: "An implant on S still reaches its C2 server.",
    },
  },
  {
    id: "c2-beacon",
    question: "least-privilege",
    attack: "c2-beacon",
    network: "hardened",
    foothold: "u",
    target: "mallory:443/tcp",
    title: "an implant on U polls Mallory",
    lesson: { breached: `Residue, said honestly: ${RESIDUE}`, blocked: "Egress filtering stopped U's implant." },
  },
  {
    id: "udp-hole-punch",
    question: "least-privilege",
    attack: "udp-hole-punch",
    network: "hardened",
    foothold: "u",
    target: "u:41641/udp",
    title: "STUN hole punching from U",
    lesson: {
      breached:
        "Residue, said honestly: a capability of any code on U, not a misconfiguration; only dropping U's UDP to " +
        "unknown hosts would stop it.",
      blocked: "U's UDP to Mallory was filtered.",
    },
  },
];

/** U's host firewall in the `u-firewall` variant: the Arch Wiki's "simple stateful firewall", input side. */
export const U_FIREWALL = `table inet filter {
  chain input {
    type filter hook input priority filter; policy drop;
    ct state invalid drop
    ct state established,related accept
    iif "lo" accept
    meta l4proto { icmp, ipv6-icmp } accept
  }
}
`;

/** The source name rules of the variant's host firewall are cited by (it exists only in memory). */
export const U_FIREWALL_SOURCE = "demo:u-firewall.nft";

/** A copy of `network` where `host` runs `text` as its host firewall (cited as `source:line:column`). */
export function withHostFirewall(network: Network, host: string, text: string, source: string): Network {
  const firewall: Firewall = { kind: "inline", text, at: { file: source, line: 1, column: 1 }, lineExact: true };
  return {
    ...network,
    name: `${network.name} + ${host}'s firewall`,
    description: `${network.name} with a host firewall on ${host}`,
    hosts: network.hosts.map((h) => (h.name === host ? { ...h, firewall } : h)),
  };
}

export interface DemoNetworkInfo {
  readonly id: DemoNetworkId;
  readonly name: string;
  /** The YAML file, or `in memory, from NAME` for the variant. */
  readonly source: string;
  readonly description: string | null;
  /** For the in-memory variant: the host given a firewall, its ruleset, and the source its rules are cited by. */
  readonly hostFirewall?: { readonly host: string; readonly source: string; readonly text: string };
}

export interface DemoStep {
  readonly id: string;
  readonly question: string;
  readonly questionId: DemoQuestion["id"];
  readonly title: string;
  readonly attack: string;
  readonly capability: Capability;
  /** Network name (seed-home, seed-home + u's firewall, seed-home-hardened). */
  readonly network: string;
  readonly networkId: DemoNetworkId;
  readonly foothold: string | null;
  readonly target: string;
  readonly outcome: Outcome;
  readonly stoppedBy: StoppedBy | null;
  /** What arrived (or did not) that decided the outcome, from the attack. */
  readonly evidence: string;
  /** What the story says about the decided outcome (the honest reading of it, residue included). */
  readonly note: string;
  /** The attack's own caveats (what is modelled, how often it works); null when it has none. */
  readonly caveat: string | null;
  /** The same attack from the same foothold on seed-home, for the side-by-side of the last question. */
  readonly before: { readonly network: string; readonly outcome: Outcome } | null;
  /** Every packet walk of the deciding run, `node: src:sport > dst:dport — verdict`. */
  readonly packets: readonly string[];
}

export interface DemoIntent extends IntentCheck {
  readonly network: string;
}

export interface DemoStory {
  readonly demo: "seed";
  readonly networks: readonly DemoNetworkInfo[];
  readonly steps: readonly DemoStep[];
  /** The legitimate flows, checked with packets on seed-home and on seed-home-hardened. */
  readonly intents: readonly DemoIntent[];
}

export interface DemoError {
  readonly kind: "demo-step";
  readonly step: string;
  readonly message: string;
}

export type DemoRun =
  { readonly ok: true; readonly story: DemoStory } | { readonly ok: false; readonly error: DemoError };

export interface DemoOptions {
  /** Seed of every twin; the same seed tells the same story packet for packet. */
  readonly seed?: number;
}

interface Decided {
  readonly result: {
    readonly capability: Capability;
    readonly outcome: Outcome;
    readonly stoppedBy: StoppedBy | null;
    readonly evidence: string;
    readonly note?: string;
  };
  readonly packets: readonly string[];
}

function lessonFor(lesson: Lesson, outcome: Outcome, stoppedBy: StoppedBy | null): string {
  if (outcome === "breached") return lesson.breached;
  const want = lesson.stopAt;
  if (want === undefined || (stoppedBy !== null && stoppedBy.node === want.node && stoppedBy.layer === want.layer))
    return lesson.blocked;
  const where = stoppedBy === null ? "nothing the twin could name" : `${stoppedBy.layer} on ${stoppedBy.node}`;
  return `Blocked, but by ${where}, not by the ${want.layer} on ${want.node} the story expected.`;
}

/** Runs one attack plan, named by foothold and target, on one network. */
function runOne(
  network: Network,
  attackId: string,
  foothold: string | null,
  target: string,
  seed: number,
): { ok: true; decided: Decided } | { ok: false; message: string } {
  const attack = findAttack(attackId);
  if (attack === undefined) return { ok: false, message: `no attack ${attackId} in the catalogue` };
  const planned = attack.plan(network);
  const plan = planned.plans.find((p) => p.foothold === foothold && formatTarget(p.target) === target);
  if (plan === undefined)
    return {
      ok: false,
      message:
        `${attackId} has no plan ${foothold ?? "internet"} -> ${target} on ${network.name}` +
        (planned.notApplicable !== undefined ? ` (${planned.notApplicable})` : ""),
    };
  const run = attack.run(network, plan, { seed, trace: true });
  if (!run.ok) return { ok: false, message: run.error.message };
  const packets = run.result.steps.map((s) => `${s.node}: ${s.packet} — ${s.verdict}`);
  return { ok: true, decided: { result: run.result, packets } };
}

/** Tells the seed story on the given networks: every step on a fresh twin, then every intent. */
export function runDemo(networks: DemoNetworks, opts: DemoOptions = {}): DemoRun {
  const seed = opts.seed ?? 1;
  const byId: Readonly<Record<DemoNetworkId, Network>> = {
    home: networks.home,
    "u-firewall": withHostFirewall(networks.home, "u", U_FIREWALL, U_FIREWALL_SOURCE),
    hardened: networks.hardened,
  };
  // Runs are deterministic per (network, attack, plan, seed): the side-by-side reuses a step already told.
  const cache = new Map<string, Decided>();
  const decide = (
    net: DemoNetworkId,
    attack: string,
    foothold: string | null,
    target: string,
  ): { ok: true; decided: Decided } | { ok: false; message: string } => {
    const key = `${net}|${attack}|${foothold ?? ""}|${target}`;
    const hit = cache.get(key);
    if (hit !== undefined) return { ok: true, decided: hit };
    const r = runOne(byId[net], attack, foothold, target, seed);
    if (r.ok) cache.set(key, r.decided);
    return r;
  };

  const steps: DemoStep[] = [];
  for (const spec of STEPS) {
    const question = QUESTIONS.find((q) => q.id === spec.question)!;
    const r = decide(spec.network, spec.attack, spec.foothold, spec.target);
    if (!r.ok) return { ok: false, error: { kind: "demo-step", step: spec.id, message: r.message } };
    let before: DemoStep["before"] = null;
    if (spec.question === "least-privilege") {
      const b = decide("home", spec.attack, spec.foothold, spec.target);
      if (!b.ok) return { ok: false, error: { kind: "demo-step", step: spec.id, message: b.message } };
      before = { network: byId.home.name, outcome: b.decided.result.outcome };
    }
    const res = r.decided.result;
    steps.push({
      id: spec.id,
      question: question.text,
      questionId: question.id,
      title: spec.title,
      attack: spec.attack,
      capability: res.capability,
      network: byId[spec.network].name,
      networkId: spec.network,
      foothold: spec.foothold,
      target: spec.target,
      outcome: res.outcome,
      stoppedBy: res.stoppedBy,
      evidence: res.evidence,
      note: lessonFor(spec.lesson, res.outcome, res.stoppedBy),
      caveat: res.note ?? null,
      before,
      packets: r.decided.packets,
    });
  }

  const intents: DemoIntent[] = [];
  for (const net of [byId.home, byId.hardened])
    for (const check of checkIntents(net, { seed })) intents.push({ network: net.name, ...check });

  const info = (id: DemoNetworkId, source: string): DemoNetworkInfo => ({
    id,
    name: byId[id].name,
    source,
    description: byId[id].description,
  });
  return {
    ok: true,
    story: {
      demo: "seed",
      networks: [
        info("home", networks.home.source),
        {
          ...info("u-firewall", `in memory, from ${networks.home.name}`),
          hostFirewall: { host: "u", source: U_FIREWALL_SOURCE, text: U_FIREWALL },
        },
        info("hardened", networks.hardened.source),
      ],
      steps,
      intents,
    },
  };
}
