// The seed discussion's questions answered with packets on the real engine (SCENARIOS.md "Questions the
// discussion asks"). Packets are carried between the nodes by hand: Mallory's enter the router on "wan", what the
// router transmits on "lan" toward S enters S on "eth0", U's packets enter the router on "lan" (or S directly when
// addressed to it). Nothing here decides an outcome: each step is judged from what arrived where, and a block is
// attributed to the rule or policy the datapath reported in its Disposition.

import type { Datapath, DatapathEvent, DatapathSink, Disposition } from "../engine/datapath.js";
import { describeEndpoints } from "../engine/datapath.js";
import type { Cause, Origin, Ruleset } from "../engine/filter/index.js";
import { fillPacketMeta } from "../engine/packet-parse.js";
import { PacketMeta, Proto } from "../engine/packet-meta.js";
import { SeededRng } from "../engine/rng.js";
import * as ipv4 from "../wire/ipv4.js";
import * as tcp from "../wire/tcp.js";
import { TcpFlags } from "../wire/tcp.js";
import * as udp from "../wire/udp.js";
import {
  HostSIf,
  RouterIf,
  SeedAddr,
  createHostS,
  createRouter,
  rulesetLine,
  type SeedNetworkName,
} from "./seed-nodes.js";

export type SeedStepId =
  "inbound-scan" | "spoofed-source-udp" | "spoofed-source-tcp" | "lateral-movement" | "c2-beacon" | "intents";
export type SeedAttackId = "inbound-scan" | "spoofed-source" | "lateral-movement" | "c2-beacon" | "intents";

/** "breached": the attack got what it wanted; "blocked": it did not; "allowed": a legitimate flow works. */
export type SeedOutcome = "breached" | "blocked" | "allowed";

export type SeedNode = "Mallory" | "U" | "router" | "S";

export interface StoppedBy {
  readonly node: "router" | "S";
  readonly layer: "router filter" | "host firewall";
  /** `file:line` of the rule, or of the chain's policy line. */
  readonly rule: string;
  /** That line of the ruleset text. */
  readonly text: string;
}

/** One packet as one node saw it, and what that node did with it. */
export interface PacketHop {
  readonly node: SeedNode;
  /** tcpdump-like one-liner of the packet as it arrived at `node`. */
  readonly packet: string;
  readonly verdict: string;
  /** The rule or policy that dropped it, when one did. */
  readonly droppedBy: StoppedBy | null;
}

export interface SeedStep {
  readonly id: SeedStepId;
  readonly attack: SeedAttackId;
  readonly network: SeedNetworkName;
  readonly capability: "remote" | "root-code" | "user-code" | "intent";
  readonly question: string;
  /** What the attacker (or the user) did, in one sentence. */
  readonly action: string;
  readonly outcome: SeedOutcome;
  /** The first rule or policy that dropped one of the step's packets, when the outcome is not a success. */
  readonly stoppedBy: StoppedBy | null;
  /** Facts worth showing, observed from the packets (e.g. the NAT mapping the router built). */
  readonly notes: readonly string[];
  readonly packets: readonly PacketHop[];
}

export interface SeedStory {
  readonly demo: "seed";
  readonly steps: readonly SeedStep[];
  /** Scenarios of the discussion that need the simulator's services (UPnP IGD, DNS resolver). */
  readonly comingWithSimulator: readonly string[];
}

export interface SeedStoryOptions {
  /** Replace a node's ruleset on one network (tests: show that a rule, not the story, decides). */
  readonly rulesets?: Partial<Record<SeedNetworkName, { readonly router?: Ruleset; readonly s?: Ruleset }>>;
  readonly seed?: number;
}

const DEFAULT_SEED = 0x5eed;
const TTL = 64;
const MALLORY_SCAN_PORT = 40000;
const U_EPHEMERAL_PORT = 51000;

export const Port = {
  SSH: 22,
  HTTP: 80,
  HTTPS: 443,
  SNMP: 161,
  POSTGRES: 5432,
  WEB_ADMIN: 8080,
  C2_REPLY: 9999,
} as const;

const Question = {
  publicIp: "With no ports forwarded, what good is my public IP to an attacker?",
  pastNat: "How could anyone get past NAT?",
  hostFirewall: "Is a host firewall a second line in case malware gets onto the LAN?",
  c2: "Does NAT stop malware on U from taking orders from outside?",
  leastPrivilege: "What do least privilege and defense in depth cost the legitimate users?",
} as const;

// ---------------------------------------------------------------------------------------------------------------
// Packets.

let ident = 0;

function ipPacket(protocol: number, src: number, dst: number, payload: Uint8Array): Uint8Array {
  ident = (ident + 1) & 0xffff;
  return ipv4.emit({
    dscp: 0,
    ecn: 0,
    ident,
    reservedFlag: false,
    dontFragment: true,
    moreFragments: false,
    fragmentOffset: 0,
    ttl: TTL,
    protocol,
    checksum: 0,
    src,
    dst,
    options: new Uint8Array(0),
    payload,
  });
}

interface Segment {
  readonly src: number;
  readonly sport: number;
  readonly dst: number;
  readonly dport: number;
  readonly flags: number;
  readonly seq: number;
  readonly ack: number;
  readonly payload?: Uint8Array;
}

function tcpPacket(s: Segment): Uint8Array {
  const segment = tcp.emit(
    {
      srcPort: s.sport,
      dstPort: s.dport,
      seq: s.seq >>> 0,
      ack: s.ack >>> 0,
      flags: s.flags,
      window: 64240,
      checksum: 0,
      urgent: 0,
      options: [],
      payload: s.payload ?? new Uint8Array(0),
    },
    { family: 4, src: s.src, dst: s.dst },
  );
  return ipPacket(Proto.TCP, s.src, s.dst, segment);
}

function udpPacket(src: number, sport: number, dst: number, dport: number, payload: Uint8Array): Uint8Array {
  const datagram = udp.emit({ srcPort: sport, dstPort: dport, checksum: 0, payload }, { family: 4, src, dst });
  return ipPacket(Proto.UDP, src, dst, datagram);
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** What a node observed of a packet, parsed back from its bytes. */
interface Seen {
  readonly proto: number;
  readonly saddr: number;
  readonly daddr: number;
  readonly sport: number;
  readonly dport: number;
  readonly flags: number;
  readonly seq: number;
  readonly ack: number;
  readonly payloadLength: number;
}

const scratch = new PacketMeta();

function observe(bytes: Uint8Array): Seen | null {
  scratch.reset();
  if (fillPacketMeta(bytes, 0, bytes.length, scratch) !== null) return null;
  return {
    proto: scratch.proto,
    saddr: scratch.saddr[0],
    daddr: scratch.daddr[0],
    sport: scratch.sport,
    dport: scratch.dport,
    flags: scratch.tcpFlags,
    seq: scratch.seq,
    ack: scratch.ack,
    payloadLength: scratch.payloadLength,
  };
}

/** `TCP 203.0.113.66:40000 > 198.51.100.2:22 [S]` — the packet's headers as they are on the wire now. */
export function summarizePacket(bytes: Uint8Array): string {
  scratch.reset();
  const bad = fillPacketMeta(bytes, 0, bytes.length, scratch);
  if (bad !== null) return `malformed packet (${bad.kind})`;
  const ends = describeEndpoints(scratch);
  if (scratch.proto === Proto.TCP) {
    const data = scratch.payloadLength > 0 ? ` ${String(scratch.payloadLength)} bytes` : "";
    return `TCP ${ends} [${tcp.flagsToString(scratch.tcpFlags)}]${data}`;
  }
  if (scratch.proto === Proto.UDP) return `UDP ${ends} ${String(scratch.payloadLength)} bytes`;
  return `${ipv4.protocolName(scratch.proto)} ${ends}`;
}

// ---------------------------------------------------------------------------------------------------------------
// The network: two engine nodes and the wires between them, carried by hand.

interface Arrival {
  readonly node: "Mallory" | "U";
  readonly seen: Seen;
}

interface ServiceHit {
  readonly proto: number;
  readonly port: number;
  readonly saddr: number;
}

type Pending = { readonly to: "router" | "S"; readonly iif: number; readonly bytes: Uint8Array } | Arrival;

function layerOf(node: "router" | "S"): StoppedBy["layer"] {
  return node === "router" ? "router filter" : "host firewall";
}

/** The policy of a chain is written on the line after `chain NAME {` in `nft list ruleset` output. */
function policyOrigin(chainOrigin: Origin): Origin {
  return { ...chainOrigin, line: chainOrigin.line + 1 };
}

function citation(node: "router" | "S", by: Cause): StoppedBy | null {
  if (by.kind === "no-chain") return null;
  const origin = by.kind === "rule" ? by.rule.origin : policyOrigin(by.chain.origin);
  const line = rulesetLine(origin) ?? "";
  return {
    node,
    layer: layerOf(node),
    rule: `${origin.source}:${String(origin.line)}`,
    text: by.kind === "rule" ? line : `${line} (chain ${by.chain.chain})`,
  };
}

class SeedNetwork {
  readonly hops: PacketHop[] = [];
  readonly arrivals: Arrival[] = [];
  readonly serviceHits: ServiceHit[] = [];
  readonly notes: string[] = [];
  firstStop: StoppedBy | null = null;
  /** Whether any packet reached the router's own stack (a scan wants exactly that). */
  routerReached = false;
  private now = 0;
  private readonly queue: Pending[] = [];
  private readonly natEvents: string[] = [];

  constructor(
    readonly name: SeedNetworkName,
    private readonly router: Datapath,
    private readonly s: Datapath,
  ) {
    router.trace = (e: DatapathEvent) => {
      if (e.kind !== "nat" || e.before === e.after) return;
      this.natEvents.push(`${e.before} → ${e.after}`);
      // A rule is named only on a connection's first packet, when the binding (the mapping) is chosen.
      if (e.rule !== null)
        this.notes.push(
          `router mapping by ${e.rule.origin.source}:${String(e.rule.origin.line)} ` +
            `(${rulesetLine(e.rule.origin) ?? e.manip}): ${e.before} → ${e.after}`,
        );
    };
  }

  /** Mallory's packet, handed to the router's WAN side by the ISP. */
  fromMallory(bytes: Uint8Array): void {
    this.hops.push({ node: "Mallory", packet: summarizePacket(bytes), verdict: "sent", droppedBy: null });
    this.queue.push({ to: "router", iif: RouterIf.WAN, bytes });
    this.run();
  }

  /** U's packet: straight to S when addressed to it (same LAN segment), else to the router's LAN side. */
  fromU(bytes: Uint8Array): void {
    this.hops.push({ node: "U", packet: summarizePacket(bytes), verdict: "sent", droppedBy: null });
    const seen = observe(bytes);
    if (seen?.daddr === SeedAddr.S) this.queue.push({ to: "S", iif: HostSIf.ETH0, bytes });
    else this.queue.push({ to: "router", iif: RouterIf.LAN, bytes });
    this.run();
  }

  /** The last packet that reached `node` and matches `want`, if any. */
  lastArrival(node: "Mallory" | "U", want: (s: Seen) => boolean): Seen | null {
    for (let i = this.arrivals.length - 1; i >= 0; i--) {
      const a = this.arrivals[i];
      if (a.node === node && want(a.seen)) return a.seen;
    }
    return null;
  }

  reachedS(proto: number, port: number): boolean {
    return this.serviceHits.some((h) => h.proto === proto && h.port === port);
  }

  private run(): void {
    for (let p = this.queue.shift(); p !== undefined; p = this.queue.shift()) {
      if ("seen" in p) {
        this.arrivals.push(p);
        continue;
      }
      if (p.to === "router") this.atRouter(p.bytes, p.iif);
      else this.atS(p.bytes, p.iif);
    }
  }

  private atRouter(bytes: Uint8Array, iif: number): void {
    const packet = summarizePacket(bytes);
    this.natEvents.length = 0;
    this.now += 1;
    const sent: { oif: number; bytes: Uint8Array; nextHop: number }[] = [];
    const sink: DatapathSink = {
      transmit: (oif, out, l3, length, nextHop) => {
        sent.push({ oif, bytes: out.slice(l3, l3 + length), nextHop: nextHop[0] });
      },
      deliver: () => {
        // The router runs no service the story probes; reaching its stack at all is what a scan wants.
      },
    };
    const d = this.router.receive(bytes, 0, bytes.length, iif, this.now, sink);
    const nat = this.natEvents.length > 0 ? ` (NAT ${this.natEvents.join(", ")})` : "";
    this.record("router", packet, d, nat);
    if (d.kind === "delivered") this.routerReached = true;
    // What the router put on a wire reaches the next node after the router's own verdict is recorded.
    for (const t of sent) {
      if (t.oif === RouterIf.LAN) {
        if (t.nextHop === SeedAddr.S) this.queue.push({ to: "S", iif: HostSIf.ETH0, bytes: t.bytes });
        else this.deliverTo("U", t.bytes, t.nextHop === SeedAddr.U);
      } else {
        const seen = observe(t.bytes);
        this.deliverTo("Mallory", t.bytes, seen !== null && isMallory(seen.daddr));
      }
    }
  }

  private atS(bytes: Uint8Array, iif: number): void {
    const packet = summarizePacket(bytes);
    this.now += 1;
    const sink: DatapathSink = {
      transmit: () => {
        // S forwards nothing; its own replies are not modelled until the simulator's host stacks exist.
      },
      deliver: (meta) => {
        this.serviceHits.push({ proto: meta.proto, port: meta.dport, saddr: meta.saddr[0] });
      },
    };
    const d = this.s.receive(bytes, 0, bytes.length, iif, this.now, sink);
    this.record("S", packet, d, "");
  }

  private deliverTo(node: "Mallory" | "U", bytes: Uint8Array, listening: boolean): void {
    const seen = observe(bytes);
    if (seen === null || !listening) {
      this.hops.push({ node, packet: summarizePacket(bytes), verdict: "not for this host", droppedBy: null });
      return;
    }
    this.hops.push({ node, packet: summarizePacket(bytes), verdict: "received", droppedBy: null });
    this.queue.push({ node, seen });
  }

  private record(node: "router" | "S", packet: string, d: Disposition, nat: string): void {
    let droppedBy: StoppedBy | null = null;
    let verdict: string;
    switch (d.kind) {
      case "delivered":
        verdict = node === "S" ? "reached S's service" : "reached the router's own stack";
        break;
      case "forwarded":
      case "sent":
        verdict = `forwarded out ${this.routerIfName(d.oif)}${nat}`;
        break;
      case "rejected":
        droppedBy = citation(node, d.verdict.by);
        verdict = `rejected in ${d.hook}`;
        break;
      case "dropped":
        if (d.reason.kind === "verdict") {
          droppedBy = citation(node, d.reason.verdict.by);
          verdict = `dropped in ${d.hook}`;
        } else verdict = `dropped in ${d.hook} (${d.reason.kind})`;
        break;
    }
    if (droppedBy !== null) {
      verdict += ` by ${droppedBy.rule}: ${droppedBy.text}`;
      this.firstStop ??= droppedBy;
    }
    this.hops.push({ node, packet, verdict, droppedBy });
  }

  private routerIfName(oif: number): string {
    return this.router.interfaces[oif]?.name ?? String(oif);
  }
}

const isMallory = (addr: number): boolean => addr === SeedAddr.MALLORY || addr === SeedAddr.MALLORY_WEB;

function buildNetwork(name: SeedNetworkName, options: SeedStoryOptions, seed: number): SeedNetwork {
  const rng = new SeededRng(seed);
  const override = options.rulesets?.[name];
  const router = createRouter(name, rng, override?.router);
  const s = createHostS(name, rng, override?.s);
  // The seed rulesets are fixed data: a compile error is a bug in seed-nodes.ts, not bad input.
  if (!router.ok) throw new Error(`seed router ruleset: ${JSON.stringify(router.error)}`);
  if (!s.ok) throw new Error(`seed host S ruleset: ${JSON.stringify(s.error)}`);
  return new SeedNetwork(name, router.value, s.value);
}

// ---------------------------------------------------------------------------------------------------------------
// The steps. Each runs on a fresh pair of nodes, so no step inherits another's connections.

interface StepScript {
  readonly id: SeedStepId;
  readonly attack: SeedAttackId;
  readonly capability: SeedStep["capability"];
  readonly question: string;
  readonly action: string;
  /** Plays the packets; returns whether the attack (or the intent) got what it wanted. */
  readonly play: (net: SeedNetwork, rng: SeededRng) => boolean;
}

const SYN = TcpFlags.SYN;
const SYN_ACK = TcpFlags.SYN | TcpFlags.ACK;
const ACK = TcpFlags.ACK;
const PSH_ACK = TcpFlags.PSH | TcpFlags.ACK;

const isSynAckTo = (port: number) => (s: Seen) => s.proto === Proto.TCP && s.dport === port && s.flags === SYN_ACK;

/** A TCP handshake from U to `dst`, answered by whoever receives the SYN at the far end (Mallory's servers). */
function connectFromU(net: SeedNetwork, rng: SeededRng, sport: number, dst: number, dport: number): Seen | null {
  const isn = rng.nextU32();
  net.fromU(tcpPacket({ src: SeedAddr.U, sport, dst, dport, flags: SYN, seq: isn, ack: 0 }));
  const syn = net.lastArrival("Mallory", (s) => s.flags === SYN && s.dport === dport && s.daddr === dst);
  if (syn === null) return null;
  // The far end answers the source it sees: the router's public address and the port masquerade chose.
  net.fromMallory(
    tcpPacket({
      src: dst,
      sport: dport,
      dst: syn.saddr,
      dport: syn.sport,
      flags: SYN_ACK,
      seq: rng.nextU32(),
      ack: syn.seq + 1,
    }),
  );
  return net.lastArrival("U", isSynAckTo(sport));
}

const STEPS: readonly StepScript[] = [
  {
    id: "inbound-scan",
    attack: "inbound-scan",
    capability: "remote",
    question: Question.publicIp,
    action:
      "Mallory sends TCP SYNs to 198.51.100.2 ports 22, 80, 443, 5432, 8080, UDP to 161, and a SYN to 192.168.1.20:22",
    play: (net, rng) => {
      const ports = [Port.SSH, Port.HTTP, Port.HTTPS, Port.POSTGRES, Port.WEB_ADMIN];
      ports.forEach((port, i) => {
        net.fromMallory(
          tcpPacket({
            src: SeedAddr.MALLORY,
            sport: MALLORY_SCAN_PORT + i,
            dst: SeedAddr.ROUTER_WAN,
            dport: port,
            flags: SYN,
            seq: rng.nextU32(),
            ack: 0,
          }),
        );
      });
      net.fromMallory(udpPacket(SeedAddr.MALLORY, MALLORY_SCAN_PORT, SeedAddr.ROUTER_WAN, Port.SNMP, text("public")));
      // As if the ISP routed a private destination to the router's WAN side.
      net.fromMallory(
        tcpPacket({
          src: SeedAddr.MALLORY,
          sport: MALLORY_SCAN_PORT + ports.length,
          dst: SeedAddr.S,
          dport: Port.SSH,
          flags: SYN,
          seq: rng.nextU32(),
          ack: 0,
        }),
      );
      const answered = net.lastArrival("Mallory", () => true) !== null;
      return answered || net.routerReached || net.serviceHits.length > 0;
    },
  },
  {
    id: "spoofed-source-udp",
    attack: "spoofed-source",
    capability: "root-code",
    question: Question.pastNat,
    action:
      "Root code on U forges UDP 192.168.1.20:161 → 203.0.113.66:9999; Mallory then sends to 198.51.100.2:161 from 9999",
    play: (net) => {
      net.fromU(udpPacket(SeedAddr.S, Port.SNMP, SeedAddr.MALLORY, Port.C2_REPLY, text("hello")));
      const forged = net.lastArrival("Mallory", (s) => s.proto === Proto.UDP && s.dport === Port.C2_REPLY);
      // Mallory answers the mapping she saw; without one she tries the port masquerade usually preserves.
      const dst = forged?.saddr ?? SeedAddr.ROUTER_WAN;
      const dport = forged?.sport ?? Port.SNMP;
      net.fromMallory(udpPacket(SeedAddr.MALLORY, Port.C2_REPLY, dst, dport, text("get-request sysDescr")));
      return net.reachedS(Proto.UDP, Port.SNMP);
    },
  },
  {
    id: "spoofed-source-tcp",
    attack: "spoofed-source",
    capability: "root-code",
    question: Question.pastNat,
    action:
      "Root code on U forges a SYN 192.168.1.20:22 → 203.0.113.66:80; Mallory then sends a SYN from port 80 to 198.51.100.2:22",
    play: (net, rng) => {
      net.fromU(
        tcpPacket({
          src: SeedAddr.S,
          sport: Port.SSH,
          dst: SeedAddr.MALLORY,
          dport: Port.HTTP,
          flags: SYN,
          seq: rng.nextU32(),
          ack: 0,
        }),
      );
      const forged = net.lastArrival("Mallory", (s) => s.proto === Proto.TCP && s.dport === Port.HTTP);
      // A SYN (not a SYN/ACK) in the reply direction: conntrack takes it as a simultaneous open (SYN_SENT2).
      net.fromMallory(
        tcpPacket({
          src: SeedAddr.MALLORY,
          sport: Port.HTTP,
          dst: forged?.saddr ?? SeedAddr.ROUTER_WAN,
          dport: forged?.sport ?? Port.SSH,
          flags: SYN,
          seq: rng.nextU32(),
          ack: 0,
        }),
      );
      return net.reachedS(Proto.TCP, Port.SSH);
    },
  },
  {
    id: "lateral-movement",
    attack: "lateral-movement",
    capability: "user-code",
    question: Question.hostFirewall,
    action: "Malware on U connects straight to S:22 on the LAN (the router never sees it)",
    play: (net, rng) => {
      net.fromU(
        tcpPacket({
          src: SeedAddr.U,
          sport: U_EPHEMERAL_PORT,
          dst: SeedAddr.S,
          dport: Port.SSH,
          flags: SYN,
          seq: rng.nextU32(),
          ack: 0,
        }),
      );
      return net.reachedS(Proto.TCP, Port.SSH);
    },
  },
  {
    id: "c2-beacon",
    attack: "c2-beacon",
    capability: "user-code",
    question: Question.c2,
    action: "An implant on U connects out to 203.0.113.66:443, asks for orders, and Mallory answers",
    play: (net, rng) => {
      const sport = U_EPHEMERAL_PORT + 1;
      const synAck = connectFromU(net, rng, sport, SeedAddr.MALLORY, Port.HTTPS);
      if (synAck === null) return false;
      const ask = text("GET /orders");
      const useq = synAck.ack;
      net.fromU(
        tcpPacket({
          src: SeedAddr.U,
          sport,
          dst: SeedAddr.MALLORY,
          dport: Port.HTTPS,
          flags: ACK,
          seq: useq,
          ack: synAck.seq + 1,
        }),
      );
      net.fromU(
        tcpPacket({
          src: SeedAddr.U,
          sport,
          dst: SeedAddr.MALLORY,
          dport: Port.HTTPS,
          flags: PSH_ACK,
          seq: useq,
          ack: synAck.seq + 1,
          payload: ask,
        }),
      );
      const request = net.lastArrival("Mallory", (s) => s.dport === Port.HTTPS && s.payloadLength === ask.length);
      if (request === null) return false;
      const orders = text("upload /etc/shadow");
      net.fromMallory(
        tcpPacket({
          src: SeedAddr.MALLORY,
          sport: Port.HTTPS,
          dst: request.saddr,
          dport: request.sport,
          flags: PSH_ACK,
          seq: request.ack,
          ack: request.seq + ask.length,
          payload: orders,
        }),
      );
      return net.lastArrival("U", (s) => s.dport === sport && s.payloadLength === orders.length) !== null;
    },
  },
  {
    id: "intents",
    attack: "intents",
    capability: "intent",
    question: Question.leastPrivilege,
    action: "U opens S:5432 (postgres) and S:8080 (web admin), and browses 203.0.113.80:80",
    play: (net, rng) => {
      for (const [i, port] of [Port.POSTGRES, Port.WEB_ADMIN].entries())
        net.fromU(
          tcpPacket({
            src: SeedAddr.U,
            sport: U_EPHEMERAL_PORT + 10 + i,
            dst: SeedAddr.S,
            dport: port,
            flags: SYN,
            seq: rng.nextU32(),
            ack: 0,
          }),
        );
      const web = connectFromU(net, rng, U_EPHEMERAL_PORT + 20, SeedAddr.MALLORY_WEB, Port.HTTP);
      return net.reachedS(Proto.TCP, Port.POSTGRES) && net.reachedS(Proto.TCP, Port.WEB_ADMIN) && web !== null;
    },
  },
];

const NETWORKS: readonly SeedNetworkName[] = ["seed-home", "seed-home-hardened"];

function runStep(script: StepScript, network: SeedNetworkName, options: SeedStoryOptions, seed: number): SeedStep {
  const net = buildNetwork(network, options, seed);
  const rng = new SeededRng(seed ^ 0x0a77ac);
  const reached = script.play(net, rng);
  const outcome: SeedOutcome = reached ? (script.attack === "intents" ? "allowed" : "breached") : "blocked";
  return {
    id: script.id,
    attack: script.attack,
    network,
    capability: script.capability,
    question: script.question,
    action: script.action,
    outcome,
    stoppedBy: reached ? null : net.firstStop,
    notes: net.notes,
    packets: net.hops,
  };
}

/** Plays every step of the seed discussion on both networks, deterministically (fixed seed unless given). */
export function runSeedStory(options: SeedStoryOptions = {}): SeedStory {
  ident = 0;
  const seed = options.seed ?? DEFAULT_SEED;
  const steps: SeedStep[] = [];
  STEPS.forEach((script, i) => {
    for (const network of NETWORKS) steps.push(runStep(script, network, options, seed + i));
  });
  return {
    demo: "seed",
    steps,
    comingWithSimulator: [
      "upnp-forward-self / upnp-forward-other (needs the router's UPnP IGD service)",
      "dns-rebinding (needs the router's DNS resolver and U's browser)",
    ],
  };
}
