// Per-link packet captures of the kernel lab, and the summary that makes them comparable with the simulator's.
// One tcpdump per segment, placed so every packet crossing the segment is recorded exactly once: on a shared
// segment the bridge `br0` of its namespace (promiscuous, so br_handle_frame_finish passes every frame entering
// from a port up to the bridge device once: net/bridge/br_input.c), on a point-to-point segment one veth end (a
// veth sees what it sends and what it receives, and nothing else crosses that wire).
//
// What is compared (`flowKey`): the distinct IP packets by protocol, addresses, ports and TCP flags, with
// ephemeral ports (Linux's ip_local_port_range, as the twin's host stack uses) written `*`, since the kernel's
// sockets and the simulator's pick different ones. Left out on both sides, as link chatter that no attack sends:
// non-IP frames (ARP), IGMP, ICMPv6 neighbour discovery and multicast listener messages, packets to a multicast
// or broadcast address and packets from an unspecified source. Packet counts are of every record in the file.

import { spawn } from "node:child_process";
import { EPHEMERAL_MAX, EPHEMERAL_MIN } from "../sim/index.js";
import { LinkType, openCapture } from "../pcap/index.js";
import type { CaptureRecord } from "../pcap/index.js";
import { formatIpv4, formatIpv6 } from "../wire/address.js";
import * as ethernet from "../wire/ethernet.js";
import { EtherType } from "../wire/ethernet.js";
import * as icmpv4 from "../wire/icmpv4.js";
import * as icmpv6 from "../wire/icmpv6.js";
import { Icmpv6Type } from "../wire/icmpv6.js";
import * as ipv4 from "../wire/ipv4.js";
import { IpProtocol, protocolName } from "../wire/ipv4.js";
import * as ipv6 from "../wire/ipv6.js";
import type { Result } from "../wire/result.js";
import * as tcp from "../wire/tcp.js";
import { TcpFlags } from "../wire/tcp.js";
import * as udp from "../wire/udp.js";
import { BRIDGE } from "./plan.js";
import type { LabPlan } from "./plan.js";

// ---------------------------------------------------------------------------------------------------------------
// Where to capture.

/** One tcpdump's place: the interface in a namespace that sees every packet of `segment` once. */
export interface CapturePoint {
  readonly segment: string;
  readonly namespace: string;
  readonly ifname: string;
}

/** A kernel capture's file name: the segment's name, as the simulator names its `.pcapng` files. */
export const KERNEL_CAPTURE_SUFFIX = ".pcap";
export const SIMULATED_CAPTURE_SUFFIX = ".pcapng";

/** One capture point per segment, in the plan's order: its bridge when it has one, else the first veth end. */
export function capturePoints(plan: LabPlan): CapturePoint[] {
  const bridges = new Map<string, string>();
  for (const ns of plan.namespaces) if (ns.role.kind === "segment") bridges.set(ns.role.segment, ns.name);
  const points: CapturePoint[] = [];
  const seen = new Set<string>();
  for (const link of plan.links) {
    if (seen.has(link.segment)) continue;
    seen.add(link.segment);
    const bridgeNs = bridges.get(link.segment);
    points.push(
      bridgeNs !== undefined
        ? { segment: link.segment, namespace: bridgeNs, ifname: BRIDGE }
        : { segment: link.segment, namespace: link.a.namespace, ifname: link.a.ifname },
    );
  }
  return points;
}

/**
 * The capture socket's ring, in KiB (tcpdump -B). In immediate mode libpcap uses TPACKET_V2 with one frame slot
 * per packet, as large as the full snap length (256 KiB) when the interface has offloads on (pcap-linux.c
 * create_ring): the default 2 MiB holds 8 packets, and a scan's burst lost some. 32 MiB holds 128.
 */
const CAPTURE_BUFFER_KIB = 32 * 1024;

/**
 * `ip netns exec` execs tcpdump in place (no fork outside batch mode), so the child's pid is tcpdump's own.
 * `-Z root`: stay root (Debian's tcpdump otherwise switches to user tcpdump and gives it the file), so the kernel's
 * captures are owned as the simulator's are.
 */
export function tcpdumpArgv(point: CapturePoint, file: string): string[] {
  return [
    "netns",
    "exec",
    point.namespace,
    "tcpdump",
    "-i",
    point.ifname,
    "-n",
    "-U",
    "--immediate-mode",
    "-s",
    "0",
    "-B",
    String(CAPTURE_BUFFER_KIB),
    "-Z",
    "root",
    "-w",
    file,
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// Running tcpdump.

/** tcpdump prints this on stderr once the socket is bound and filtering (print.c / tcpdump.c). */
const LISTENING = "listening on";
const READY_TIMEOUT_MS = 5_000;
/**
 * Time for packets already queued in the capture ring to reach the file: tcpdump's SIGINT handler calls
 * pcap_breakloop, which ends the loop after the batch in hand (libpcap pcap-linux.c), not after the ring.
 */
const SETTLE_MS = 150;
const STOP_TIMEOUT_MS = 3_000;
/** tcpdump's closing report on stderr: "N packets captured", "N packets dropped by kernel". */
const CAPTURED_LINE = /(\d+) packets? captured/;
const DROPPED_LINE = /(\d+) packets? dropped by kernel/;

/** What one tcpdump left behind once stopped. */
export interface StoppedCapture {
  readonly segment: string;
  readonly path: string;
  readonly pid: number;
  /** tcpdump's own count of packets written; null when it was killed or said nothing. */
  readonly captured: number | null;
  /** Packets the capture socket lost (its buffer was full); null when tcpdump did not say. */
  readonly dropped: number | null;
  /** It did not end within the timeout after SIGINT and was killed. */
  readonly killed: boolean;
}

export interface RunningCapture {
  readonly point: CapturePoint;
  readonly path: string;
  readonly pid: number;
}

export interface CaptureSession {
  readonly captures: readonly RunningCapture[];
  /** SIGINT to every tcpdump (SIGKILL after a timeout); resolves once every one has exited. Safe to call twice. */
  stop(): Promise<StoppedCapture[]>;
}

interface Tcpdump extends RunningCapture {
  stopNow(): Promise<StoppedCapture>;
}

const sleep = (ms: number): Promise<void> =>
  new Promise((done) => {
    setTimeout(done, ms);
  });

function startTcpdump(point: CapturePoint, path: string): Promise<Result<Tcpdump, string>> {
  return new Promise((done) => {
    const child = spawn("ip", tcpdumpArgv(point, path), { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    let ready = false;
    let exited = false;
    const exit = new Promise<void>((gone) => {
      child.on("exit", () => {
        exited = true;
        gone();
      });
    });
    const where = `tcpdump on ${point.ifname} in ${point.namespace}`;
    const fail = (why: string): void => {
      clearTimeout(timer);
      done({ ok: false, error: `${where}: ${why}${stderr.trim() === "" ? "" : `: ${stderr.trim().slice(0, 300)}`}` });
    };
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      void exit.then(() => {
        fail(`not listening after ${READY_TIMEOUT_MS} ms`);
      });
    }, READY_TIMEOUT_MS);
    child.on("error", (e) => {
      fail(e.message);
    });
    child.on("exit", (code) => {
      if (!ready) fail(`exited ${code ?? "on a signal"} before listening`);
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
      if (ready || !stderr.includes(LISTENING) || child.pid === undefined) return;
      ready = true;
      clearTimeout(timer);
      const pid = child.pid;
      let stopped: Promise<StoppedCapture> | null = null;
      const stopNow = async (): Promise<StoppedCapture> => {
        // An object, not a let: the timer callback sets it, out of the compiler's flow analysis.
        const outcome = { killed: false };
        if (!exited) child.kill("SIGINT");
        const kill = setTimeout(() => {
          outcome.killed = true;
          child.kill("SIGKILL");
        }, STOP_TIMEOUT_MS);
        await exit;
        clearTimeout(kill);
        const count = CAPTURED_LINE.exec(stderr);
        const dropped = DROPPED_LINE.exec(stderr);
        return {
          segment: point.segment,
          path,
          pid,
          captured: outcome.killed || count === null ? null : Number(count[1]),
          dropped: outcome.killed || dropped === null ? null : Number(dropped[1]),
          killed: outcome.killed,
        };
      };
      done({
        ok: true,
        value: {
          point,
          path,
          pid,
          stopNow: () => (stopped ??= stopNow()),
        },
      });
    });
  });
}

/**
 * Starts one tcpdump per point, writing `<dir>/<segment>.pcap`, and resolves once every one is listening.
 * When any fails to start, the others are stopped again and the first failure is returned.
 */
export async function startCaptures(
  points: readonly CapturePoint[],
  dir: string,
): Promise<Result<CaptureSession, string>> {
  const started = await Promise.all(points.map((p) => startTcpdump(p, `${dir}/${p.segment}${KERNEL_CAPTURE_SUFFIX}`)));
  const running = started.flatMap((s) => (s.ok ? [s.value] : []));
  let stopped: Promise<StoppedCapture[]> | null = null;
  const stopAll = (): Promise<StoppedCapture[]> =>
    (stopped ??= sleep(SETTLE_MS).then(() => Promise.all(running.map((t) => t.stopNow()))));
  const failed = started.find((s) => !s.ok);
  if (failed !== undefined) {
    await stopAll();
    return { ok: false, error: failed.error };
  }
  return { ok: true, value: { captures: running, stop: stopAll } };
}

/**
 * Runs `body` with the points captured into `dir`, and stops every tcpdump afterwards, also when `body` throws.
 * A capture that cannot start does not stop the run: `body` runs anyway and `error` says why nothing was captured.
 */
export async function withCaptures<T>(
  points: readonly CapturePoint[],
  dir: string,
  body: () => Promise<T>,
  onStart: (session: CaptureSession) => void = () => undefined,
): Promise<{ readonly value: T; readonly stopped: readonly StoppedCapture[]; readonly error: string | null }> {
  const session = await startCaptures(points, dir);
  if (!session.ok) return { value: await body(), stopped: [], error: session.error };
  onStart(session.value);
  let value: T;
  try {
    value = await body();
  } finally {
    await session.value.stop();
  }
  return { value, stopped: await session.value.stop(), error: null };
}

/** Whether tcpdump can run here (its absence leaves `lab verify` working, without kernel captures). */
export function probeTcpdump(): Promise<boolean> {
  return new Promise((done) => {
    const child = spawn("tcpdump", ["--version"], { stdio: "ignore" });
    child.on("error", () => {
      done(false);
    });
    child.on("exit", (code) => {
      done(code === 0);
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The comparable summary of a capture.

const V4_MULTICAST_FIRST_OCTET = 224;
const V4_BROADCAST = 0xffffffff;
const V4_FIRST_OCTET_SHIFT = 24;
const V6_MULTICAST_FIRST_BYTE = 0xff;
const IGMP = 2;
const IP_VERSION_SHIFT = 4;

/** RFC 4861 §4 (router and neighbour discovery, redirect) and RFC 2710 / RFC 3810 (MLD): link chatter. */
const ICMPV6_LINK_CHATTER = new Set<number>([
  Icmpv6Type.MLD_QUERY,
  Icmpv6Type.MLD_REPORT,
  Icmpv6Type.MLD_DONE,
  Icmpv6Type.ROUTER_SOLICITATION,
  Icmpv6Type.ROUTER_ADVERTISEMENT,
  Icmpv6Type.NEIGHBOR_SOLICITATION,
  Icmpv6Type.NEIGHBOR_ADVERTISEMENT,
  Icmpv6Type.REDIRECT,
  Icmpv6Type.MLDV2_REPORT,
]);

const isEphemeral = (port: number): boolean => port >= EPHEMERAL_MIN && port <= EPHEMERAL_MAX;
const portText = (port: number): string => (isEphemeral(port) ? "*" : String(port));

/** tcpdump's letters for the flags that shape a connection; PSH, URG, ECE and CWR differ between stacks. */
function tcpFlagLetters(flags: number): string {
  const letters =
    ((flags & TcpFlags.SYN) !== 0 ? "S" : "") +
    ((flags & TcpFlags.FIN) !== 0 ? "F" : "") +
    ((flags & TcpFlags.RST) !== 0 ? "R" : "") +
    ((flags & TcpFlags.ACK) !== 0 ? "." : "");
  return letters === "" ? "none" : letters;
}

function transportKey(protocol: number, payload: Uint8Array, src: string, dst: string, v6: boolean): string | null {
  const host = (a: string): string => (v6 ? `[${a}]` : a);
  if (protocol === IpProtocol.TCP) {
    const r = tcp.parse(payload);
    if (!r.ok) return `tcp ${src} > ${dst} malformed`;
    const t = r.value;
    return `tcp ${host(src)}:${portText(t.srcPort)} > ${host(dst)}:${portText(t.dstPort)} ${tcpFlagLetters(t.flags)}`;
  }
  if (protocol === IpProtocol.UDP) {
    const r = udp.parse(payload);
    if (!r.ok) return `udp ${src} > ${dst} malformed`;
    return `udp ${host(src)}:${portText(r.value.srcPort)} > ${host(dst)}:${portText(r.value.dstPort)}`;
  }
  if (protocol === IpProtocol.ICMP || protocol === IpProtocol.ICMPV6) {
    const view =
      protocol === IpProtocol.ICMP ? new icmpv4.Icmpv4View().wrap(payload) : new icmpv6.Icmpv6View().wrap(payload);
    const label = protocol === IpProtocol.ICMP ? "icmp" : "icmpv6";
    if (view.check() !== null) return `${label} ${src} > ${dst} malformed`;
    if (protocol === IpProtocol.ICMPV6 && ICMPV6_LINK_CHATTER.has(view.type)) return null;
    return `${label} ${src} > ${dst} type ${view.type} code ${view.code}`;
  }
  if (protocol === IGMP) return null;
  return `${protocolName(protocol)} ${src} > ${dst}`;
}

function ipv4Key(data: Uint8Array): string | null {
  const r = ipv4.parse(data);
  if (!r.ok) return "ipv4 malformed";
  const p = r.value;
  if (p.src === 0 || p.dst === V4_BROADCAST || p.dst >>> V4_FIRST_OCTET_SHIFT >= V4_MULTICAST_FIRST_OCTET) return null;
  const src = formatIpv4(p.src);
  const dst = formatIpv4(p.dst);
  if (p.fragmentOffset !== 0) return `${protocolName(p.protocol)} ${src} > ${dst} fragment`;
  return transportKey(p.protocol, p.payload, src, dst, false);
}

function ipv6Key(data: Uint8Array): string | null {
  const r = ipv6.parse(data);
  if (!r.ok) return "ipv6 malformed";
  const p = r.value;
  if (p.dst[0] === V6_MULTICAST_FIRST_BYTE || p.src.every((b) => b === 0)) return null;
  const src = formatIpv6(p.src);
  const dst = formatIpv6(p.dst);
  if (p.extensions.some((x) => x.kind === "fragment" && x.fragmentOffset !== 0))
    return `${protocolName(p.nextHeader)} ${src} > ${dst} fragment`;
  return transportKey(p.nextHeader, p.payload, src, dst, true);
}

function ipKey(data: Uint8Array): string | null {
  if (data.length === 0) return null;
  const version = data[0] >>> IP_VERSION_SHIFT;
  if (version === ipv4.IPV4_VERSION) return ipv4Key(data);
  if (version === ipv6.IPV6_VERSION) return ipv6Key(data);
  return null;
}

/**
 * The comparable key of one captured packet (`tcp 203.0.113.66:* > 198.51.100.2:22 S`, `icmp A > B type 3 code 3`),
 * or null for what is not compared (see the top of this file). Undecodable IP packets keep a `malformed` key.
 */
export function flowKey(linkType: number, data: Uint8Array): string | null {
  switch (linkType) {
    case LinkType.RAW:
    case LinkType.IPV4:
    case LinkType.IPV6:
      return ipKey(data);
    case LinkType.ETHERNET: {
      const r = ethernet.parse(data);
      if (!r.ok) return null;
      const type = r.value.etherType;
      return type === EtherType.IPV4 || type === EtherType.IPV6 ? ipKey(r.value.payload) : null;
    }
    default:
      return null;
  }
}

/** A capture file reduced to what `lab verify` reports: every record counted, the compared ones as keys. */
export interface CaptureSummary {
  readonly packets: number;
  /** Distinct flow keys, sorted. */
  readonly flows: readonly string[];
}

export function summarizeRecords(records: Iterable<CaptureRecord>): CaptureSummary {
  let packets = 0;
  const flows = new Set<string>();
  for (const r of records) {
    packets++;
    const key = flowKey(r.linkType, r.data);
    if (key !== null) flows.add(key);
  }
  return { packets, flows: [...flows].sort() };
}

/** Reads a capture file with our own reader; an error (missing, damaged) as text. */
export async function summarizeCaptureFile(path: string): Promise<Result<CaptureSummary, string>> {
  let packets = 0;
  const flows = new Set<string>();
  try {
    for await (const r of openCapture(path)) {
      packets++;
      const key = flowKey(r.linkType, r.data);
      if (key !== null) flows.add(key);
    }
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
  return { ok: true, value: { packets, flows: [...flows].sort() } };
}

/** How the flows seen by the kernel and by the simulator on one segment compare. */
export interface FlowComparison {
  /** Keys seen on both sides. */
  readonly matched: number;
  readonly kernelOnly: readonly string[];
  readonly simulatedOnly: readonly string[];
}

export function compareFlows(kernel: readonly string[], simulated: readonly string[]): FlowComparison {
  const k = new Set(kernel);
  const s = new Set(simulated);
  return {
    matched: [...k].filter((x) => s.has(x)).length,
    kernelOnly: [...k].filter((x) => !s.has(x)).sort(),
    simulatedOnly: [...s].filter((x) => !k.has(x)).sort(),
  };
}
