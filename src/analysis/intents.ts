// Intent checking (ARCHITECTURE.md layer 8, "least-privilege audit against declared intents"): every legitimate
// flow of the model is tried with real packets on a fresh twin, and holds only if the packets say so: a TCP
// handshake completes, or a UDP datagram reaches the service and its reply returns. A fix that closes an attack
// but breaks an intent is not a fix, so the audit reports these beside its findings.

import type { Intent, Network } from "../model/index.js";
import { addressWords } from "../sim/index.js";
import type { SimNode } from "../sim/index.js";
import { buildTwin } from "../sim/twin.js";
import type { StoppedBy, Twin } from "../sim/twin.js";
import * as ipv4 from "../wire/ipv4.js";

export interface IntentCheck {
  /** The intent as written, e.g. `u -> s:5432/tcp`. */
  readonly intent: string;
  readonly holds: boolean;
  /** One sentence on what the packets did. */
  readonly evidence: string;
  /** What dropped the flow when it does not hold (node, layer, rule); null when it holds or nothing was named. */
  readonly stoppedBy: StoppedBy | null;
}

export interface IntentOptions {
  readonly seed?: number;
}

/** Simulated time a check runs: the internet is 5 ms one way, so a handshake through it takes ~20 ms. */
const CHECK_MS = 500;
/** The client's UDP port; fixed so the reply finds the socket. */
const CLIENT_UDP_PORT = 40000;
/** Where an intent to "the internet" goes when it names no port: a web server (SCENARIOS.md: U → internet). */
const DEFAULT_INTERNET_PORT = 80;
const UDP_PROTOCOL = 17;
const UDP_DPORT_OFFSET = 2;
const encoder = new TextEncoder();
const PROBE = encoder.encode("mallory intent check\n");

/** One concrete flow an intent stands for: a client node, a destination address and port, a protocol. */
interface Probe {
  readonly client: string;
  /** The node that should receive it (for the evidence and the listener), and the address to send to. */
  readonly server: string;
  readonly address: string;
  readonly port: number;
  readonly proto: "tcp" | "udp";
  /** How the address was chosen, for the evidence ("via the port forward on router"). */
  readonly via: string | null;
}

type ProbePlan =
  { readonly ok: true; readonly probes: readonly Probe[] } | { readonly ok: false; readonly why: string };

function internetTarget(network: Network, port: number | null): { name: string; port: number } | null {
  const wanted = port ?? DEFAULT_INTERNET_PORT;
  // A benign host first: the intent is about reaching the internet, not the attacker.
  const hosts = [...network.internetHosts].sort((a, b) => Number(a.attacker) - Number(b.attacker));
  const serving = hosts.find((h) => h.services.some((s) => s.port === wanted));
  const any = serving ?? hosts.at(0);
  return any === undefined ? null : { name: any.name, port: wanted };
}

/** Turns an intent into the flows that prove it; an internet client reaches a LAN host through a port forward. */
function plan(network: Network, intent: Intent, twin: Twin): ProbePlan {
  const proto = intent.proto ?? "tcp";
  if (intent.to.kind === "internet") {
    const t = internetTarget(network, intent.port);
    if (t === null) return { ok: false, why: "the model has no internet host to reach" };
    const address = twin.address(t.name);
    if (address === null) return { ok: false, why: `no address for ${t.name}` };
    return { ok: true, probes: [{ client: intent.from, server: t.name, address, port: t.port, proto, via: null }] };
  }
  const to = intent.to.name;
  const host = network.hosts.find((h) => h.name === to);
  const internetFrom = network.internetHosts.some((h) => h.name === intent.from);
  const ports =
    intent.port !== null
      ? [{ port: intent.port, proto }]
      : (host?.services ?? network.internetHosts.find((h) => h.name === to)?.services ?? []).map((s) => ({
          port: s.port,
          proto: s.proto,
        }));
  if (ports.length === 0) return { ok: false, why: `${to} lists no service to try` };
  const probes: Probe[] = [];
  for (const p of ports) {
    if (host !== undefined && internetFrom) {
      // From the internet a LAN host is reachable only through a port forward of its router.
      const router = twin.routerFor(to);
      const pf = router?.portForwards.find((f) => f.to === to && f.toPort === p.port && f.proto === p.proto);
      const wan = router === null ? null : twin.address(router.name);
      if (router === null || pf === undefined || wan === null)
        return { ok: false, why: `no port forward exposes ${to}:${p.port}/${p.proto} to the internet` };
      probes.push({
        client: intent.from,
        server: to,
        address: wan,
        port: pf.port,
        proto: p.proto,
        via: `the port forward ${p.proto}/${pf.port} on ${router.name}`,
      });
      continue;
    }
    const address = twin.address(to);
    if (address === null) return { ok: false, why: `no address for ${to}` };
    probes.push({ client: intent.from, server: to, address, port: p.port, proto: p.proto, via: null });
  }
  return { ok: true, probes };
}

interface ProbeOutcome {
  readonly reached: boolean;
  readonly evidence: string;
}

function words(text: string): Uint32Array {
  return addressWords(text)?.words ?? new Uint32Array(4);
}

function udpDport(packet: Uint8Array): number | null {
  const ip = ipv4.parse(packet);
  if (!ip.ok || ip.value.protocol !== UDP_PROTOCOL) return null;
  const l4 = ip.value.payload;
  return (l4[UDP_DPORT_OFFSET] << 8) | l4[UDP_DPORT_OFFSET + 1];
}

/** Starts one probe on the twin; the returned function reads its outcome after the clock has run. */
function startProbe(twin: Twin, p: Probe, client: SimNode, server: SimNode): () => ProbeOutcome {
  const where = `${p.server} ${p.address}:${p.port}/${p.proto}${p.via === null ? "" : ` (via ${p.via})`}`;
  if (p.proto === "tcp") {
    // An intent to the internet may name a port nobody modelled: the far end is a generic server that accepts.
    if (twin.kind(p.server) === "internet") server.stack.listenTcp(p.port, {});
    let established = false;
    let refused = false;
    const r = client.stack.connect(4, words(p.address), p.port, {
      synRetries: 0,
      onEstablished: () => {
        established = true;
      },
      onReset: () => {
        refused = true;
      },
    });
    return () => {
      if (!r.ok) return { reached: false, evidence: `${p.client} cannot connect to ${where}: ${r.error}` };
      if (established) return { reached: true, evidence: `${p.client} completed a TCP handshake with ${where}` };
      return {
        reached: false,
        evidence: `${p.client}'s TCP connection to ${where} ${refused ? "was reset" : "never completed its handshake"}`,
      };
    };
  }
  let atServer = 0;
  let replies = 0;
  if (twin.kind(p.server) === "internet") server.stack.bindUdp(p.port, (d) => d.payload.slice());
  const previous = server.stack.sniff;
  server.stack.sniff = (bytes, now) => {
    previous?.(bytes, now);
    if (udpDport(bytes) === p.port) atServer++;
  };
  client.stack.bindUdp(CLIENT_UDP_PORT, () => {
    replies++;
    return null;
  });
  const sent = client.stack.sendUdp(4, words(p.address), p.port, CLIENT_UDP_PORT, PROBE);
  return () => {
    if (!sent) return { reached: false, evidence: `${p.client} has no route to ${where}` };
    if (atServer > 0 && replies > 0)
      return { reached: true, evidence: `${p.client}'s datagram reached ${where} and the reply came back` };
    return {
      reached: false,
      evidence:
        atServer === 0
          ? `${p.client}'s datagram never reached ${where}`
          : `${p.client}'s datagram reached ${where} but no reply came back`,
    };
  };
}

/** Checks one intent on a fresh twin built from `network`. */
export function checkIntent(network: Network, intent: Intent, opts: IntentOptions = {}): IntentCheck {
  const built = buildTwin(network, { seed: opts.seed ?? 1 });
  if (!built.ok)
    return {
      intent: intent.text,
      holds: false,
      evidence: `the twin does not build: ${built.diagnostics.map((d) => d.message).join("; ")}`,
      stoppedBy: null,
    };
  const twin = built.twin;
  const planned = plan(network, intent, twin);
  if (!planned.ok) return { intent: intent.text, holds: false, evidence: planned.why, stoppedBy: null };
  const reads: (() => ProbeOutcome)[] = [];
  for (const p of planned.probes) {
    const client = twin.node(p.client);
    const server = twin.node(p.server);
    if (client === undefined || server === undefined)
      return {
        intent: intent.text,
        holds: false,
        evidence: `the twin lacks ${p.client} or ${p.server}`,
        stoppedBy: null,
      };
    reads.push(startProbe(twin, p, client, server));
  }
  twin.sim.run({ until: twin.sim.now + CHECK_MS });
  const outcomes = reads.map((read) => read());
  const failed = outcomes.find((o) => !o.reached);
  if (failed === undefined)
    return { intent: intent.text, holds: true, evidence: outcomes.map((o) => o.evidence).join("; "), stoppedBy: null };
  // The twin carries only this intent's packets, so the first drop on it is what broke the flow.
  return {
    intent: intent.text,
    holds: false,
    evidence: failed.evidence,
    stoppedBy: twin.stoppedByFromSteps(() => true),
  };
}

/** Checks every intent of the network, each on its own fresh twin. */
export function checkIntents(network: Network, opts: IntentOptions = {}): IntentCheck[] {
  return network.intents.map((i) => checkIntent(network, i, opts));
}
