// c2-beacon (SCENARIOS.md): an implant (user code) on a LAN host polls Mallory's command-and-control server every
// few seconds over an outbound TCP connection to port 443; Mallory answers a poll with a command, and the implant
// runs it and sends the output back. The connection is outbound, so a stateful firewall that allows the host out
// allows every reply too: only an egress allow-list (or a proxy) stops it. Breached when a command came back and
// its output reached Mallory.

import type { Network } from "../model/index.js";
import type { SimNode } from "../sim/index.js";
import { formatIpv4 } from "../wire/address.js";
import type { Attack, AttackPlan, AttackRun, PlanResult, RunOptions } from "./attack.js";
import { formatTarget } from "./attack.js";
import { attackerEndpoint, buildRunTwin, finishRun, routerOfLan, setupError } from "./attack-run.js";
import { userFootholds } from "./lateral-movement.js";

export const ID = "c2-beacon";
/** HTTPS: the port egress filters leave open. */
export const C2_PORT = 443;
/** The implant's poll interval and how many polls the run lets it make (simulated time). */
export const BEACON_INTERVAL_MS = 5000;
export const BEACONS = 3;
/** A poll's SYN is retried once (after 1 s) before the implant waits for its next beacon. */
const POLL_SYN_RETRIES = 1;
const SETTLE_MS = 3000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
export const C2_COMMAND = "CMD id\n";
const POLL = "POLL";
const RESULT = "RESULT";

/** What Mallory's C2 server saw. */
export interface C2Log {
  polls: number;
  commandsSent: number;
  /** The command output the implant sent back, as text. */
  results: string[];
}

/** Mallory's C2 server: answers a poll with a command and records what comes back. */
export function startC2Server(node: SimNode, port: number): C2Log {
  const log: C2Log = { polls: 0, commandsSent: 0, results: [] };
  node.stack.listenTcp(port, {
    onData: (c, data) => {
      const text = decoder.decode(data);
      if (text.startsWith(POLL)) {
        log.polls++;
        if (c.send(encoder.encode(C2_COMMAND))) log.commandsSent++;
      } else if (text.startsWith(RESULT)) {
        log.results.push(text.slice(RESULT.length).trim());
      }
    },
  });
  return log;
}

/** One poll of the implant: connect, say POLL, run `id` when told to and send its output back. */
export function startImplantPoll(node: SimNode, hostName: string, c2: Uint32Array, port: number): void {
  node.stack.connect(4, c2, port, {
    synRetries: POLL_SYN_RETRIES,
    onEstablished: (c) => c.send(encoder.encode(`${POLL} ${hostName}\n`)),
    onData: (c, data) => {
      if (decoder.decode(data) !== C2_COMMAND) return;
      c.send(encoder.encode(`${RESULT} uid=1000(user) gid=1000(user) host=${hostName}\n`));
      c.close();
    },
  });
}

function c2Port(network: Network, attacker: string): number {
  const host = network.internetHosts.find((h) => h.name === attacker);
  return host?.services.find((s) => s.name === "c2" && s.proto === "tcp")?.port ?? C2_PORT;
}

function plan(network: Network): PlanResult {
  const m = attackerEndpoint(network);
  if (m === null) return { plans: [], notApplicable: "no internet host is marked attacker" };
  const port = c2Port(network, m.name);
  const plans: AttackPlan[] = userFootholds(network)
    .filter((h) => routerOfLan(network, h.lan) !== null)
    .map((h) => ({ foothold: h.name, target: { node: m.name, port, proto: "tcp" } }));
  if (plans.length === 0) return { plans, notApplicable: "no LAN host behind a router" };
  return { plans };
}

const HONEST_NOTE =
  "the implant's connections are outbound: a stateful firewall accepts them and their replies by design, so NAT " +
  "and 'established,related' cannot stop a beacon; only an egress allow-list or a proxy that the implant cannot use would";

function run(network: Network, p: AttackPlan, opts: RunOptions): AttackRun {
  const m = attackerEndpoint(network);
  if (m === null) return setupError("no internet host is marked attacker");
  if (p.foothold === null) return setupError("c2-beacon needs a foothold (a LAN host running the implant)");
  const foothold = network.hosts.find((h) => h.name === p.foothold);
  if (foothold === undefined) return setupError(`no LAN host named ${p.foothold}`);
  const c2Name = p.target.node;
  const c2Host = network.internetHosts.find((h) => h.name === c2Name);
  if (c2Host === undefined) return setupError(`no internet host named ${c2Name}`);
  const twin = buildRunTwin(network, opts);
  if (typeof twin === "string") return setupError(twin);
  const server = twin.node(c2Name);
  const implant = twin.node(foothold.name);
  if (server === undefined || implant === undefined) return setupError("twin lacks a node");
  const port = p.target.port;
  const log = startC2Server(server, port);
  const c2Words = new Uint32Array([c2Host.address, 0, 0, 0]);
  const start = twin.sim.now;
  for (let i = 0; i < BEACONS; i++)
    twin.sim.clock.after(i * BEACON_INTERVAL_MS, () => {
      if (log.results.length === 0) startImplantPoll(implant, foothold.name, c2Words, port);
    });
  twin.sim.run({ until: start + (BEACONS - 1) * BEACON_INTERVAL_MS + SETTLE_MS });

  const fromAddress = formatIpv4(foothold.address);
  const c2Address = formatIpv4(c2Host.address);
  const base = {
    attack: ID,
    capability: "user-code" as const,
    target: formatTarget(p.target),
    foothold: foothold.name,
  };
  const details = {
    polls: log.polls,
    commandsSent: log.commandsSent,
    results: log.results,
    intervalMs: BEACON_INTERVAL_MS,
  };
  if (log.results.length > 0)
    return finishRun(twin, opts, {
      ...base,
      outcome: "breached",
      stoppedBy: null,
      evidence:
        `the implant on ${foothold.name} polled ${c2Address}:${port}; Mallory answered ${JSON.stringify(C2_COMMAND.trim())} ` +
        `and the output came back: ${JSON.stringify(log.results[0])}`,
      note: HONEST_NOTE,
      details,
    });
  const stoppedBy =
    twin.stoppedByFromSteps({ src: fromAddress, dst: c2Address, dport: port }) ??
    twin.stoppedByFromSteps({ src: c2Address, sport: port, dst: fromAddress });
  return finishRun(twin, opts, {
    ...base,
    outcome: "blocked",
    stoppedBy,
    evidence:
      log.polls === 0
        ? `none of ${BEACONS} polls from ${foothold.name} reached ${c2Address}:${port}`
        : `Mallory saw ${log.polls} polls but no command output came back`,
    details,
  });
}

export const c2Beacon: Attack = {
  id: ID,
  capability: "user-code",
  summary: "an implant on a LAN host polls Mallory's C2 server on 443 and runs the command it gets back",
  plan,
  run,
};
