// udp-hole-punch (SCENARIOS.md, SEMANTICS.md §6.2): software on a LAN host asks Mallory's STUN server for its
// public mapping (RFC 8489 Binding, XOR-MAPPED-ADDRESS), tells Mallory that candidate over the same socket, and
// Mallory then sends UDP inward to it. The router's masquerade is endpoint-independent mapping, so the candidate
// is the port every destination sees; its filtering decides who may use it: with Linux's address-and-port-dependent
// filtering only Mallory's STUN address and port match the conntrack entry's reply tuple, which the run shows by
// probing from a second Mallory port first. Breached when Mallory's datagram reaches the software and its answer
// reaches Mallory: a two-way channel through the NAT that the LAN host opened itself.

import type { Network } from "../model/index.js";
import type { SimStep, UdpDatagram } from "../sim/index.js";
import { formatIpv4, parseIpv4 } from "../wire/address.js";
import { bytesEqual } from "../wire/bytes.js";
import * as stun from "../wire/stun.js";
import type { Attack, AttackPlan, AttackRun, PlanResult, RunOptions, StoppedBy } from "./attack.js";
import { formatTarget } from "./attack.js";
import type { Cast } from "./actors/cast.js";
import { castFor, ipWords, runFor, userHosts } from "./actors/cast.js";
import { attackerOf, finishRun, setupError } from "./attack-run.js";
import { STUN_PORT, StunServer } from "./actors/stun-server.js";
import { SeededRng } from "../engine/index.js";

export const ID = "udp-hole-punch";

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && bytesEqual(a, 0, b, 0, a.length);

/** The software's UDP socket on the foothold (an ephemeral port, as a P2P client binds). */
export const SOFTWARE_PORT = 41641;
/** Mallory's second socket: a source the NAT's entry has never seen. */
export const OTHER_MALLORY_PORT = STUN_PORT + 1;
/** Each phase lasts long enough for a round trip over the 5 ms internet links. */
const PHASE_MS = 100;
const MAX_PORT = 65535;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** The rendezvous message: the candidate the software learned (ICE's server-reflexive candidate, RFC 8445 §5.1.1). */
export const CANDIDATE_PREFIX = "candidate srflx ";
const PUNCH = encoder.encode("mallory: punched through your NAT\n");
const SOFTWARE_ANSWER = encoder.encode("software on the LAN: hello Mallory\n");

function plan(network: Network): PlanResult {
  if (attackerOf(network) === null) return { plans: [], notApplicable: "no internet host is marked attacker" };
  const plans: AttackPlan[] = userHosts(network).map((h) => ({
    foothold: h.name,
    target: { node: h.name, port: SOFTWARE_PORT, proto: "udp" },
  }));
  if (plans.length === 0) return { plans, notApplicable: "no LAN host behind a router runs a user's software" };
  return { plans };
}

/** What the software on the foothold saw and did. */
interface Software {
  mapped: stun.StunAddress | null;
  /** Mallory's datagrams that reached the software, by Mallory's source port. */
  readonly reachedFrom: number[];
}

function startSoftware(cast: Cast, port: number, transactionId: Uint8Array): Software {
  const sw: Software = { mapped: null, reachedFrom: [] };
  cast.foothold.node.stack.bindUdp(port, (d: UdpDatagram) => {
    if (d.src[0] !== cast.mallory.words[0]) return null;
    const m = stun.parse(d.payload);
    if (m.ok) {
      // RFC 8489 §6.3.3: a response is matched to its request by transaction ID.
      if (m.value.class === stun.StunClass.SUCCESS && sameBytes(m.value.transactionId, transactionId))
        sw.mapped = stun.mappedAddress(m.value) ?? null;
      return null;
    }
    sw.reachedFrom.push(d.sport);
    return SOFTWARE_ANSWER;
  });
  return sw;
}

/** The candidate Mallory read from a rendezvous message that arrived at its STUN port. */
export function candidateOf(payload: Uint8Array): { address: string; port: number } | null {
  const text = decoder.decode(payload);
  if (!text.startsWith(CANDIDATE_PREFIX)) return null;
  const m = /^([0-9.]{7,15}):(\d{1,5})$/.exec(text.slice(CANDIDATE_PREFIX.length).trim());
  if (m === null) return null;
  const address = parseIpv4(m[1]);
  const port = Number(m[2]);
  if (address === null || port < 1 || port > MAX_PORT) return null;
  return { address: formatIpv4(address), port };
}

function run(network: Network, p: AttackPlan, opts: RunOptions): AttackRun {
  const built = castFor(network, p.foothold, { seed: opts.seed });
  if (!built.ok) return setupError(built.error);
  const cast = built.cast;
  const { twin, mallory, foothold } = cast;
  const port = p.target.port;
  const target = formatTarget(p.target);

  const server = new StunServer(mallory.node.stack, () => twin.sim.now);
  const atOtherPort: UdpDatagram[] = [];
  mallory.node.stack.bindUdp(OTHER_MALLORY_PORT, (d) => {
    atOtherPort.push(d);
    return null;
  });
  const transactionId = new Uint8Array(stun.STUN_TRANSACTION_ID_LEN);
  const rng = new SeededRng(opts.seed >>> 0);
  for (let i = 0; i < transactionId.length; i++) transactionId[i] = rng.nextU32() & 0xff;
  const sw = startSoftware(cast, port, transactionId);

  // 1. The Binding request: the software's first datagram to the internet creates the router's mapping.
  foothold.node.stack.sendUdp(4, mallory.words, STUN_PORT, port, stun.emit(stun.bindingRequest(transactionId)));
  runFor(twin, PHASE_MS);
  const base = { attack: ID, capability: "user-code" as const, target, foothold: foothold.name };
  const softwareFlow = (s: SimStep): boolean => s.packet.startsWith(`${foothold.address}:${port} > `);
  if (sw.mapped === null || sw.mapped.family !== 4) {
    const reachedMallory = server.bindings.length > 0;
    return finishRun(twin, opts, {
      ...base,
      outcome: "blocked",
      stoppedBy: twin.stoppedByFromSteps(softwareFlow),
      evidence: reachedMallory
        ? `Mallory's STUN server answered, but the Binding response never reached the software on ${foothold.name}`
        : `the software's STUN Binding request from ${foothold.address}:${port} never reached Mallory:${STUN_PORT}`,
      details: { mapped: null, bindingsAtMallory: server.bindings.length },
    });
  }
  const mapped = `${formatIpv4(sw.mapped.address)}:${sw.mapped.port}`;

  // 2. Rendezvous: the software tells Mallory its candidate; Mallory uses only what arrived.
  const rendezvousFrom = server.other.length;
  foothold.node.stack.sendUdp(4, mallory.words, STUN_PORT, port, encoder.encode(`${CANDIDATE_PREFIX}${mapped}\n`));
  runFor(twin, PHASE_MS);
  let candidate: { address: string; port: number } | null = null;
  for (const d of server.other.slice(rendezvousFrom)) candidate ??= candidateOf(d.payload);
  if (candidate === null)
    return finishRun(twin, opts, {
      ...base,
      outcome: "blocked",
      stoppedBy: twin.stoppedByFromSteps(softwareFlow),
      evidence: `the software learned ${mapped} but its candidate message never reached Mallory`,
      details: { mapped },
    });
  const candidateWords = ipWords(candidate.address);

  // 3. A datagram from a port the router's entry has never seen: what the NAT's filtering lets in.
  const stepsBeforeOther = twin.sim.steps.length;
  mallory.node.stack.sendUdp(4, candidateWords, candidate.port, OTHER_MALLORY_PORT, PUNCH);
  runFor(twin, PHASE_MS);
  const otherPortReached = sw.reachedFrom.includes(OTHER_MALLORY_PORT);
  const otherPortDrop = otherPortReached
    ? null
    : twin.stoppedByFromSteps({ src: mallory.address, sport: OTHER_MALLORY_PORT }, stepsBeforeOther);

  // 4. The punch from Mallory's STUN address and port: the reply tuple of the software's own entry.
  const answersBefore = server.other.length;
  const stepsBeforePunch = twin.sim.steps.length;
  server.send(candidateWords, candidate.port, PUNCH);
  runFor(twin, PHASE_MS);
  const punchReached = sw.reachedFrom.includes(STUN_PORT);
  const answered = server.other
    .slice(answersBefore)
    .some((d) => d.from === candidate.address && sameBytes(d.payload, SOFTWARE_ANSWER));

  const filtering = otherPortReached
    ? `Mallory's datagram from port ${OTHER_MALLORY_PORT} reached the software too: the router's filtering is ` +
      `endpoint-independent, so anyone can use the mapping once it exists`
    : `Mallory's datagram from port ${OTHER_MALLORY_PORT} did not get in` +
      (otherPortDrop !== null ? ` (${otherPortDrop.node}: ${otherPortDrop.layer}, ${otherPortDrop.rule})` : "") +
      `: only the exact ${mallory.address}:${STUN_PORT} -> ${mapped}, the reply of the entry the software ` +
      `created, gets in (Linux masquerade filters by address and port)`;
  const details = {
    mapped,
    candidate: `${candidate.address}:${candidate.port}`,
    otherPortReached,
    otherPortStoppedBy: otherPortDrop,
    punchReached,
    answered,
  };
  if (punchReached && answered)
    return finishRun(twin, opts, {
      ...base,
      outcome: "breached",
      stoppedBy: null,
      evidence:
        `the software on ${foothold.name} learned ${mapped} from Mallory's STUN server and announced it; Mallory's ` +
        `datagram from ${mallory.address}:${STUN_PORT} to ${mapped} reached ${target} and its answer reached Mallory. ` +
        filtering,
      note:
        "NAT traversal works by design: the LAN host's own datagram created the conntrack entry, and Mallory's " +
        "datagram from the address and port it was sent to is that entry's reply, which every stateful firewall " +
        "accepts. Only egress filtering of UDP to unknown hosts (an allow-list or a proxy) stops it; this is a " +
        "capability of any code running on the host, not a misconfiguration.",
      details,
    });
  const stop: StoppedBy | null =
    twin.stoppedByFromSteps({ src: mallory.address, sport: STUN_PORT }, stepsBeforePunch) ??
    twin.stoppedByFromSteps(softwareFlow, stepsBeforePunch);
  return finishRun(twin, opts, {
    ...base,
    outcome: "blocked",
    stoppedBy: stop,
    evidence: punchReached
      ? `Mallory's datagram reached ${target} but the software's answer never came back`
      : `Mallory's datagram from ${mallory.address}:${STUN_PORT} to ${mapped} never reached ${target}`,
    details,
  });
}

export const udpHolePunch: Attack = {
  id: ID,
  capability: "user-code",
  summary: "software on a LAN host learns its public mapping by STUN and lets Mallory send UDP in through it",
  plan,
  run,
};
