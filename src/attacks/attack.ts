// The attack module interface (ARCHITECTURE.md layer 7, SCENARIOS.md catalogue). An attack is an actor with an
// attacker capability: it plans footholds and targets on a network, then runs on a fresh twin and judges success
// only from what actually arrived (bytes at a service, an established session, a reply at Mallory), never from the
// configuration alone. Its result is the `simulate --json` contract (ARCHITECTURE.md "Command-line contract").

import type { Network } from "../model/index.js";
import type { StoppedBy, StopLayer, TwinStep } from "../sim/twin.js";

export type { StoppedBy, StopLayer };

/** Attacker capabilities, weakest first (SCENARIOS.md "Attacker capabilities"). */
export type Capability = "remote" | "web-visitor" | "user-code" | "root-code" | "lan-device";

export const CAPABILITIES: readonly Capability[] = ["remote", "web-visitor", "user-code", "root-code", "lan-device"];

export type TargetProto = "tcp" | "udp";

/** A service an attack aims at, by model node name. */
export interface AttackTarget {
  readonly node: string;
  readonly port: number;
  readonly proto: TargetProto;
}

/** One time-ordered event of the run (`simulate --trace`, the `steps` field of the JSON contract). */
export type AttackStep = TwinStep;

export type Outcome = "breached" | "blocked";

export interface AttackResult {
  readonly attack: string;
  readonly capability: Capability;
  /** `node:port/proto` */
  readonly target: string;
  /** The model node the attacker starts from (a LAN host for user-code/root-code); null for remote attacks. */
  readonly foothold: string | null;
  readonly outcome: Outcome;
  /** What stopped a blocked attack (node, layer, rule by file:line:col); null when breached or nothing named. */
  readonly stoppedBy: StoppedBy | null;
  /** One sentence on what arrived (or did not) that decided the outcome. */
  readonly evidence: string;
  /** Time-ordered packet walks; empty unless the run was asked to trace. */
  readonly steps: readonly AttackStep[];
  /** Honest caveats (e.g. "succeeds about half the time per trial; a patient attacker retries"). */
  readonly note?: string;
  /** Attack-specific facts for machines (e.g. per-trial ISNs); extra JSON fields are allowed by the contract. */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** Where an attack starts and what it aims at. */
export interface AttackPlan {
  readonly foothold: string | null;
  readonly target: AttackTarget;
}

export interface PlanResult {
  /** Every sensible (foothold, target) pair on this network; empty when the attack does not apply. */
  readonly plans: readonly AttackPlan[];
  /** Why there is nothing to try (set when `plans` is empty). */
  readonly notApplicable?: string;
}

export interface RunOptions {
  /** Seed of the twin (ports, ISNs); the same seed gives the same packets. */
  readonly seed: number;
  /** Fill `steps` with every packet walk (costs time and memory). */
  readonly trace: boolean;
  /** Directory to write one pcapng per segment of the (last) twin into; must exist. */
  readonly pcapDir?: string;
}

/** A run that could not happen at all (the twin does not build, the plan names unknown nodes). */
export interface AttackRunError {
  readonly kind: "attack-setup";
  readonly message: string;
}

export type AttackRun =
  | { readonly ok: true; readonly result: AttackResult; readonly pcaps: readonly string[] }
  | { readonly ok: false; readonly error: AttackRunError };

export interface Attack {
  /** Stable id from SCENARIOS.md's catalogue, e.g. `spoofed-source`. */
  readonly id: string;
  readonly capability: Capability;
  /** One line for `mallory attacks`. */
  readonly summary: string;
  /** Preconditions and the default footholds/targets on this network. */
  plan(network: Network): PlanResult;
  /** Builds a fresh twin, starts the actors, runs the clock, and judges from what actually arrived. */
  run(network: Network, plan: AttackPlan, opts: RunOptions): AttackRun;
}

export function formatTarget(t: AttackTarget): string {
  return `${t.node}:${t.port}/${t.proto}`;
}

/**
 * Parses `NODE:PORT/PROTO` (`--to`); PROTO defaults to tcp.
 * Returns null when the text is not of that form.
 */
export function parseTarget(text: string): AttackTarget | null {
  const m = /^([A-Za-z0-9_.-]+):(\d{1,5})(?:\/(tcp|udp))?$/.exec(text);
  if (m === null) return null;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return null;
  return { node: m[1], port, proto: m[3] === "udp" ? "udp" : "tcp" };
}

/**
 * Runs the chosen plans (or every plan) and folds them into one result, as a patient attacker would: breached if
 * any plan breached (that result is returned), else the first blocked result.
 */
export function runPlans(
  attack: Attack,
  network: Network,
  plans: readonly AttackPlan[],
  opts: RunOptions,
): AttackRun | null {
  let first: AttackRun | null = null;
  for (const plan of plans) {
    const r = attack.run(network, plan, opts);
    if (!r.ok) return r;
    if (r.result.outcome === "breached") return r;
    first ??= r;
  }
  return first;
}
