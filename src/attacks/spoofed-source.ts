// spoofed-source (SCENARIOS.md): root code on a LAN host forges packets from another LAN host's service to Mallory;
// the router's masquerade maps them, and Mallory's packets to the mapped WAN port are translated back to that
// service. UDP gives a two-way channel every time. TCP needs conntrack to accept Mallory's SYN in the reply
// direction (simultaneous open, nf_conntrack_proto_tcp.c sSS -> sS2), and the target's SYN-ACK then passes the
// window check only when its ISN is before the forged SYN's seq+1, so the attacker retries, trial by trial.

import { attackerEndpoint, finishRun, setupError } from "./attack-run.js";
import { SeededRng, TcpFlag } from "../engine/index.js";
import type { Ruleset } from "../engine/filter/index.js";
import { parseNftText } from "../config/nftables/index.js";
import type { Host, Network } from "../model/index.js";
import { addressWords } from "../sim/simulation.js";
import type { SimStep } from "../sim/node.js";
import type { TcpConnection } from "../sim/host-stack.js";
import { Twin, buildTwin } from "../sim/twin.js";
import { formatIpv4 } from "../wire/address.js";
import * as ipv4 from "../wire/ipv4.js";
import { buildTcpSegment, buildUdpDatagram } from "../sim/endpoint-packets.js";
import type { Attack, AttackPlan, AttackRun, PlanResult, RunOptions, StoppedBy } from "./attack.js";
import { formatTarget } from "./attack.js";

export const ID = "spoofed-source";

/** Mallory's UDP port the forged datagram is addressed to; the TCP variant's port (a web server's, SCENARIOS.md). */
export const MALLORY_UDP_PORT = 9999;
export const MALLORY_TCP_PORT = 80;
/** Independent tries of the TCP variant; each succeeds about half the time (the ISN rule). */
export const TCP_TRIALS = 8;

/** How long each phase runs, in simulated ms: the internet is 5 ms one way, so these leave room for round trips. */
const FORGE_SETTLE_MS = 50;
const EXCHANGE_MS = 500;
const FORGED_WINDOW = 64240;
const FORGED_MSS = 1460;
const TRIAL_SEED_STRIDE = 0x9e3779b1;

const encoder = new TextEncoder();
const FORGED_PAYLOAD = encoder.encode("mallory: forged from the LAN\n");
const MALLORY_REQUEST = encoder.encode("mallory: hello from the internet\n");

/** One TCP try: what was chosen and what the packets did. */
export interface TcpTrial {
  readonly seed: number;
  /** Sequence number of the forged SYN. */
  readonly forgedSeq: number;
  /** The target's initial sequence number in its SYN-ACK to Mallory (null if it never answered). */
  readonly targetIsn: number | null;
  /**
   * Whether the target's ISN lies before forgedSeq+1 (mod 2^32), SCENARIOS.md's summary of the kernel's window
   * rule; the outcome itself is decided by the router's conntrack (tcp_in_window), which has slack near the edge.
   */
  readonly isnBeforeForgedSeq: boolean | null;
  /** Mallory's connect() completed. */
  readonly established: boolean;
  /** Bytes of Mallory's data that reached the target application. */
  readonly bytesAtTarget: number;
  /** Bytes of the target's answers that reached Mallory's socket (the session works both ways). */
  readonly bytesAtMallory: number;
  /** A packet with the target's private source address left on the WAN link (NAT leak of INVALID). */
  readonly leakedUntranslated: boolean;
}

interface Actors {
  readonly foothold: Host;
  readonly target: Host;
  readonly mallory: string;
  readonly malloryAddress: string;
  readonly routerName: string;
  readonly wanAddress: string;
}

/** LAN hosts that run software a user installed (the root-code foothold), workstations first. */
function footholds(network: Network): Host[] {
  const users = network.hosts.filter((h) => h.role === "workstation" || h.browses);
  return users.length > 0 ? users : [...network.hosts];
}

function routerOfLan(network: Network, lan: string) {
  return network.routers.find((r) => r.lans.some((l) => l.lan === lan)) ?? null;
}

function plan(network: Network): PlanResult {
  if (attackerEndpoint(network) === null) return { plans: [], notApplicable: "no internet host is marked attacker" };
  const plans: AttackPlan[] = [];
  for (const f of footholds(network)) {
    const router = routerOfLan(network, f.lan);
    if (router === null) continue;
    for (const t of network.hosts) {
      if (t.name === f.name || routerOfLan(network, t.lan) !== router) continue;
      for (const s of t.services)
        plans.push({ foothold: f.name, target: { node: t.name, port: s.port, proto: s.proto } });
    }
  }
  if (plans.length === 0)
    return { plans, notApplicable: "no LAN host behind a router runs a service another LAN host could forge" };
  return { plans };
}

function resolve(network: Network, p: AttackPlan): Actors | string {
  const m = attackerEndpoint(network);
  if (m === null) return "no internet host is marked attacker";
  if (p.foothold === null) return "spoofed-source needs a foothold (a LAN host running root code)";
  const foothold = network.hosts.find((h) => h.name === p.foothold);
  if (foothold === undefined) return `no LAN host named ${p.foothold}`;
  const target = network.hosts.find((h) => h.name === p.target.node);
  if (target === undefined) return `no LAN host named ${p.target.node}`;
  const router = routerOfLan(network, target.lan);
  if (router === null) return `LAN ${target.lan} of ${target.name} has no router`;
  return {
    foothold,
    target,
    mallory: m.name,
    malloryAddress: m.address,
    routerName: router.name,
    wanAddress: formatIpv4(router.wan.address),
  };
}

const words = (text: string): Uint32Array => addressWords(text)?.words ?? new Uint32Array(4);

/** Sources of the packets that crossed a router's WAN link. */
function wanSources(twin: Twin, routerName: string): string[] {
  const seg = twin.sim.segments.get(Twin.wanSegment(routerName));
  if (seg === undefined) return [];
  return seg.captures.map((r) => {
    const p = ipv4.parse(r.bytes);
    return p.ok ? formatIpv4(p.value.src) : "";
  });
}

/** Who stopped it: the forged packets first (the egress rule), then Mallory's packets toward the target. */
function findStop(twin: Twin, a: Actors, port: number): StoppedBy | null {
  const targetAddr = formatIpv4(a.target.address);
  return (
    twin.stoppedByFromSteps({ src: targetAddr, sport: port }) ??
    twin.stoppedByFromSteps(
      (s: SimStep) =>
        s.packet.startsWith(`${a.malloryAddress}:`) &&
        (s.packet.endsWith(` > ${targetAddr}:${port}`) || s.packet.endsWith(` > ${a.wanAddress}:${port}`)),
    )
  );
}

// ---------------------------------------------------------------------------------------------------------------
// UDP: forge target:port -> Mallory:9999; Mallory answers to WAN:mapped; the target's service replies.

export function runUdp(network: Network, p: AttackPlan, opts: RunOptions): AttackRun {
  const a = resolve(network, p);
  if (typeof a === "string") return setupError(a);
  const built = buildTwin(network, { seed: opts.seed });
  if (!built.ok)
    return setupError(built.diagnostics.map((d) => `${d.file}:${d.line}:${d.column}: ${d.message}`).join("\n"));
  const twin = built.twin;
  const targetAddr = formatIpv4(a.target.address);
  const port = p.target.port;
  const mallory = twin.node(a.mallory);
  const foothold = twin.node(a.foothold.name);
  const target = twin.node(a.target.name);
  if (mallory === undefined || foothold === undefined || target === undefined) return setupError("twin lacks a node");

  // Assigned inside the socket callback, so its type must stay wide.
  let mapped = null as string | null;
  const atMallory: Uint8Array[] = [];
  mallory.stack.bindUdp(MALLORY_UDP_PORT, (d) => {
    atMallory.push(d.payload.slice());
    if (atMallory.length > 1) return null;
    mapped = `${formatIpv4(d.src[0])}:${d.sport}`;
    return MALLORY_REQUEST;
  });
  let bytesAtTarget = 0;
  const malloryWords = words(a.malloryAddress);
  target.stack.sniff = (bytes) => {
    const ip = ipv4.parse(bytes);
    if (!ip.ok || ip.value.src !== malloryWords[0] || ip.value.protocol !== UDP_PROTOCOL) return;
    const l4 = ip.value.payload;
    if (((l4[2] << 8) | l4[3]) === port) bytesAtTarget += l4.length - UDP_HEADER_LEN;
  };
  foothold.stack.rawSend(buildUdpDatagram(4, words(targetAddr), malloryWords, port, MALLORY_UDP_PORT, FORGED_PAYLOAD));
  twin.sim.run({ until: EXCHANGE_MS });

  const replyBack = atMallory.length > 1;
  const breached = bytesAtTarget > 0 && replyBack;
  const target_ = formatTarget(p.target);
  const base = { attack: ID, capability: "root-code" as const, target: target_, foothold: a.foothold.name };
  if (breached)
    return finishRun(twin, opts, {
      ...base,
      outcome: "breached",
      stoppedBy: null,
      evidence:
        `${a.foothold.name} forged ${targetAddr}:${port} -> ${a.malloryAddress}:${MALLORY_UDP_PORT}; the router mapped it ` +
        `to ${mapped ?? "?"}; Mallory's ${MALLORY_REQUEST.length}-byte datagram to that port reached ${target_} and its ` +
        `${atMallory[1].length}-byte reply reached Mallory: a two-way channel`,
      details: { variant: "udp", mapped, bytesAtTarget, replyBytes: atMallory[1].length },
    });
  const stoppedBy = findStop(twin, a, port);
  const what =
    atMallory.length === 0
      ? "the forged datagram never reached Mallory (no mapping was created)"
      : bytesAtTarget === 0
        ? `Mallory's datagram to ${mapped ?? "the mapped port"} never reached ${target_}`
        : `${target_} got Mallory's datagram but its reply never came back`;
  return finishRun(twin, opts, {
    ...base,
    outcome: "blocked",
    stoppedBy,
    evidence: what,
    details: { variant: "udp", mapped, bytesAtTarget },
  });
}

const UDP_PROTOCOL = 17;
const UDP_HEADER_LEN = 8;

// ---------------------------------------------------------------------------------------------------------------
// TCP: forged SYN target:port -> Mallory:80, then Mallory's SYN from port 80 to WAN:port (simultaneous open).

/** Mallory's own filter drops the forged SYN at its port 80, so its kernel does not answer it (RST / SYN-ACK). */
function malloryFilter(wanAddress: string, port: number): Ruleset | null {
  const text = [
    "table inet mallory_attacker {",
    "  chain input {",
    "    type filter hook input priority filter; policy accept;",
    `    ct state new ip saddr ${wanAddress} tcp sport ${port} tcp dport ${MALLORY_TCP_PORT} drop`,
    "  }",
    "}",
  ].join("\n");
  return parseNftText(text, { source: "mallory-attacker.nft" }).ruleset;
}

/** a before b in sequence space (RFC 9293 §3.4: comparisons mod 2^32). */
const seqBefore = (a: number, b: number): boolean => ((a - b) | 0) < 0;

export interface TcpTrialOptions {
  readonly seed: number;
  readonly forgedSeq: number;
  /** Pin the target's ISN (tests); default drawn from the trial's generator. */
  readonly targetIsn?: number;
}

/** One try of the TCP variant on a fresh twin. */
export function runTcpTrial(
  network: Network,
  p: AttackPlan,
  o: TcpTrialOptions,
): { ok: true; trial: TcpTrial; twin: Twin; actors: Actors } | { ok: false; error: string } {
  const a = resolve(network, p);
  if (typeof a === "string") return { ok: false, error: a };
  const port = p.target.port;
  const filter = malloryFilter(a.wanAddress, port);
  if (filter === null) return { ok: false, error: "attacker filter does not parse" };
  let targetIsn: number | null = null;
  const isnRng = new SeededRng((o.seed ^ TRIAL_SEED_STRIDE) >>> 0);
  const built = buildTwin(network, {
    seed: o.seed,
    isn: {
      [a.target.name]: (_c: TcpConnection) => {
        const v = o.targetIsn ?? isnRng.nextU32();
        targetIsn = v >>> 0;
        return v;
      },
    },
    extraRulesets: { [a.mallory]: filter },
  });
  if (!built.ok)
    return {
      ok: false,
      error: built.diagnostics.map((d) => `${d.file}:${d.line}:${d.column}: ${d.message}`).join("\n"),
    };
  const twin = built.twin;
  const targetAddr = formatIpv4(a.target.address);
  const mallory = twin.node(a.mallory);
  const foothold = twin.node(a.foothold.name);
  const target = twin.node(a.target.name);
  if (mallory === undefined || foothold === undefined || target === undefined)
    return { ok: false, error: "twin lacks a node" };

  foothold.stack.rawSend(
    buildTcpSegment({
      family: 4,
      src: words(targetAddr),
      dst: words(a.malloryAddress),
      sport: port,
      dport: MALLORY_TCP_PORT,
      seq: o.forgedSeq,
      ack: 0,
      flags: TcpFlag.SYN,
      window: FORGED_WINDOW,
      mss: FORGED_MSS,
      ident: 0,
      payload: null,
    }),
  );
  twin.sim.run({ until: twin.sim.now + FORGE_SETTLE_MS });
  let established = false;
  let bytesAtMallory = 0;
  mallory.stack.connect(4, words(a.wanAddress), port, {
    sport: MALLORY_TCP_PORT,
    synRetries: 0,
    onEstablished: (c) => {
      established = true;
      c.send(MALLORY_REQUEST);
    },
    onData: (_c, data) => {
      bytesAtMallory += data.length;
    },
  });
  twin.sim.run({ until: twin.sim.now + EXCHANGE_MS });
  const conn = target.stack.find(4, words(targetAddr), port, words(a.malloryAddress), MALLORY_TCP_PORT);
  const isn = targetIsn as number | null;
  return {
    ok: true,
    twin,
    actors: a,
    trial: {
      seed: o.seed,
      forgedSeq: o.forgedSeq >>> 0,
      targetIsn: isn,
      isnBeforeForgedSeq: isn === null ? null : seqBefore(isn, (o.forgedSeq + 1) >>> 0),
      established,
      bytesAtTarget: conn?.bytesIn ?? 0,
      bytesAtMallory,
      leakedUntranslated: wanSources(twin, a.routerName).includes(targetAddr),
    },
  };
}

export function runTcp(network: Network, p: AttackPlan, opts: RunOptions): AttackRun {
  const trials: TcpTrial[] = [];
  const seqRng = new SeededRng(opts.seed >>> 0);
  let last: { twin: Twin; actors: Actors } | null = null;
  let win: { twin: Twin; trial: TcpTrial } | null = null;
  for (let i = 0; i < TCP_TRIALS && win === null; i++) {
    const seed = (opts.seed + Math.imul(i, TRIAL_SEED_STRIDE)) >>> 0;
    const r = runTcpTrial(network, p, { seed, forgedSeq: seqRng.nextU32() });
    if (!r.ok) return setupError(r.error);
    trials.push(r.trial);
    last = r;
    if (r.trial.bytesAtTarget > 0) win = { twin: r.twin, trial: r.trial };
  }
  if (last === null) return setupError("no trial ran");
  const a = last.actors;
  const target = formatTarget(p.target);
  const base = { attack: ID, capability: "root-code" as const, target, foothold: a.foothold.name };
  const details = { variant: "tcp", trials };
  const note =
    "the target's SYN-ACK passes conntrack only when its ISN is before the forged SYN's seq+1 (about half of all " +
    "tries); a patient attacker retries. The target's later packets are INVALID at the router and leave untranslated.";
  if (win !== null) {
    const t = win.trial;
    return finishRun(win.twin, opts, {
      ...base,
      outcome: "breached",
      stoppedBy: null,
      evidence:
        `trial ${trials.length} of ${TCP_TRIALS}: ${a.foothold.name} forged a SYN ${formatIpv4(a.target.address)}:${p.target.port} ` +
        `-> ${a.malloryAddress}:${MALLORY_TCP_PORT}; Mallory's SYN from port ${MALLORY_TCP_PORT} to ${a.wanAddress}:${p.target.port} ` +
        `opened a session (simultaneous open) and ${t.bytesAtTarget} bytes of its data reached ${target}` +
        (t.leakedUntranslated ? "; the target's packets leaked onto the WAN untranslated" : ""),
      note,
      details,
    });
  }
  const stoppedBy = findStop(last.twin, a, p.target.port);
  return finishRun(last.twin, opts, {
    ...base,
    outcome: "blocked",
    stoppedBy,
    evidence: `none of ${TCP_TRIALS} tries got Mallory's data to ${target}`,
    note,
    details,
  });
}

function run(network: Network, p: AttackPlan, opts: RunOptions): AttackRun {
  return p.target.proto === "udp" ? runUdp(network, p, opts) : runTcp(network, p, opts);
}

export const spoofedSource: Attack = {
  id: ID,
  capability: "root-code",
  summary: "root code on a LAN host forges another host's address; NAT maps it and lets Mallory in to that host",
  plan,
  run,
};
