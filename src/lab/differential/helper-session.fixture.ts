// A TCP session through a masquerading router with a conntrack helper (FTP or SIP) on one port, run the same way
// through the kernel rig and through the engine, so a test compares what leaves each router segment by segment
// (ftp-seqadj.test.ts, sip-tcp.test.ts).

import { Datapath } from "../../engine/datapath.js";
import type { DatapathSink } from "../../engine/datapath.js";
import type { Expr, Origin, Rule, Ruleset, Selector, Value } from "../../engine/filter/index.js";
import { badChecksums, tcpPacket } from "../../engine/nat/packets.fixture.js";
import { readU16, readU32 } from "../../wire/bytes.js";
import { Ipv4Field } from "../../wire/ipv4.js";
import { TcpField } from "../../wire/tcp.js";
import type { KernelRig } from "./kernel-rig.js";
import { rigRouterOptions } from "./replay.js";
import { RouterAddress } from "./scenario.js";
import type { Side } from "./scenario.js";

export const SERVER = "203.0.113.5";
export const CLIENT_PORT = 40000;
export const CLIENT_ISN = 1000;
export const SERVER_ISN = 70000;

const enc = new TextEncoder();
const dec = new TextDecoder("latin1");

const SOURCE = "helper-session.nft";
const at = (line: number): Origin => ({ source: SOURCE, line, column: 1 });
const rule = (line: number, ...exprs: Expr[]): Rule => ({ origin: at(line), exprs });
const match = (left: Selector, right: Value, op: "==" | "in" = "=="): Expr => ({ kind: "match", left, op, right });
const str = (value: string): Value => ({ kind: "string", value });
const ACCEPT: Expr = { kind: "accept" };

export type HelperName = "ftp" | "sip";

/**
 * Masquerade, stateful forward, and `helper` on TCP `port` (SEMANTICS §2.11: helpers are assigned explicitly),
 * through a ct helper object named otherwise ("<helper>-standard"), as fw4 and the nftables wiki write it.
 */
export function helperRuleset(helper: HelperName, port: number): Ruleset {
  return {
    tables: [
      {
        family: "inet",
        name: "fw",
        origin: at(1),
        ctHelpers: [{ name: `${helper}-standard`, origin: at(2), type: helper, protocol: "tcp" }],
        chains: [
          {
            name: "helpers",
            origin: at(5),
            base: { type: "filter", hook: "prerouting", priority: 0, policy: "accept" },
            rules: [
              rule(6, match({ kind: "payload", protocol: "tcp", field: "dport" }, { kind: "int", value: port }), {
                kind: "ct-helper-set",
                name: `${helper}-standard`,
              }),
            ],
          },
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
        ],
      },
    ],
  };
}

/** A router under test, seen as the segments it emits and the state of the helped connection. */
export interface HelperRouter {
  /** Sends an IP packet in from `side`; the summaries of what left the router on either side. */
  send(side: Side, packet: Uint8Array): Promise<string[]>;
  /** The TCP state conntrack lists for `client`'s connection to `port` ("none" without one). */
  state(client: string, port: number): string;
}

export class KernelHelperRouter implements HelperRouter {
  constructor(private readonly rig: KernelRig) {}

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
}

export class EngineHelperRouter implements HelperRouter {
  private readonly dp: Datapath;
  private now = 0;
  private readonly out: string[] = [];
  private readonly sink: DatapathSink = {
    transmit: (o, bytes, l3, length) => {
      this.out.push(segmentSummary(o === 0 ? "wan" : "lan", bytes.subarray(l3, l3 + length)));
    },
    deliver: () => undefined,
  };

  constructor(helper: HelperName, port: number) {
    const built = Datapath.create(rigRouterOptions(helperRuleset(helper, port)));
    if (!built.ok) throw new Error(built.error.message);
    this.dp = built.value;
  }

  send(side: Side, packet: Uint8Array): Promise<string[]> {
    this.out.length = 0;
    this.now += 10;
    this.dp.receive(packet, 0, packet.length, side === "wan" ? 0 : 1, this.now, this.sink);
    return Promise.resolve(this.out.slice());
  }

  state(client: string, port: number): string {
    const e = this.dp.conntrack.list().find((v) => v.original.src === client && v.original.dport === port);
    return e === undefined ? "none" : e.state;
  }
}

/** What of an emitted TCP segment both routers must agree on (the IP ident is each stack's own counter). */
export function segmentSummary(side: Side, b: Uint8Array): string {
  const ip = (o: number): string => `${String(b[o])}.${String(b[o + 1])}.${String(b[o + 2])}.${String(b[o + 3])}`;
  const l4 = (b[Ipv4Field.VER_IHL] & 0x0f) * 4;
  const payload = dec.decode(b.subarray(l4 + (b[l4 + TcpField.DATA_OFF] >> 4) * 4));
  const csum = badChecksums(b).length === 0 ? "ok" : `bad:${badChecksums(b).join(",")}`;
  return (
    `${side} ${ip(Ipv4Field.SRC)}:${String(readU16(b, l4 + TcpField.SRC_PORT))} > ` +
    `${ip(Ipv4Field.DST)}:${String(readU16(b, l4 + TcpField.DST_PORT))} len=${String(readU16(b, Ipv4Field.LENGTH))} ` +
    `flags=${String(b[l4 + TcpField.FLAGS])} seq=${String(readU32(b, l4 + TcpField.SEQ))} ` +
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
