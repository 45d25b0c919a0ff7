// TCP sessions through a masquerading router, run the same way through the kernel rig and through the engine, so a
// test compares what leaves each router segment by segment (flow-cache.test.ts, ftp-seqadj.test.ts, sip-tcp.test.ts).

import { Datapath } from "../../engine/datapath.js";
import type { DatapathSink } from "../../engine/datapath.js";
import type { Chain, Expr, Origin, Rule, Ruleset, Selector, Value } from "../../engine/filter/index.js";
import { badChecksums, tcpPacket, udpPacket } from "../../engine/nat/packets.fixture.js";
import { Proto } from "../../engine/packet-meta.js";
import { readU16, readU32 } from "../../wire/bytes.js";
import { Ipv4Field } from "../../wire/ipv4.js";
import { TcpField } from "../../wire/tcp.js";
import { UDP_HEADER_LEN } from "../../wire/udp.js";
import { ExpectFlag } from "../../engine/conntrack/index.js";
import { KernelRig } from "./kernel-rig.js";
import { rigRouterOptions } from "./replay.js";
import { RouterAddress } from "./scenario.js";
import type { Side } from "./scenario.js";

export const SERVER = "203.0.113.5";
export const CLIENT_PORT = 40000;
export const CLIENT_ISN = 1000;
export const SERVER_ISN = 70000;

const enc = new TextEncoder();
const dec = new TextDecoder("latin1");

const SOURCE = "session.nft";
const at = (line: number): Origin => ({ source: SOURCE, line, column: 1 });
const rule = (line: number, ...exprs: Expr[]): Rule => ({ origin: at(line), exprs });
const match = (left: Selector, right: Value, op: "==" | "in" = "=="): Expr => ({ kind: "match", left, op, right });
const str = (value: string): Value => ({ kind: "string", value });
const ACCEPT: Expr = { kind: "accept" };
const COUNTER: Expr = { kind: "counter" };

export type HelperName = "ftp" | "sip";

export interface SessionPolicy {
  /** A conntrack helper on a TCP port, through a ct helper object named otherwise ("<helper>-standard"), as fw4
   *  and the nftables wiki write it (SEMANTICS §2.11: helpers are assigned explicitly). */
  readonly helper?: { readonly type: HelperName; readonly port: number; readonly protocol?: "tcp" | "udp" };
  /** A counter on the `ct state established,related accept` rule. */
  readonly counter?: boolean;
}

/** Masquerade on wan; forward: established and related, then LAN → WAN; the rest dropped. */
export function sessionRuleset(policy: SessionPolicy = {}): Ruleset {
  const helper = policy.helper;
  const helperName = helper === undefined ? "" : `${helper.type}-standard`;
  const helperProto = helper?.protocol ?? "tcp";
  const chains: Chain[] = [
    {
      name: "forward",
      origin: at(8),
      base: { type: "filter", hook: "forward", priority: 0, policy: "drop" },
      rules: [
        rule(
          9,
          match(
            { kind: "ct", key: "state" },
            {
              kind: "set",
              elements: [
                { kind: "symbol", name: "established" },
                { kind: "symbol", name: "related" },
              ],
            },
            "in",
          ),
          ...(policy.counter === true ? [COUNTER] : []),
          ACCEPT,
        ),
        rule(
          10,
          match({ kind: "meta", key: "iifname" }, str("lan")),
          match({ kind: "meta", key: "oifname" }, str("wan")),
          ACCEPT,
        ),
      ],
    },
    {
      name: "postrouting",
      origin: at(12),
      base: { type: "nat", hook: "postrouting", priority: 100, policy: "accept" },
      rules: [rule(13, match({ kind: "meta", key: "oifname" }, str("wan")), { kind: "masquerade" })],
    },
  ];
  if (helper !== undefined)
    chains.unshift({
      name: "helpers",
      origin: at(5),
      base: { type: "filter", hook: "prerouting", priority: 0, policy: "accept" },
      rules: [
        rule(
          6,
          match({ kind: "payload", protocol: helperProto, field: "dport" }, { kind: "int", value: helper.port }),
          {
            kind: "ct-helper-set",
            name: helperName,
          },
        ),
      ],
    });
  return {
    tables: [
      {
        family: "inet",
        name: "fw",
        origin: at(1),
        ...(helper === undefined
          ? {}
          : { ctHelpers: [{ name: helperName, origin: at(2), type: helper.type, protocol: helperProto }] }),
        chains,
      },
    ],
  };
}

/** A router under test, seen as the segments it emits and the states of its TCP connections. */
export interface SessionRouter {
  /** Sends an IP packet in from `side`; the summaries of what left the router on either side. */
  send(side: Side, packet: Uint8Array): Promise<string[]>;
  /** The TCP state conntrack lists for `client`'s connection to `port` ("none" without one). */
  state(client: string, port: number): string;
  /** "src:sport STATE" of every TCP connection, sorted. */
  states(): string[];
  /** Every expectation as "proto src:sport > dst:dport flags", sorted (flags: PERMANENT, INACTIVE; src * = any). */
  expectations(): string[];
  /** The seconds left to `client`'s connection to `port` over `proto` (-1 without one). */
  timeout(proto: "tcp" | "udp", client: string, port: number): number;
}

export class KernelSessionRouter implements SessionRouter {
  constructor(private readonly rig: KernelRig) {}

  expectations(): string[] {
    // conntrack -L expect: "<timeout> proto=17 src=… dst=… sport=0 dport=5060 mask-src=… … master-src=… … PERMANENT,INACTIVE …".
    return this.rig
      .expectationsText()
      .split("\n")
      .filter((l) => l.includes("proto="))
      .map((l) => {
        const w = l.trim().split(/\s+/);
        const field = (k: string): string => w.find((x) => x.startsWith(`${k}=`))?.slice(k.length + 1) ?? "?";
        const flags = ["PERMANENT", "INACTIVE"].filter((f) => w.some((x) => x.split(",").includes(f)));
        const maskSrc = field("mask-src");
        const src = maskSrc === "0.0.0.0" ? "*" : field("src");
        return `${field("proto")} ${src}:${field("sport")} > ${field("dst")}:${field("dport")} ${flags.join(",")}`;
      })
      .sort();
  }

  timeout(proto: "tcp" | "udp", client: string, port: number): number {
    const line = this.rig
      .conntrackText()
      .split("\n")
      .find((l) => l.startsWith(proto) && l.includes(`src=${client} `) && l.includes(` dport=${String(port)} `));
    return line === undefined ? -1 : Number(line.trim().split(/\s+/)[2]);
  }

  async send(side: Side, packet: Uint8Array): Promise<string[]> {
    return (await this.rig.send(side, packet)).map((e) => segmentSummary(e.side, e.bytes));
  }

  state(client: string, port: number): string {
    // conntrack -L: "tcp 6 <timeout> <STATE> src=… dport=<port> … [ASSURED] …".
    const line = this.rig
      .conntrackText()
      .split("\n")
      .find((l) => l.includes(`src=${client} `) && l.includes(` dport=${String(port)} `));
    return line === undefined ? "none" : (line.trim().split(/\s+/)[3] ?? "?");
  }

  states(): string[] {
    return this.rig
      .conntrackText()
      .split("\n")
      .filter((l) => l.startsWith("tcp"))
      .map((l) => {
        const w = l.trim().split(/\s+/);
        const field = (k: string): string => w.find((x) => x.startsWith(`${k}=`))?.slice(k.length + 1) ?? "?";
        return `${field("src")}:${field("sport")} ${w[3]}`;
      })
      .sort();
  }
}

/** One receive-ring buffer: room for any packet the sessions send. */
const RING_SLOT = 256;
const RING_SLOTS = 4;

/**
 * The engine as the rig's router. With `ring`, packets arrive in one receive ring, buffer after buffer, as a driver
 * hands them (the early IPv4 path takes those; with `compiled`, the ring is the WebAssembly fast path's); without,
 * each in an array of its own.
 */
export class EngineSessionRouter implements SessionRouter {
  readonly dp: Datapath;
  private now = 0;
  private readonly ring: Uint8Array | null;
  private at = 0;
  private readonly out: string[] = [];
  private readonly sink: DatapathSink = {
    transmit: (o, bytes, l3, length) => {
      this.out.push(segmentSummary(o === 0 ? "wan" : "lan", bytes.subarray(l3, l3 + length)));
    },
    deliver: () => undefined,
  };

  /** `compiled`: the receive ring is the WebAssembly fast path's (DatapathOptions.fastPath), implying `ring`. */
  constructor(ruleset: Ruleset, opts: { readonly ring?: boolean; readonly compiled?: boolean } = {}) {
    const compiled = opts.compiled === true;
    const fastPath = compiled ? { fastPath: { ringBytes: RING_SLOTS * RING_SLOT } } : {};
    const built = Datapath.create({ ...rigRouterOptions(ruleset), ...fastPath });
    if (!built.ok) throw new Error(built.error.message);
    this.dp = built.value;
    this.ring = compiled ? this.dp.receiveRing : opts.ring === true ? new Uint8Array(RING_SLOTS * RING_SLOT) : null;
  }

  send(side: Side, packet: Uint8Array): Promise<string[]> {
    this.out.length = 0;
    this.now += 10;
    const iif = side === "wan" ? 0 : 1;
    const ring = this.ring;
    if (ring === null) this.dp.receive(packet, 0, packet.length, iif, this.now, this.sink);
    else {
      const at = this.at;
      this.at = (at + RING_SLOT) % ring.length;
      ring.set(packet, at);
      this.dp.receive(ring, at, packet.length, iif, this.now, this.sink);
    }
    return Promise.resolve(this.out.slice());
  }

  state(client: string, port: number): string {
    const e = this.dp.conntrack.list().find((v) => v.original.src === client && v.original.dport === port);
    return e === undefined ? "none" : e.state;
  }

  expectations(): string[] {
    const flags = (f: number): string =>
      [f & ExpectFlag.PERMANENT ? "PERMANENT" : "", f & ExpectFlag.INACTIVE ? "INACTIVE" : ""]
        .filter((x) => x !== "")
        .join(",");
    return this.dp.conntrack
      .listExpectations()
      .map(
        (x) => `${String(x.proto)} ${x.src ?? "*"}:${String(x.sport)} > ${x.dst}:${String(x.dport)} ${flags(x.flags)}`,
      )
      .sort();
  }

  timeout(proto: "tcp" | "udp", client: string, port: number): number {
    const p = proto === "tcp" ? Proto.TCP : Proto.UDP;
    const e = this.dp.conntrack
      .list()
      .find((v) => v.proto === p && v.original.src === client && v.original.dport === port);
    return e === undefined ? -1 : Math.floor((e.timeoutAt - this.now) / 1000);
  }

  states(): string[] {
    return this.dp.conntrack
      .list()
      .filter((e) => e.proto === 6 && e.confirmed)
      .map((e) => `${e.original.src}:${String(e.original.sport)} ${e.state}`)
      .sort();
  }
}

/** What of an emitted TCP segment or UDP datagram both routers must agree on (the IP ident is each stack's own). */
export function segmentSummary(side: Side, b: Uint8Array): string {
  const ip = (o: number): string => `${String(b[o])}.${String(b[o + 1])}.${String(b[o + 2])}.${String(b[o + 3])}`;
  const l4 = (b[Ipv4Field.VER_IHL] & 0x0f) * 4;
  const udp = b[Ipv4Field.PROTOCOL] === Proto.UDP;
  const payload = dec.decode(b.subarray(udp ? l4 + UDP_HEADER_LEN : l4 + (b[l4 + TcpField.DATA_OFF] >> 4) * 4));
  const csum = badChecksums(b).length === 0 ? "ok" : `bad:${badChecksums(b).join(",")}`;
  const ends =
    `${side} ${ip(Ipv4Field.SRC)}:${String(readU16(b, l4 + TcpField.SRC_PORT))} > ` +
    `${ip(Ipv4Field.DST)}:${String(readU16(b, l4 + TcpField.DST_PORT))} len=${String(readU16(b, Ipv4Field.LENGTH))}`;
  if (udp) return `${ends} udp ${JSON.stringify(payload)} csum=${csum}`;
  return (
    `${ends} flags=${String(b[l4 + TcpField.FLAGS])} seq=${String(readU32(b, l4 + TcpField.SEQ))} ` +
    `ack=${String(readU32(b, l4 + TcpField.ACK))} ${JSON.stringify(payload)} csum=${csum}`
  );
}

/** A segment from the LAN client to SERVER:`port`. */
export function fromClient(
  client: string,
  port: number,
  seq: number,
  ack: number,
  flags: number,
  data = "",
): Uint8Array {
  return tcpPacket(client, CLIENT_PORT, SERVER, port, { flags, seq, ack, payload: enc.encode(data) });
}

/** A segment from SERVER:`sport` to the router's WAN address on `dport`. */
export function fromServer(
  sport: number,
  dport: number,
  seq: number,
  ack: number,
  flags: number,
  data = "",
): Uint8Array {
  return tcpPacket(SERVER, sport, RouterAddress.WAN, dport, { flags, seq, ack, payload: enc.encode(data) });
}

/** A UDP datagram from the LAN client's `sport` to SERVER:`port`. */
export function udpFromClient(client: string, sport: number, port: number, data: string): Uint8Array {
  return udpPacket(client, sport, SERVER, port, enc.encode(data));
}

/** A UDP datagram from SERVER:`sport` to the router's WAN address on `dport`. */
export function udpFromServer(sport: number, dport: number, data: string): Uint8Array {
  return udpPacket(SERVER, sport, RouterAddress.WAN, dport, enc.encode(data));
}
