// Replays a Scenario through one router (the engine, or the kernel rig) and describes everything that came out in
// a canonical text form, so the two runs compare line by line. Each run aims replies at the translation its own
// router chose (scenario.ts). Ports a router picked itself (the kernel's random port search on a NAT clash) are
// replaced by labels in order of appearance, with their range class: the comparison then checks the same
// port-selection rule (preserved, or not preserved and in the same range) instead of the same random number.

import { Datapath } from "../../engine/datapath.js";
import type { DatapathOptions, DatapathSink } from "../../engine/datapath.js";
import type { Ruleset } from "../../engine/filter/index.js";
import { CtStatus, NONE, PacketMeta, Proto, TcpFlag } from "../../engine/packet-meta.js";
import { fillPacketMeta } from "../../engine/packet-parse.js";
import { buildIcmpError, buildTcpReset } from "../../engine/reject.js";
import { SeededRng } from "../../engine/rng.js";
import { echoPacket, icmpErrorPacket, tcpPacket, udpPacket, words } from "../../engine/nat/packets.fixture.js";
import { badChecksums } from "../../engine/nat/packets.fixture.js";
import { hex, readU16, readU32 } from "../../wire/bytes.js";
import { Ipv4Field } from "../../wire/ipv4.js";
import { TcpField } from "../../wire/tcp.js";
import { UdpField } from "../../wire/udp.js";
import { Icmpv4Field, isIcmpv4Error } from "../../wire/icmpv4.js";
import type { KernelCtEntry } from "./conntrack-text.js";
import type { Dir, Endpoint, Scenario, Side, Step } from "./scenario.js";
import { RouterAddress } from "./scenario.js";

/** What a router under test must do: take a fresh ruleset, take packets, show its conntrack table. */
export interface RouterUnderTest {
  reset(scenario: Scenario): void;
  send(side: Side, packet: Uint8Array): Promise<readonly { readonly side: Side; readonly bytes: Uint8Array }[]>;
  conntrack(): KernelCtEntry[];
}

export interface StepRecord {
  readonly input: string;
  /** Sorted descriptions of every packet the router emitted (side first). */
  readonly outputs: readonly string[];
}

export interface RunRecord {
  readonly steps: readonly StepRecord[];
  /** Sorted descriptions of the confirmed conntrack entries after the last packet. */
  readonly conntrack: readonly string[];
}

/** IP identification of every injected packet (packets.fixture.ts): an output with another id was built locally. */
const INJECTED_IDENT = 0x1234;
const QUOTE_BYTES = 8;
/** ICMP destination unreachable / port unreachable (RFC 792). */
const Icmp = { UNREACH: 3, PORT_UNREACH: 3 } as const;
const PRIVILEGED_PORTS = 1024;
/** Intermediate routers that report errors (documentation and private addresses). */
const ON_PATH_ROUTER: Readonly<Record<Side, string>> = { wan: "203.0.113.254", lan: "192.168.1.254" };

const other = (s: Side): Side => (s === "lan" ? "wan" : "lan");

/** Labels for ports a router chose: known ports (the scenario's) print as numbers, others as `nat<k><range>`. */
class PortLabels {
  private readonly seen = new Map<number, string>();
  constructor(private readonly known: ReadonlySet<number>) {}
  label(port: number): string {
    if (this.known.has(port)) return String(port);
    let l = this.seen.get(port);
    if (l === undefined) {
      l = `nat${String(this.seen.size)}${port < PRIVILEGED_PORTS ? "-low" : "-high"}`;
      this.seen.set(port, l);
    }
    return l;
  }
}

function knownPorts(s: Scenario): Set<number> {
  const out = new Set<number>([0]);
  for (const f of s.flows)
    for (const e of [f.client, f.server, f.fallbackReply.src, f.fallbackReply.dst]) out.add(e.port);
  return out;
}

function ip4(b: Uint8Array, at: number): string {
  const a = readU32(b, at);
  return `${String(a >>> 24)}.${String((a >>> 16) & 255)}.${String((a >>> 8) & 255)}.${String(a & 255)}`;
}

/** The transport endpoints of an IPv4 packet: ports, or the echo identifier as source port. */
function endpoints(b: Uint8Array): { src: Endpoint; dst: Endpoint } {
  const l4 = (b[0] & 15) * 4;
  const proto = b[Ipv4Field.PROTOCOL];
  let sport = 0;
  let dport = 0;
  if (proto === Proto.TCP || proto === Proto.UDP) {
    sport = readU16(b, l4 + TcpField.SRC_PORT);
    dport = readU16(b, l4 + TcpField.DST_PORT);
  } else if (proto === Proto.ICMP) {
    sport = readU16(b, l4 + Icmpv4Field.ID);
    dport = sport;
  }
  return {
    src: { addr: ip4(b, Ipv4Field.SRC), port: sport },
    dst: { addr: ip4(b, Ipv4Field.DST), port: dport },
  };
}

/** One packet in canonical text: every header field that matters, checksums as valid or not, chosen ports labelled. */
export function describePacket(b: Uint8Array, labels: PortLabels, inner = false): string {
  const ihl = (b[0] & 15) * 4;
  const proto = b[Ipv4Field.PROTOCOL];
  const ident = readU16(b, Ipv4Field.IDENT);
  const flagsOff = readU16(b, Ipv4Field.FLG_OFF);
  const parts = [
    `ip tos=${String(b[Ipv4Field.DSCP_ECN])}`,
    `ttl=${String(b[Ipv4Field.TTL])}`,
    // A locally built packet (RST, ICMP error) gets its id from the stack; only forwarded ids are comparable.
    `id=${ident === INJECTED_IDENT ? String(ident) : "local"}`,
    `frag=${(flagsOff >>> 13).toString(2)}/${String(flagsOff & 0x1fff)}`,
    `${ip4(b, Ipv4Field.SRC)}>${ip4(b, Ipv4Field.DST)}`,
  ];
  if (!inner) parts.push(`len=${String(readU16(b, Ipv4Field.LENGTH))}`, `bad=[${badChecksums(b).join(",")}]`);
  const l4 = ihl;
  if (proto === Proto.TCP) {
    parts.push(
      `tcp ${labels.label(readU16(b, l4 + TcpField.SRC_PORT))}>${labels.label(readU16(b, l4 + TcpField.DST_PORT))}`,
      `seq=${String(readU32(b, l4 + TcpField.SEQ))}`,
    );
    if (!inner)
      parts.push(
        `ack=${String(readU32(b, l4 + TcpField.ACK))}`,
        `flags=${String(b[l4 + TcpField.FLAGS])}`,
        `win=${String(readU16(b, l4 + TcpField.WINDOW))}`,
        `data=${hex(b.subarray(l4 + (b[l4 + TcpField.DATA_OFF] >>> 4) * 4, readU16(b, Ipv4Field.LENGTH)))}`,
      );
  } else if (proto === Proto.UDP) {
    parts.push(
      `udp ${labels.label(readU16(b, l4 + UdpField.SRC_PORT))}>${labels.label(readU16(b, l4 + UdpField.DST_PORT))}`,
    );
    if (!inner) parts.push(`ulen=${String(readU16(b, l4 + UdpField.LENGTH))}`);
  } else if (proto === Proto.ICMP) {
    const type = b[l4 + Icmpv4Field.TYPE];
    parts.push(`icmp ${String(type)}/${String(b[l4 + Icmpv4Field.CODE])}`);
    if (isIcmpv4Error(type)) {
      if (!inner) parts.push(`[${describePacket(b.subarray(l4 + Icmpv4Field.EMBEDDED), labels, true)}]`);
    } else {
      parts.push(
        `id=${labels.label(readU16(b, l4 + Icmpv4Field.ID))}`,
        `seq=${String(readU16(b, l4 + Icmpv4Field.SEQ))}`,
      );
    }
  }
  return parts.join(" ");
}

function describeEntry(e: KernelCtEntry, labels: PortLabels): string {
  const t = (x: KernelCtEntry["original"]): string =>
    `${x.src}:${labels.label(x.sport)}>${x.dst}:${e.proto === Proto.ICMP ? String(x.dport) : labels.label(x.dport)}`;
  return [
    String(e.proto),
    e.tcpState ?? "-",
    t(e.original),
    t(e.reply),
    e.unreplied ? "[UNREPLIED]" : "",
    e.assured ? "[ASSURED]" : "",
  ].join(" ");
}

interface FlowView {
  /** The first forwarded packet of each direction, as it came out of the router. */
  readonly out: Partial<Record<Dir, { side: Side; src: Endpoint; dst: Endpoint }>>;
}

function buildPacket(
  s: Scenario,
  step: Step,
  views: FlowView[],
  history: StepHistory[],
): { side: Side; bytes: Uint8Array } {
  if (step.kind === "icmp-error") {
    const about = history[step.about];
    // The quoted packet is the one that came out of the router (with its translation) or, if none did, the one
    // that went in: an error about a packet the router never passed is a forged one.
    const seen = about.outputs.find((o) => o.side !== about.side);
    const side = seen !== undefined ? seen.side : other(about.side);
    const quoted = seen?.bytes ?? about.input;
    const { src, dst } = endpoints(quoted);
    const reporter = step.reporter === "host" ? dst.addr : ON_PATH_ROUTER[side];
    const quote = (quoted[0] & 15) * 4 + QUOTE_BYTES;
    return { side, bytes: icmpErrorPacket(reporter, src.addr, quoted, quote) };
  }
  const f = s.flows[step.flow];
  let side: Side;
  let src: Endpoint;
  let dst: Endpoint;
  if (step.dir === "orig") {
    side = f.from;
    src = f.client;
    dst = f.server;
  } else {
    side = other(f.from);
    const seen = views[step.flow].out.orig;
    src = seen !== undefined ? seen.dst : f.fallbackReply.src;
    dst = seen !== undefined ? seen.src : f.fallbackReply.dst;
  }
  if (step.kind === "udp")
    return { side, bytes: udpPacket(src.addr, src.port, dst.addr, dst.port, new Uint8Array(step.payload).fill(0x61)) };
  if (step.kind === "echo") {
    const id = step.dir === "orig" ? src.port : dst.port;
    return { side, bytes: echoPacket(src.addr, dst.addr, id, step.dir === "reply", step.seq) };
  }
  return {
    side,
    bytes: tcpPacket(src.addr, src.port, dst.addr, dst.port, {
      flags: step.flags,
      seq: step.seq,
      ack: step.ack,
      payload: new Uint8Array(step.payload).fill(0x62),
      options: step.wscale !== null ? [{ kind: "window-scale", shift: step.wscale }] : [],
    }),
  };
}

interface StepHistory {
  readonly side: Side;
  readonly input: Uint8Array;
  readonly outputs: readonly { readonly side: Side; readonly bytes: Uint8Array }[];
}

/** Runs a scenario through a router and describes what happened. */
export async function replay(router: RouterUnderTest, s: Scenario): Promise<RunRecord> {
  router.reset(s);
  const labels = new PortLabels(knownPorts(s));
  const views: FlowView[] = s.flows.map(() => ({ out: {} }));
  const history: StepHistory[] = [];
  const steps: StepRecord[] = [];
  for (const step of s.steps) {
    const { side, bytes } = buildPacket(s, step, views, history);
    const outputs = await router.send(side, bytes.slice());
    history.push({ side, input: bytes, outputs });
    if (step.kind !== "icmp-error") {
      const v = views[step.flow];
      const fwd = outputs.find((o) => o.side !== side && o.bytes[Ipv4Field.PROTOCOL] === bytes[Ipv4Field.PROTOCOL]);
      if (fwd !== undefined && v.out[step.dir] === undefined)
        v.out[step.dir] = { side: fwd.side, ...endpoints(fwd.bytes) };
    }
    steps.push({
      input: `${side} ${describePacket(bytes, labels)}`,
      outputs: outputs.map((o) => `${o.side} ${describePacket(o.bytes, labels)}`).sort(),
    });
  }
  const conntrack = router
    .conntrack()
    .map((e) => describeEntry(e, labels))
    .sort();
  return { steps, conntrack };
}

/** The first difference between two runs, in words, or null when they agree. */
export function firstDifference(engine: RunRecord, kernel: RunRecord): string | null {
  for (let i = 0; i < Math.max(engine.steps.length, kernel.steps.length); i++) {
    const e = engine.steps[i] as StepRecord | undefined;
    const k = kernel.steps[i] as StepRecord | undefined;
    const eo = JSON.stringify(e?.outputs ?? null);
    const ko = JSON.stringify(k?.outputs ?? null);
    if (e?.input !== k?.input || eo !== ko)
      return [
        `packet ${String(i)}:`,
        `  engine in : ${e?.input ?? "-"}`,
        ...(e?.outputs ?? []).map((o) => `  engine out: ${o}`),
        `  kernel in : ${k?.input ?? "-"}`,
        ...(k?.outputs ?? []).map((o) => `  kernel out: ${o}`),
      ].join("\n");
  }
  const ec = JSON.stringify(engine.conntrack);
  const kc = JSON.stringify(kernel.conntrack);
  if (ec !== kc)
    return [
      "conntrack:",
      ...engine.conntrack.map((c) => `  engine: ${c}`),
      ...kernel.conntrack.map((c) => `  kernel: ${c}`),
    ].join("\n");
  return null;
}

/**
 * The engine as a router under test: a fresh Datapath per scenario, plus what a Linux router's own stack does with
 * packets addressed to it when nothing listens (tcp_v4_send_reset, icmp_send port unreachable, icmp_echo), since
 * the Datapath stops at local delivery.
 */
export class EngineRouter implements RouterUnderTest {
  private dp: Datapath | null = null;
  private now = 0;
  private readonly local = new PacketMeta();
  private readonly transmitted: { side: Side; bytes: Uint8Array }[] = [];
  private readonly delivered: Uint8Array[] = [];
  private readonly sink: DatapathSink;

  constructor(private readonly build: (s: Scenario) => Datapath) {
    this.sink = {
      transmit: (oif, bytes, l3, length) => {
        this.transmitted.push({ side: oif === 0 ? "wan" : "lan", bytes: bytes.slice(l3, l3 + length) });
      },
      deliver: (meta) => {
        this.delivered.push(meta.bytes.slice(meta.l3, meta.l3 + meta.length));
      },
    };
  }

  get datapath(): Datapath | null {
    return this.dp;
  }

  reset(s: Scenario): void {
    this.dp = this.build(s);
    this.now = 0;
  }

  send(side: Side, packet: Uint8Array): Promise<{ side: Side; bytes: Uint8Array }[]> {
    const dp = this.dp;
    if (dp === null) throw new Error("reset first");
    this.transmitted.length = 0;
    this.delivered.length = 0;
    this.now += 10;
    dp.receive(packet, 0, packet.length, side === "wan" ? 0 : 1, this.now, this.sink);
    for (const d of this.delivered.splice(0)) {
      const answer = this.hostAnswer(d);
      if (answer !== null) dp.send(answer, 0, answer.length, this.now, this.sink);
    }
    return Promise.resolve(this.transmitted.slice());
  }

  private hostAnswer(packet: Uint8Array): Uint8Array | null {
    const m = this.local;
    m.reset();
    if (fillPacketMeta(packet, 0, packet.length, m) !== null || m.l4 === NONE) return null;
    if (badChecksums(packet).length > 0) return null;
    if (m.proto === Proto.TCP) return (m.tcpFlags & TcpFlag.RST) !== 0 ? null : buildTcpReset(m);
    if (m.proto === Proto.UDP) return buildIcmpError(m, Uint32Array.from(m.daddr), Icmp.UNREACH, Icmp.PORT_UNREACH, 0);
    return null;
  }

  conntrack(): KernelCtEntry[] {
    const dp = this.dp;
    if (dp === null) return [];
    return dp.conntrack
      .list()
      .filter((e) => e.confirmed)
      .map((e) => ({
        proto: e.proto,
        tcpState: e.proto === Proto.TCP ? e.state : null,
        original: e.original,
        reply: e.reply,
        unreplied: (e.status & CtStatus.SEEN_REPLY) === 0,
        assured: (e.status & CtStatus.ASSURED) !== 0,
      }));
  }
}

/** The kernel rig's router as engine options: same addresses, routes and sysctls (rp_filter 0, loose TCP pickup). */
export function rigRouterOptions(ruleset: Ruleset | undefined, seed = 1): DatapathOptions {
  return {
    name: "router",
    interfaces: [
      {
        name: "wan",
        addresses: [{ family: 4, address: words(RouterAddress.WAN), prefixLength: RouterAddress.WAN_PREFIX }],
      },
      {
        name: "lan",
        addresses: [{ family: 4, address: words(RouterAddress.LAN), prefixLength: RouterAddress.LAN_PREFIX }],
      },
    ],
    routes: [{ family: 4, prefix: words("0.0.0.0"), prefixLength: 0, oif: 0, gateway: words(RouterAddress.GATEWAY) }],
    ...(ruleset !== undefined ? { ruleset } : {}),
    forwarding: true,
    rpFilter: 0,
    conntrack: { tcpLoose: true, tcpBeLiberal: false, checksum: true },
    rng: new SeededRng(seed),
  };
}

/** The engine router matching the kernel rig: same addresses, routes, sysctls, and the scenario's ruleset. */
export function engineRouterFor(
  ruleset: (s: Scenario) => Parameters<typeof Datapath.create>[0]["ruleset"],
  seed = 1,
): EngineRouter {
  return new EngineRouter((s) => {
    const built = Datapath.create(rigRouterOptions(ruleset(s), seed));
    if (!built.ok) throw new Error(`ruleset does not compile: ${built.error.message}`);
    return built.value;
  });
}
