// What every attack's `run` needs around its actors: the attacker and the router of a LAN in the model, a fresh
// twin (or the model's diagnostics when it does not build), a setup error, and the finished result with its steps
// and pcaps. One home for these, so that all attacks report a run the same way.

import type { InternetHost, Network, Router } from "../model/index.js";
import { buildTwin } from "../sim/twin.js";
import type { Twin, TwinBuild } from "../sim/twin.js";
import { formatIpv4 } from "../wire/address.js";
import type { AttackResult, AttackRun, RunOptions } from "./attack.js";

/** The internet host marked `attacker: true` (Mallory), if any. */
export function attackerOf(network: Network): InternetHost | null {
  return network.internetHosts.find((h) => h.attacker) ?? null;
}

/** Mallory's name and address as text, as the actors address it. */
export interface Attacker {
  readonly name: string;
  readonly address: string;
}

export function attackerEndpoint(network: Network): Attacker | null {
  const m = attackerOf(network);
  return m === null ? null : { name: m.name, address: formatIpv4(m.address) };
}

/** The router that serves a LAN, if any. */
export function routerOfLan(network: Network, lan: string): Router | null {
  return network.routers.find((r) => r.lans.some((l) => l.lan === lan)) ?? null;
}

export function setupError(message: string): AttackRun {
  return { ok: false, error: { kind: "attack-setup", message } };
}

/** The built twin, or the model's diagnostics as `file:line:col: message` lines. */
export function twinOf(built: TwinBuild): Twin | string {
  if (built.ok) return built.twin;
  return built.diagnostics.map((d) => `${d.file}:${d.line}:${d.column}: ${d.message}`).join("\n");
}

/** Builds the twin of a run; a string when it does not build. */
export function buildRunTwin(network: Network, opts: RunOptions): Twin | string {
  return twinOf(buildTwin(network, { seed: opts.seed }));
}

/** The run's result with its steps (when traced) and pcaps (when asked for). */
export function finishRun(twin: Twin, opts: RunOptions, result: Omit<AttackResult, "steps">): AttackRun {
  const pcaps = opts.pcapDir !== undefined ? twin.sim.writePcaps(opts.pcapDir) : [];
  return { ok: true, result: { ...result, steps: opts.trace ? twin.steps() : [] }, pcaps };
}
