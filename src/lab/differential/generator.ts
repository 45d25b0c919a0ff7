// Random differential cases from a seed (SeededRng: the same seed gives the same case, so a failing seed is a
// reproducible regression case). A case is 1–3 flows and 1–6 packets: TCP handshakes either way, mid-stream
// pickups, RSTs, FINs, invalid flag combinations, out-of-window segments, UDP both ways, ICMP echo and errors
// quoting earlier packets, forged LAN sources (same subnet and off-subnet) and forged WAN sources, under a random
// ruleset variant. Small pools of addresses and ports make NAT clashes (and so the kernel's port search) common.

import { SeededRng } from "../../engine/rng.js";
import type { Dir, Endpoint, Flow, FlowProto, RulesetVariant, Scenario, Side, Step } from "./scenario.js";
import { FORWARD_TARGET, Flags, RouterAddress, TCP_FORWARD, UDP_FORWARD } from "./scenario.js";

const LAN_SOURCES = ["192.168.1.10", "192.168.1.20", "192.168.1.30", "192.168.1.99", "10.9.9.9"] as const;
const INTERNET_HOSTS = ["203.0.113.5", "203.0.113.7", "192.0.2.9"] as const;
/** A WAN-side packet claiming a LAN source (the router forwards it with rp_filter=0). */
const FORGED_WAN_SOURCE = "192.168.1.10";
const CLIENT_PORTS = [40000, 40001, 33333, 1000, 5000] as const;
const SERVER_PORTS = [80, 443, 53] as const;
const ECHO_IDS = [0x1234, 0x4321] as const;
const MAX_STEPS = 6;
/** Far outside any window the tracker could have opened (nf_conntrack_proto_tcp.c tcp_in_window). */
const OUT_OF_WINDOW = 0x40000000;

class Pick {
  constructor(readonly rng: SeededRng) {}
  int(lo: number, hi: number): number {
    return this.rng.between(lo, hi);
  }
  chance(p: number): boolean {
    return this.rng.nextU32() / 0x100000000 < p;
  }
  one<T>(xs: readonly T[]): T {
    return xs[this.rng.between(0, xs.length - 1)];
  }
}

function randomVariant(p: Pick): RulesetVariant {
  return {
    forwardPolicy: p.chance(0.75) ? "drop" : "accept",
    inputPolicy: p.chance(0.5) ? "drop" : "accept",
    invalidDrop: p.chance(0.5),
    nat: p.chance(0.7) ? "masquerade" : "snat",
    portForward: p.chance(0.4),
    egressDrop: p.chance(0.3),
  };
}

function natAddress(v: RulesetVariant): string {
  return v.nat === "masquerade" ? RouterAddress.WAN : RouterAddress.SNAT;
}

function randomFlow(p: Pick, v: RulesetVariant): Flow {
  const proto: FlowProto = p.one(["tcp", "tcp", "tcp", "udp", "udp", "icmp"] as const);
  const from: Side = p.chance(0.65) ? "lan" : "wan";
  const port = (): number => (proto === "icmp" ? p.one(ECHO_IDS) : p.one(CLIENT_PORTS));
  if (from === "lan") {
    const client: Endpoint = { addr: p.one(LAN_SOURCES), port: port() };
    const server: Endpoint = { addr: p.one(INTERNET_HOSTS), port: proto === "icmp" ? 0 : p.one(SERVER_PORTS) };
    return {
      proto,
      from,
      client,
      server,
      fallbackReply: { src: server, dst: { addr: natAddress(v), port: client.port } },
    };
  }
  const client: Endpoint = { addr: p.chance(0.2) ? FORGED_WAN_SOURCE : p.one(INTERNET_HOSTS), port: port() };
  if (v.portForward && proto !== "icmp" && p.chance(0.6)) {
    const fwd = proto === "tcp" ? TCP_FORWARD : UDP_FORWARD;
    const server: Endpoint = { addr: RouterAddress.WAN, port: fwd.outside };
    return {
      proto,
      from,
      client,
      server,
      fallbackReply: { src: { addr: FORWARD_TARGET, port: fwd.inside }, dst: client },
    };
  }
  const server: Endpoint = { addr: p.one(["192.168.1.10", "192.168.1.20"]), port: proto === "icmp" ? 0 : 22 };
  return { proto, from, client, server, fallbackReply: { src: server, dst: client } };
}

interface TcpCursor {
  /** Next sequence number of each direction (what that endpoint believes). */
  orig: number;
  reply: number;
  wscale: boolean;
}

type TcpKind = "syn" | "synack" | "ack" | "data" | "fin" | "rst" | "bad" | "oow";

function tcpStep(p: Pick, flow: number, c: TcpCursor, kind: TcpKind, dir: Dir): Step {
  const other: Dir = dir === "orig" ? "reply" : "orig";
  let flags: number = Flags.ACK;
  let payload = 0;
  let seq = c[dir];
  let ack = c[other];
  switch (kind) {
    case "syn":
      flags = Flags.SYN;
      ack = 0;
      break;
    case "synack":
      flags = Flags.SYN | Flags.ACK;
      break;
    case "data":
      flags = Flags.PSH | Flags.ACK;
      payload = p.int(1, 100);
      break;
    case "fin":
      flags = Flags.FIN | Flags.ACK;
      break;
    case "rst":
      flags = p.chance(0.5) ? Flags.RST : Flags.RST | Flags.ACK;
      if (flags === Flags.RST) ack = 0;
      break;
    case "bad":
      flags = p.one([Flags.SYN | Flags.FIN, Flags.SYN | Flags.RST, 0, Flags.FIN, Flags.FIN | Flags.PSH | 0x20]);
      break;
    case "oow":
      seq = (seq + OUT_OF_WINDOW) >>> 0;
      break;
    case "ack":
      break;
  }
  const wscale = (flags & Flags.SYN) !== 0 && c.wscale ? 7 : null;
  c[dir] = (c[dir] + payload + ((flags & Flags.SYN) !== 0 ? 1 : 0) + ((flags & Flags.FIN) !== 0 ? 1 : 0)) >>> 0;
  return { kind: "tcp", flow, dir, flags, seq, ack, payload, wscale };
}

/** The packets of one TCP flow: an honest template, or random segments in random directions. */
function tcpSteps(p: Pick, flow: number, budget: number): Step[] {
  const c: TcpCursor = { orig: p.rng.nextU32(), reply: p.rng.nextU32(), wscale: p.chance(0.5) };
  const template: [TcpKind, Dir][] = p.one([
    [
      ["syn", "orig"],
      ["synack", "reply"],
      ["ack", "orig"],
      ["data", "orig"],
      ["ack", "reply"],
      ["fin", "orig"],
    ],
    [
      ["syn", "orig"],
      ["synack", "reply"],
      ["ack", "orig"],
      ["fin", "reply"],
      ["fin", "orig"],
      ["ack", "reply"],
    ],
    [
      ["ack", "orig"],
      ["data", "reply"],
      ["ack", "orig"],
    ],
    [
      ["data", "orig"],
      ["ack", "reply"],
    ],
    [
      ["syn", "orig"],
      ["synack", "reply"],
      ["rst", p.one(["orig", "reply"] as const)],
      ["ack", "orig"],
    ],
    [
      ["syn", "orig"],
      ["rst", "reply"],
    ],
    [
      ["syn", "orig"],
      ["synack", "reply"],
      ["oow", p.one(["orig", "reply"] as const)],
      ["ack", "orig"],
    ],
    [
      ["bad", "orig"],
      ["syn", "orig"],
    ],
    [["synack", "orig"]],
    [
      ["syn", "orig"],
      ["syn", "orig"],
      ["synack", "reply"],
    ],
    [
      ["syn", "orig"],
      ["syn", "reply"],
    ],
  ]);
  const random = p.chance(0.25);
  const n = Math.min(budget, random ? p.int(1, 4) : template.length);
  const out: Step[] = [];
  for (let i = 0; i < n; i++) {
    const [kind, dir] = random
      ? [
          p.one(["syn", "synack", "ack", "data", "fin", "rst", "bad", "oow"] as const),
          p.one(["orig", "reply"] as const),
        ]
      : template[i];
    out.push(tcpStep(p, flow, c, kind, dir));
  }
  return out;
}

function flowSteps(p: Pick, f: Flow, flow: number, budget: number): Step[] {
  if (f.proto === "tcp") return tcpSteps(p, flow, budget);
  const n = Math.min(budget, p.int(1, 3));
  const out: Step[] = [];
  for (let i = 0; i < n; i++) {
    // Mostly request first then replies; sometimes an unsolicited reply.
    const dir: Dir = i === 0 ? (p.chance(0.85) ? "orig" : "reply") : p.chance(0.5) ? "orig" : "reply";
    out.push(
      f.proto === "udp" ? { kind: "udp", flow, dir, payload: p.int(0, 40) } : { kind: "echo", flow, dir, seq: i + 1 },
    );
  }
  return out;
}

/** Interleaves per-flow step lists, keeping each flow's own order. */
function interleave(p: Pick, lists: Step[][]): Step[] {
  const out: Step[] = [];
  const at = lists.map(() => 0);
  for (;;) {
    const open = lists.map((l, i) => i).filter((i) => at[i] < lists[i].length);
    if (open.length === 0) return out;
    const i = p.one(open);
    out.push(lists[i][at[i]++]);
  }
}

/** The case of a seed. */
export function generateScenario(seed: number): Scenario {
  const p = new Pick(new SeededRng(seed));
  const variant = randomVariant(p);
  const flows: Flow[] = [];
  const nFlows = p.int(1, 3);
  for (let i = 0; i < nFlows; i++) {
    const f = randomFlow(p, variant);
    // A second LAN flow sometimes reuses the first one's port and server from another host: a NAT clash.
    const first = flows[0] as Flow | undefined;
    if (first?.from === "lan" && f.from === "lan" && first.proto === f.proto && p.chance(0.5))
      flows.push({
        ...f,
        client: { ...f.client, port: first.client.port },
        server: first.server,
        fallbackReply: { src: first.server, dst: { addr: f.fallbackReply.dst.addr, port: first.client.port } },
      });
    else flows.push(f);
  }
  let budget = p.int(1, MAX_STEPS);
  const lists: Step[][] = [];
  flows.forEach((f, i) => {
    if (budget <= 0) return;
    const share = i === flows.length - 1 ? budget : p.int(1, budget);
    const steps = flowSteps(p, f, i, share);
    budget -= steps.length;
    lists.push(steps);
  });
  const steps = interleave(p, lists);
  if (steps.length < MAX_STEPS && p.chance(0.3))
    steps.push({ kind: "icmp-error", about: p.int(0, steps.length - 1), reporter: p.chance(0.5) ? "host" : "router" });
  return { name: `seed-${seed}`, variant, flows: flows.slice(0, lists.length), steps };
}
