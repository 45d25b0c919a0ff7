// The kernel side of the forged-source attacks (`lab verify`): spoofed-source (UDP, and TCP trial by trial) and
// udp-hole-punch, played by raw-actor.py with raw sockets across the lab's namespaces and judged from what arrived
// (the actor's own observations and the target's listener log). The TCP variant depends on S's random ISN
// (SCENARIOS.md ground truth), so every kernel trial is replayed in the simulator with the same forged sequence
// number and S's ISN as the router saw it, and the two must agree trial by trial.

import { fileURLToPath } from "node:url";
import type { AttackPlan } from "../attacks/attack.js";
import { attackerEndpoint } from "../attacks/attack-run.js";
import { MALLORY_TCP_PORT, MALLORY_UDP_PORT, TCP_TRIALS, runTcpTrial } from "../attacks/spoofed-source.js";
import type { TcpTrial } from "../attacks/spoofed-source.js";
import { STUN_PORT } from "../attacks/actors/stun-server.js";
import { CANDIDATE_PREFIX, OTHER_MALLORY_PORT } from "../attacks/udp-hole-punch.js";
import { SeededRng } from "../engine/index.js";
import type { Network } from "../model/index.js";
import { formatIpv4 } from "../wire/address.js";
import { STUN_TRANSACTION_ID_LEN } from "../wire/stun.js";
import { runCommand } from "./commands.js";
import type { ListenerEvent } from "./listener-service.js";
// Types only: verify.ts imports this module to register the actors, so a value import would be a cycle.
import type { KernelAttack, KernelOutcome, RunningLab } from "./verify.js";

const ACTOR = fileURLToPath(new URL("./raw-actor.py", import.meta.url));
const ACTOR_TIMEOUT_MS = 20_000;
const NETNS_DIR = "/run/netns";

/** The simulator's payloads (attacks/spoofed-source.ts, attacks/udp-hole-punch.ts), byte for byte. */
const FORGED_PAYLOAD = "mallory: forged from the LAN\n";
const MALLORY_REQUEST = "mallory: hello from the internet\n";
const PUNCH = "mallory: punched through your NAT\n";
const SOFTWARE_ANSWER = "software on the LAN: hello Mallory\n";

/** Real-time waits: the lab's links have no delay, so these only bound how long a silent path is waited for. */
const UDP_WAIT_MS = 500;
const TCP_SETTLE_MS = 50;
const TCP_EXCHANGE_MS = 600;
/** The listener logs after its read; give it this long before the log is judged. */
const LOG_SETTLE_MS = 100;
/** As spoofed-source.ts runTcp derives each trial's twin seed. */
const TRIAL_SEED_STRIDE = 0x9e3779b1;
/** Mallory's own ISNs come from a generator apart from the forged sequence numbers' (any value works). */
const MALLORY_ISN_SALT = 0x6d616c6c;
/** An nftables table in Mallory's namespace while a TCP trial runs: its kernel must not answer the forged SYN
 * (a SYN-ACK turns the router's entry into SYN_RECV) nor reset the handshake the raw socket plays. */
const MALLORY_TABLE = "mallory_raw_actor";

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

type ActorReply = { ok: true; value: Record<string, unknown> } | { ok: false; message: string };

/** Runs raw-actor.py (in the host's namespace; it enters the lab's namespaces itself) with one scenario. */
export async function runRawActor(args: Readonly<Record<string, unknown>>): Promise<ActorReply> {
  const out = await runCommand("python3", [ACTOR], { input: JSON.stringify(args), timeoutMs: ACTOR_TIMEOUT_MS });
  const last = out.stdout.trim().split("\n").pop() ?? "";
  if (out.status !== 0 || last === "")
    return { ok: false, message: `raw-actor.py exited ${out.status}: ${(out.stderr.trim() || last).slice(0, 300)}` };
  try {
    return { ok: true, value: JSON.parse(last) as Record<string, unknown> };
  } catch {
    return { ok: false, message: `raw-actor.py printed no JSON: ${last.slice(0, 200)}` };
  }
}

/** Everything an actor needs to know about the lab: namespaces, interfaces, addresses. */
interface Stage {
  readonly attacker: string;
  readonly mallory: string;
  readonly malloryNs: string;
  readonly malloryIf: string;
  readonly foothold: string;
  readonly footholdNs: string;
  readonly target: string;
  readonly targetAddress: string;
  readonly targetNs: string;
  readonly router: string;
  readonly routerNs: string;
  readonly routerLanIf: string;
  readonly routerWanIf: string;
  readonly wan: string;
}

function stage(lab: RunningLab, p: AttackPlan): Stage | string {
  const network = lab.network;
  const m = attackerEndpoint(network);
  if (m === null) return "no internet host is marked attacker";
  if (p.foothold === null) return "the attack needs a foothold on the LAN";
  const foothold = network.hosts.find((h) => h.name === p.foothold);
  const target = network.hosts.find((h) => h.name === p.target.node);
  if (foothold === undefined || target === undefined) return `no LAN host named ${p.foothold} or ${p.target.node}`;
  const router = network.routers.find((r) => r.lans.some((l) => l.lan === target.lan));
  const lanIf = router?.lans.find((l) => l.lan === target.lan)?.interface;
  if (router === undefined || lanIf === undefined) return `LAN ${target.lan} has no router`;
  const attackerNs = lab.plan.namespaces.find((n) => n.role.kind === "node" && n.role.node.name === m.name);
  const malloryIf = attackerNs?.role.kind === "node" ? attackerNs.role.node.interfaces[0]?.name : undefined;
  const ns = (node: string): string | null => {
    const name = lab.namespaceOf(node);
    return name === null ? null : `${NETNS_DIR}/${name}`;
  };
  const [malloryNs, footholdNs, targetNs, routerNs] = [ns(m.name), ns(foothold.name), ns(target.name), ns(router.name)];
  if (malloryNs === null || footholdNs === null || targetNs === null || routerNs === null || malloryIf === undefined)
    return "the lab lacks a namespace of the attack's nodes";
  return {
    attacker: m.name,
    mallory: m.address,
    malloryNs,
    malloryIf,
    foothold: foothold.name,
    footholdNs,
    target: target.name,
    targetAddress: formatIpv4(target.address),
    targetNs,
    router: router.name,
    routerNs,
    routerLanIf: lanIf,
    routerWanIf: router.wan.interface,
    wan: formatIpv4(router.wan.address),
  };
}

const notRunnable = (evidence: string): KernelOutcome => ({ outcome: "not-runnable", evidence });

/** Pings until one answer, every 200 ms for up to this long. */
const WARM_UP_DEADLINE_S = "3";
const WARM_UP_INTERVAL_S = "0.2";
const NEIGHBOUR_DEADLINE_S = "1";

/**
 * Right after `lab up` the first packets on a path are sometimes lost or late (cold neighbour caches, veth carrier
 * coming up), and a lost forged packet would read as "blocked". So the foothold first gets one ping answered by
 * Mallory (a path every model lets out), and the router pings the target once to learn its neighbour entry (the
 * answer does not matter: a host firewall may drop it, ARP is answered anyway). A foothold that cannot reach Mallory
 * makes the attack "not runnable", never a verdict. The pings' conntrack entries never match an attack's tuple and
 * die in the per-trial flush.
 */
async function warmUp(
  lab: RunningLab,
  foothold: string,
  mallory: string,
  neighbour?: { router: string; target: string },
): Promise<string | null> {
  const ping = (node: string, to: string, deadline: string) =>
    lab.exec(node, ["ping", "-n", "-q", "-c", "1", "-i", WARM_UP_INTERVAL_S, "-w", deadline, to]);
  const [out] = await Promise.all([
    ping(foothold, mallory, WARM_UP_DEADLINE_S),
    neighbour === undefined ? null : ping(neighbour.router, neighbour.target, NEIGHBOUR_DEADLINE_S),
  ]);
  return out.status === 0 ? null : `the lab is not ready: ${foothold} cannot ping ${mallory}`;
}

/** Listener events on the target's port from Mallory after index `from` of its log. */
async function arrivals(
  lab: RunningLab,
  s: Stage,
  port: number,
  from: number,
): Promise<{ events: ListenerEvent[]; bytes: number }> {
  await sleep(LOG_SETTLE_MS);
  const events = lab
    .listenerLog(s.target)
    .slice(from)
    .filter((e) => e.event !== "ready" && e.peer === s.mallory && e.port === port);
  let bytes = 0;
  for (const e of events) if (e.event !== "ready" && e.event !== "accept") bytes += e.bytes ?? 0;
  return { events, bytes };
}

// ---------------------------------------------------------------------------------------------------------------
// spoofed-source, UDP

async function spoofedUdp(lab: RunningLab, p: AttackPlan, s: Stage): Promise<KernelOutcome> {
  const port = p.target.port;
  const warm = await warmUp(lab, s.foothold, s.mallory, { router: s.router, target: s.targetAddress });
  if (warm !== null) return notRunnable(warm);
  const logFrom = lab.listenerLog(s.target).length;
  const r = await runRawActor({
    mode: "udp-spoof",
    footholdNs: s.footholdNs,
    malloryNs: s.malloryNs,
    target: s.targetAddress,
    port,
    mallory: s.mallory,
    malloryPort: MALLORY_UDP_PORT,
    forged: FORGED_PAYLOAD,
    request: MALLORY_REQUEST,
    waitMs: UDP_WAIT_MS,
  });
  if (!r.ok) return notRunnable(r.message);
  const got = r.value as { forgedArrived: boolean; mapped: string | null; replyBytes: number };
  const at = await arrivals(lab, s, port, logFrom);
  const details = { variant: "udp", ...got, bytesAtTarget: at.bytes };
  const forged = `${s.foothold} forged ${s.targetAddress}:${port} -> ${s.mallory}:${MALLORY_UDP_PORT}`;
  if (at.bytes > 0 && got.replyBytes > 0)
    return {
      outcome: "breached",
      evidence:
        `${forged}; it arrived from ${got.mapped ?? "?"}; Mallory's datagram to that port reached ${s.target}'s ` +
        `listener (${at.bytes} bytes logged from ${s.mallory}) and its ${got.replyBytes}-byte reply reached Mallory`,
      details,
    };
  return {
    outcome: "blocked",
    evidence: !got.forgedArrived
      ? `${forged}; it never reached Mallory (no mapping was created)`
      : at.bytes === 0
        ? `${forged}; Mallory's datagram to ${got.mapped ?? "?"} never reached ${s.target}'s listener`
        : `${s.target} got Mallory's datagram but its reply never reached Mallory`,
    details,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// spoofed-source, TCP: trials

/** What one kernel trial showed, in the terms of the simulator's TcpTrial. */
export interface KernelTcpTrial {
  readonly forgedSeq: number;
  readonly targetIsn: number | null;
  readonly forgedArrived: boolean;
  readonly established: boolean;
  readonly bytesAtTarget: number;
  readonly bytesAtMallory: number;
  readonly leakedUntranslated: boolean;
}

/** The comparable facts of a trial (the "established or not, leaked or not", plus data at the target). */
export interface TrialFacts {
  readonly established: boolean;
  readonly reachedTarget: boolean;
  readonly leakedUntranslated: boolean;
}

export interface ComparedTrial {
  readonly trial: number;
  readonly seed: number;
  readonly forgedSeq: number;
  readonly targetIsn: number | null;
  /** Whether S's ISN lies before forgedSeq+1 (mod 2^32), SCENARIOS.md's rule. */
  readonly isnBeforeForgedSeq: boolean | null;
  /** The forged SYN reached Mallory (the router made an entry and forwarded it). */
  readonly forgedArrived: boolean;
  readonly kernel: TrialFacts;
  readonly simulated: TrialFacts | null;
  readonly agree: boolean;
  readonly simError?: string;
}

const factsOf = (t: { established: boolean; bytesAtTarget: number; leakedUntranslated: boolean }): TrialFacts => ({
  established: t.established,
  reachedTarget: t.bytesAtTarget > 0,
  leakedUntranslated: t.leakedUntranslated,
});

const sameFacts = (a: TrialFacts, b: TrialFacts): boolean =>
  a.established === b.established &&
  a.reachedTarget === b.reachedTarget &&
  a.leakedUntranslated === b.leakedUntranslated;

const seqBefore = (a: number, b: number): boolean => ((a - b) | 0) < 0;

async function malloryTable(lab: RunningLab, s: Stage, add: boolean): Promise<string | null> {
  const text = add
    ? `table inet ${MALLORY_TABLE} {\n  chain input {\n    type filter hook input priority filter; policy accept;\n` +
      `    tcp dport ${MALLORY_TCP_PORT} drop\n  }\n}\n`
    : `delete table inet ${MALLORY_TABLE}\n`;
  const out = await lab.exec(s.attacker, ["nft", "-f", "-"], { input: text });
  return out.status === 0 ? null : `nft in ${s.attacker}: ${out.stderr.trim()}`;
}

/** One kernel trial: fresh router conntrack, the raw exchange, the target's log, then S's socket table reset. */
async function kernelTrial(
  lab: RunningLab,
  s: Stage,
  port: number,
  forgedSeq: number,
  malloryIsn: number,
): Promise<KernelTcpTrial | string> {
  await lab.exec(s.router, ["conntrack", "-F"]);
  const logFrom = lab.listenerLog(s.target).length;
  const r = await runRawActor({
    mode: "tcp-trial",
    footholdNs: s.footholdNs,
    malloryNs: s.malloryNs,
    routerNs: s.routerNs,
    malloryIf: s.malloryIf,
    routerLanIf: s.routerLanIf,
    routerWanIf: s.routerWanIf,
    target: s.targetAddress,
    port,
    mallory: s.mallory,
    malloryPort: MALLORY_TCP_PORT,
    wan: s.wan,
    forgedSeq,
    malloryIsn,
    request: MALLORY_REQUEST,
    settleMs: TCP_SETTLE_MS,
    exchangeMs: TCP_EXCHANGE_MS,
  });
  if (!r.ok) return r.message;
  const v = r.value as {
    forgedArrived: boolean;
    targetIsn: number | null;
    established: boolean;
    bytesAtMallory: number;
    leakedUntranslated: boolean;
  };
  const at = await arrivals(lab, s, port, logFrom);
  const reset = await runRawActor({
    mode: "tcp-reset",
    targetNs: s.targetNs,
    target: s.targetAddress,
    port,
    mallory: s.mallory,
    malloryPort: MALLORY_TCP_PORT,
    seqs: [malloryIsn + 1, malloryIsn + 1 + MALLORY_REQUEST.length],
  });
  if (!reset.ok) return reset.message;
  return {
    forgedSeq,
    targetIsn: v.targetIsn,
    forgedArrived: v.forgedArrived,
    established: v.established,
    bytesAtTarget: at.bytes,
    bytesAtMallory: v.bytesAtMallory,
    leakedUntranslated: v.leakedUntranslated,
  };
}

/**
 * Runs `trials` kernel trials of the TCP variant and replays each in the simulator with the same forged sequence
 * number and the target's ISN the kernel chose (runTcpTrial). The forged sequence numbers are the simulator's own
 * (spoofed-source.ts runTcp draws them from SeededRng(seed)).
 */
export async function spoofedTcpTrials(
  lab: RunningLab,
  p: AttackPlan,
  seed: number,
  trials: number = TCP_TRIALS,
): Promise<{ ok: true; kernel: KernelTcpTrial[]; compared: ComparedTrial[] } | { ok: false; message: string }> {
  const s = stage(lab, p);
  if (typeof s === "string") return { ok: false, message: s };
  const seqRng = new SeededRng(seed >>> 0);
  const isnRng = new SeededRng((seed ^ MALLORY_ISN_SALT) >>> 0);
  const warm = await warmUp(lab, s.foothold, s.mallory, { router: s.router, target: s.targetAddress });
  if (warm !== null) return { ok: false, message: warm };
  const added = await malloryTable(lab, s, true);
  if (added !== null) return { ok: false, message: added };
  const kernel: KernelTcpTrial[] = [];
  const compared: ComparedTrial[] = [];
  try {
    for (let i = 0; i < trials; i++) {
      const trialSeed = (seed + Math.imul(i, TRIAL_SEED_STRIDE)) >>> 0;
      const forgedSeq = seqRng.nextU32();
      const k = await kernelTrial(lab, s, p.target.port, forgedSeq, isnRng.nextU32());
      if (typeof k === "string") return { ok: false, message: k };
      kernel.push(k);
      const sim = runTcpTrial(lab.network, p, {
        seed: trialSeed,
        forgedSeq,
        ...(k.targetIsn !== null ? { targetIsn: k.targetIsn } : {}),
      });
      const kf = factsOf(k);
      const simTrial: TcpTrial | null = sim.ok ? sim.trial : null;
      const sf = simTrial === null ? null : factsOf(simTrial);
      compared.push({
        trial: i + 1,
        seed: trialSeed,
        forgedSeq,
        targetIsn: k.targetIsn,
        isnBeforeForgedSeq: k.targetIsn === null ? null : seqBefore(k.targetIsn, (forgedSeq + 1) >>> 0),
        forgedArrived: k.forgedArrived,
        kernel: kf,
        simulated: sf,
        agree: sf !== null && sameFacts(kf, sf),
        ...(sim.ok ? {} : { simError: sim.error }),
      });
    }
  } finally {
    await malloryTable(lab, s, false);
  }
  return { ok: true, kernel, compared };
}

async function spoofedTcp(lab: RunningLab, p: AttackPlan, seed: number): Promise<KernelOutcome> {
  const r = await spoofedTcpTrials(lab, p, seed);
  if (!r.ok) return notRunnable(r.message);
  const wins = r.compared.filter((t) => t.kernel.reachedTarget);
  const disagreements = r.compared.filter((t) => !t.agree).map((t) => t.trial);
  const details = { variant: "tcp", trials: r.compared, disagreements };
  const what = `${p.foothold ?? "?"} forged SYNs ${p.target.node}:${p.target.port} -> Mallory:${MALLORY_TCP_PORT}, then Mallory opened from port ${MALLORY_TCP_PORT}`;
  const agreement =
    disagreements.length === 0
      ? `every trial agrees with the simulator replayed with the same ISNs`
      : `trials ${disagreements.join(", ")} disagree with the simulator`;
  if (wins.length > 0)
    return {
      outcome: "breached",
      evidence:
        `${what}: in ${wins.length} of ${r.compared.length} trials (S's ISN before the forged seq+1 in ` +
        `${r.compared.filter((t) => t.isnBeforeForgedSeq === true).length}) Mallory's data reached ` +
        `${p.target.node}'s listener; ${agreement}`,
      details,
    };
  const sawIsn = r.compared.filter((t) => t.targetIsn !== null).length;
  return {
    outcome: "blocked",
    evidence: `${what}: in none of ${r.compared.length} trials did Mallory's data reach ${p.target.node} (S answered in ${sawIsn}); ${agreement}`,
    details,
  };
}

const spoofedSourceKernel: KernelAttack = {
  id: "spoofed-source",
  async run(lab, p, opts) {
    const s = stage(lab, p);
    if (typeof s === "string") return notRunnable(s);
    return p.target.proto === "udp" ? spoofedUdp(lab, p, s) : spoofedTcp(lab, p, opts.seed);
  },
};

// ---------------------------------------------------------------------------------------------------------------
// udp-hole-punch

const holePunchKernel: KernelAttack = {
  id: "udp-hole-punch",
  // Mallory's STUN responder and its second socket are actor sockets, so the listener must leave those ports free.
  labNetwork(network: Network): Network {
    const m = attackerEndpoint(network);
    if (m === null) return network;
    const taken = (port: number): boolean => port === STUN_PORT || port === OTHER_MALLORY_PORT;
    return {
      ...network,
      internetHosts: network.internetHosts.map((h) =>
        h.name === m.name ? { ...h, services: h.services.filter((x) => !(x.proto === "udp" && taken(x.port))) } : h,
      ),
    };
  },
  async run(lab, p, opts) {
    const m = attackerEndpoint(lab.network);
    if (m === null) return notRunnable("no internet host is marked attacker");
    const footholdNs = p.foothold === null ? null : lab.namespaceOf(p.foothold);
    const malloryNs = lab.namespaceOf(m.name);
    if (footholdNs === null || malloryNs === null) return notRunnable("the lab lacks the foothold or Mallory");
    const warm = await warmUp(lab, p.foothold ?? "", m.address);
    if (warm !== null) return notRunnable(warm);
    const rng = new SeededRng(opts.seed >>> 0);
    let transactionId = "";
    for (let i = 0; i < STUN_TRANSACTION_ID_LEN; i++)
      transactionId += (rng.nextU32() & 0xff).toString(16).padStart(2, "0");
    const r = await runRawActor({
      mode: "hole-punch",
      footholdNs: `${NETNS_DIR}/${footholdNs}`,
      malloryNs: `${NETNS_DIR}/${malloryNs}`,
      mallory: m.address,
      softwarePort: p.target.port,
      stunPort: STUN_PORT,
      otherPort: OTHER_MALLORY_PORT,
      transactionId,
      candidatePrefix: CANDIDATE_PREFIX,
      punch: PUNCH,
      answer: SOFTWARE_ANSWER,
      waitMs: UDP_WAIT_MS,
    });
    if (!r.ok) return notRunnable(r.message);
    const v = r.value as {
      mapped: string | null;
      candidate: string | null;
      otherPortReached: boolean;
      punchReached: boolean;
      answered: boolean;
    };
    const details = { ...v };
    const who = `the software on ${p.foothold ?? "?"}:${p.target.port}`;
    if (v.punchReached && v.answered)
      return {
        outcome: "breached",
        evidence:
          `${who} learned ${v.mapped ?? "?"} from Mallory's STUN responder and announced it; Mallory's datagram ` +
          `from ${m.address}:${STUN_PORT} reached it and its answer came back; from port ${OTHER_MALLORY_PORT} it ` +
          (v.otherPortReached ? "got in too" : "did not get in (address-and-port-dependent filtering)"),
        details,
      };
    return {
      outcome: "blocked",
      evidence:
        v.mapped === null
          ? `${who} never learned its mapping from Mallory's STUN responder`
          : v.candidate === null
            ? `${who} learned ${v.mapped} but its candidate never reached Mallory`
            : v.punchReached
              ? `Mallory's datagram reached ${who} but its answer never came back`
              : `Mallory's datagram from ${m.address}:${STUN_PORT} to ${v.candidate} never reached ${who}`,
      details,
    };
  },
};

/** Registered by verify.ts. */
export const RAW_KERNEL_ATTACKS: readonly KernelAttack[] = [spoofedSourceKernel, holePunchKernel];
