// inbound-scan (SCENARIOS.md): Mallory, from the internet only, sends a TCP SYN and a UDP datagram to every port
// that matters on the router's public address, and to every LAN address as if the ISP routed the LAN prefix to the
// router (an on-link ISP neighbour can). A SYN/ACK or a UDP answer from the router or a LAN host is a breach; a
// RST only says "closed". This file also holds the probe every remote/LAN attack of this family uses: open a
// session or send a datagram on a twin, and record what actually came back.

import type { Family } from "../engine/index.js";
import type { Host, Network, Router } from "../model/index.js";
import { addressWords } from "../sim/index.js";
import type { SimNode, TcpConnection } from "../sim/index.js";
import type { Twin } from "../sim/twin.js";
import { formatIpv4 } from "../wire/address.js";
import type {
  Attack,
  AttackPlan,
  AttackRun,
  AttackTarget,
  PlanResult,
  RunOptions,
  StoppedBy,
  TargetProto,
} from "./attack.js";
import { formatTarget } from "./attack.js";
import { attackerEndpoint, buildRunTwin, finishRun, routerOfLan, setupError } from "./attack-run.js";

export const ID = "inbound-scan";

/** Ports every scanner tries (SSH, telnet, DNS, web, SMB, SSDP, RDP, UPnP IGD, NAT-PMP, alternative web). */
export const WELL_KNOWN_PORTS: readonly number[] = [22, 23, 53, 80, 443, 445, 1900, 3389, 5000, 5351, 8080, 8443];

/** Simulated ms a probe waits: a SYN that gets no answer times out after SYN_RTO_MS with no retries. */
export const PROBE_WAIT_MS = 1500;
/** First local UDP port of a prober's sockets (above the services it may run, inside no ephemeral range clash). */
const PROBE_UDP_PORT_BASE = 40000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const PROBE_PAYLOAD = encoder.encode("mallory probe\n");

// ---------------------------------------------------------------------------------------------------------------
// Shared by the attacks of this family.

/** Whether a flow is one of the network's intents (a legitimate flow is not an attack path). */
export function isIntent(network: Network, from: string, t: AttackTarget): boolean {
  return network.intents.some(
    (i) =>
      i.from === from &&
      i.to.kind === "node" &&
      i.to.name === t.node &&
      (i.port === null || i.port === t.port) &&
      (i.proto === null || i.proto === t.proto),
  );
}

/** What came back for one probe. */
export type ProbeAnswer = "session" | "udp-reply" | "reset" | "unreachable" | "silent";

export interface Probe {
  readonly family: Family;
  /** The address probed, as text. */
  readonly address: string;
  readonly port: number;
  readonly proto: TargetProto;
  answer: ProbeAnswer;
  /** Application bytes that came back to the prober (a banner, a reply). */
  bytesBack: number;
  /** The first bytes that came back, as text (a banner says what runs there). */
  firstReply: string | null;
  /** The prober's local port (to find the session at the service). */
  localPort: number;
}

/** Answers that prove a service listens and talks to the prober. */
export const isOpen = (p: Probe): boolean => p.answer === "session" || p.answer === "udp-reply";

/** Where a prober's next UDP socket goes; each node's sockets count from PROBE_UDP_PORT_BASE. */
const nextUdpPort = new WeakMap<SimNode, number>();

/**
 * Starts one probe from `from`: a connect() with no SYN retries that sends a line once established, or a
 * datagram from a socket of its own. The returned record fills in as the clock runs.
 */
export function startProbe(from: SimNode, address: string, port: number, proto: TargetProto): Probe {
  const a = addressWords(address);
  const probe: Probe = {
    family: a?.family ?? 4,
    address,
    port,
    proto,
    answer: "silent",
    bytesBack: 0,
    firstReply: null,
    localPort: 0,
  };
  if (a === null) return probe;
  const got = (data: Uint8Array): void => {
    probe.bytesBack += data.length;
    probe.firstReply ??= decoder.decode(data);
  };
  if (proto === "tcp") {
    const r = from.stack.connect(a.family, a.words, port, {
      synRetries: 0,
      onEstablished: (c: TcpConnection) => {
        probe.answer = "session";
        c.send(PROBE_PAYLOAD);
      },
      onData: (_c, data) => {
        got(data);
      },
      onReset: () => {
        if (probe.answer === "silent") probe.answer = "reset";
      },
      onUnreachable: () => {
        probe.answer = "unreachable";
      },
    });
    if (r.ok) probe.localPort = r.value.lport;
    return probe;
  }
  const sport = nextUdpPort.get(from) ?? PROBE_UDP_PORT_BASE;
  nextUdpPort.set(from, sport + 1);
  probe.localPort = sport;
  from.stack.bindUdp(sport, (d) => {
    if (d.sport === port && d.src.every((w, i) => w === a.words[i])) {
      probe.answer = "udp-reply";
      got(d.payload);
    }
    return null;
  });
  from.stack.sendUdp(a.family, a.words, port, sport, PROBE_PAYLOAD);
  return probe;
}

/**
 * Who stopped a probe: the first drop of a packet toward it (prober → address:port), then of an answer coming
 * back; a RST with no drop anywhere is the service layer (nothing listens).
 */
export function probeStop(twin: Twin, fromAddress: string, p: Probe, node: string): StoppedBy | null {
  const stop =
    twin.stoppedByFromSteps({ src: fromAddress, dst: p.address, dport: p.port }) ??
    twin.stoppedByFromSteps({ src: p.address, sport: p.port, dst: fromAddress });
  if (stop !== null) return stop;
  if (p.answer === "reset" || p.answer === "unreachable")
    return { node, layer: "service", rule: `nothing listens on ${p.port}/${p.proto}` };
  return null;
}

export function describeAnswer(p: Probe): string {
  switch (p.answer) {
    case "session":
      return `a session opened${p.firstReply !== null ? ` (${JSON.stringify(p.firstReply.trim().slice(0, 40))})` : ""}`;
    case "udp-reply":
      return `a ${p.bytesBack}-byte UDP answer came back`;
    case "reset":
      return "a RST came back (closed)";
    case "unreachable":
      return "an ICMP unreachable came back";
    case "silent":
      return "nothing came back";
  }
}

/** Makes the ISP route a router's LAN prefixes to its WAN address, as an on-link neighbour of the router could. */
export function routeLansViaRouter(twin: Twin, network: Network, router: Router): boolean {
  const isp = twin.node("isp");
  const index = network.routers.indexOf(router);
  if (isp === undefined || index < 0) return false;
  const oif = isp.datapath.interfaceIndex(`cust${index}`);
  if (oif < 0) return false;
  const gateway = new Uint32Array([router.wan.address, 0, 0, 0]);
  for (const rl of router.lans) {
    const lan = network.lans.find((l) => l.name === rl.lan);
    if (lan === undefined) continue;
    const r = isp.datapath.fib.addRoute({
      family: 4,
      prefix: new Uint32Array([lan.prefix.addr, 0, 0, 0]),
      prefixLength: lan.prefix.len,
      oif,
      gateway,
    });
    if (!r.ok && r.reason !== "exists") return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// The scan.

/** Every port that matters on this network: the well-known list, every modelled service and every forward. */
export function scanPorts(network: Network): number[] {
  const ports = new Set<number>(WELL_KNOWN_PORTS);
  for (const h of network.hosts) for (const s of h.services) ports.add(s.port);
  for (const h of network.internetHosts) for (const s of h.services) ports.add(s.port);
  for (const r of network.routers) for (const pf of r.portForwards) ports.add(pf.port);
  return [...ports].sort((a, b) => a - b);
}

function plan(network: Network): PlanResult {
  if (attackerEndpoint(network) === null) return { plans: [], notApplicable: "no internet host is marked attacker" };
  const first = scanPorts(network)[0];
  const plans: AttackPlan[] = network.routers.map((r) => ({
    foothold: null,
    target: { node: r.name, port: first, proto: "tcp" },
  }));
  if (plans.length === 0) return { plans, notApplicable: "the network has no router" };
  return { plans };
}

interface ScanTarget {
  readonly node: string;
  readonly address: string;
}

/** Runs the whole scan of the plan's router (the plan's target is probed too, whatever its port). */
function run(network: Network, p: AttackPlan, opts: RunOptions): AttackRun {
  const m = attackerEndpoint(network);
  if (m === null) return setupError("no internet host is marked attacker");
  const host: Host | undefined = network.hosts.find((h) => h.name === p.target.node);
  const router =
    network.routers.find((r) => r.name === p.target.node) ??
    (host !== undefined ? routerOfLan(network, host.lan) : null);
  if (router === null) return setupError(`no router named ${p.target.node} and no LAN host behind one`);
  const twin = buildRunTwin(network, opts);
  if (typeof twin === "string") return setupError(twin);
  const mallory = twin.node(m.name);
  if (mallory === undefined) return setupError("twin lacks the attacker");
  if (!routeLansViaRouter(twin, network, router)) return setupError("the ISP cannot route the LAN to the router");

  const targets: ScanTarget[] = [
    { node: router.name, address: formatIpv4(router.wan.address) },
    ...network.hosts
      .filter((h) => routerOfLan(network, h.lan) === router)
      .map((h) => ({ node: h.name, address: formatIpv4(h.address) })),
  ];
  const ports = scanPorts(network);
  const probes: { node: string; probe: Probe }[] = [];
  for (const t of targets)
    for (const port of ports)
      for (const proto of ["tcp", "udp"] as const)
        probes.push({ node: t.node, probe: startProbe(mallory, t.address, port, proto) });
  const own = targets.find((t) => t.node === p.target.node);
  if (own !== undefined && !ports.includes(p.target.port))
    probes.push({ node: own.node, probe: startProbe(mallory, own.address, p.target.port, p.target.proto) });
  twin.sim.run({ until: twin.sim.now + PROBE_WAIT_MS });

  const answered = probes.filter((x) => isOpen(x.probe));
  const closed = probes.filter((x) => x.probe.answer === "reset" || x.probe.answer === "unreachable");
  const row = (x: { node: string; probe: Probe }) => ({
    node: x.node,
    address: x.probe.address,
    port: x.probe.port,
    proto: x.probe.proto,
    answer: x.probe.answer,
  });
  const details = {
    probes: probes.length,
    ports,
    addresses: targets.map((t) => t.address),
    answered: answered.map(row),
    closed: closed.map(row),
  };
  const scope = `${probes.length} probes (${ports.length} ports, TCP and UDP) to ${targets.map((t) => t.address).join(", ")}`;
  if (answered.length > 0) {
    const hit = answered[0];
    const list = answered.map((x) => `${x.node}:${x.probe.port}/${x.probe.proto}`).join(", ");
    return finishRun(twin, opts, {
      attack: ID,
      capability: "remote",
      target: formatTarget({ node: hit.node, port: hit.probe.port, proto: hit.probe.proto }),
      foothold: null,
      outcome: "breached",
      stoppedBy: null,
      evidence: `of ${scope}, ${answered.length} answered from the internet: ${list}; first: ${describeAnswer(hit.probe)}`,
      details,
    });
  }
  let stoppedBy: StoppedBy | null = null;
  for (const x of probes) {
    const stop = probeStop(twin, m.address, x.probe, x.node);
    if (stop !== null && (stoppedBy === null || stop.layer !== "service")) stoppedBy = stop;
    if (stoppedBy !== null && stoppedBy.layer !== "service") break;
  }
  return finishRun(twin, opts, {
    attack: ID,
    capability: "remote",
    target: formatTarget(p.target),
    foothold: null,
    outcome: "blocked",
    stoppedBy,
    evidence:
      `none of ${scope} got a SYN/ACK or a UDP answer` +
      (closed.length > 0 ? `; ${closed.length} drew a RST or ICMP error (closed, not open)` : ""),
    details,
  });
}

export const inboundScan: Attack = {
  id: ID,
  capability: "remote",
  summary: "SYN and UDP probes from the internet to the router's public address and to LAN addresses routed to it",
  plan,
  run,
};
