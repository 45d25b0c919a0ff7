// The cast of one attack run: a fresh twin of the network, Mallory (the internet host marked attacker) and the LAN
// host the attacker has a foothold on, with the router that serves it. Attacks start their actors on these nodes,
// run the clock, and read back what arrived; this file only finds the players and packages the result.

import type { Host, Network, Router } from "../../model/index.js";
import { addressWords } from "../../sim/index.js";
import type { SimNode } from "../../sim/index.js";
import { buildTwin } from "../../sim/twin.js";
import type { Twin, TwinOptions } from "../../sim/twin.js";
import { formatIpv4 } from "../../wire/address.js";
import { attackerOf, routerOfLan, twinOf } from "../attack-run.js";

/** A node of the run, with its IPv4 address as text and as the simulator's words. */
export interface Player {
  readonly name: string;
  readonly address: string;
  readonly words: Uint32Array;
  readonly node: SimNode;
}

export interface Cast {
  readonly twin: Twin;
  readonly mallory: Player;
  readonly foothold: Player & { readonly host: Host };
  readonly router: Router;
  /** The router's public (WAN) address as text. */
  readonly wanAddress: string;
}

export type CastResult = { readonly ok: true; readonly cast: Cast } | { readonly ok: false; readonly error: string };

/** LAN hosts behind a router where a user runs software or a browser: workstations and browsing hosts first. */
export function userHosts(network: Network): Host[] {
  const behind = network.hosts.filter((h) => routerOfLan(network, h.lan) !== null);
  const users = behind.filter((h) => h.role === "workstation" || h.browses);
  return users.length > 0 ? users : behind;
}

/** LAN hosts whose user opens web pages (the web-visitor foothold). */
export function browsingHosts(network: Network): Host[] {
  return network.hosts.filter((h) => h.browses && routerOfLan(network, h.lan) !== null);
}

/** The simulator's address words of IPv4 text (all zero if the text is not an address). */
export function ipWords(text: string): Uint32Array {
  return addressWords(text)?.words ?? new Uint32Array(4);
}

/** Builds a fresh twin and finds Mallory, the foothold host and its router in it. */
export function castFor(network: Network, footholdName: string | null, twinOptions: TwinOptions): CastResult {
  const m = attackerOf(network);
  if (m === null) return { ok: false, error: "no internet host is marked attacker" };
  if (footholdName === null) return { ok: false, error: "this attack needs a foothold (a LAN host)" };
  const host = network.hosts.find((h) => h.name === footholdName);
  if (host === undefined) return { ok: false, error: `no LAN host named ${footholdName}` };
  const router = routerOfLan(network, host.lan);
  if (router === null) return { ok: false, error: `LAN ${host.lan} of ${host.name} has no router` };
  const twin = twinOf(buildTwin(network, twinOptions));
  if (typeof twin === "string") return { ok: false, error: twin };
  const mNode = twin.node(m.name);
  const fNode = twin.node(host.name);
  if (mNode === undefined || fNode === undefined) return { ok: false, error: "the twin lacks Mallory or the foothold" };
  const mAddress = formatIpv4(m.address);
  const fAddress = formatIpv4(host.address);
  return {
    ok: true,
    cast: {
      twin,
      mallory: { name: m.name, address: mAddress, words: ipWords(mAddress), node: mNode },
      foothold: { name: host.name, address: fAddress, words: ipWords(fAddress), node: fNode, host },
      router,
      wanAddress: formatIpv4(router.wan.address),
    },
  };
}

/** Runs the twin's clock `ms` simulated milliseconds further. */
export function runFor(twin: Twin, ms: number): void {
  twin.sim.run({ until: twin.sim.now + ms });
}
