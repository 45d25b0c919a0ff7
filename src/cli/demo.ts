// `mallory demo`: the seed discussion replayed on the engine (SCENARIOS.md "Questions the discussion asks"). The
// CLI only renders; every outcome and every cited rule comes from runSeedStory, which the packets decide.

import pc from "picocolors";
import type { SeedStep, SeedStory } from "../attacks/seed-story.js";
import { runSeedStory } from "../attacks/seed-story.js";
import {
  HOST_S_HARDENED_NFT,
  HOST_S_HARDENED_SOURCE,
  ROUTER_HARDENED_NFT,
  ROUTER_HARDENED_SOURCE,
  ROUTER_NFT,
  ROUTER_SOURCE,
} from "../attacks/seed-nodes.js";

type Colors = ReturnType<typeof pc.createColors>;

/** The JSON document of `mallory demo --json`. */
export interface DemoJson {
  readonly demo: "seed";
  readonly steps: readonly {
    readonly id: string;
    readonly attack: string;
    readonly network: string;
    readonly question: string;
    readonly outcome: string;
    readonly stoppedBy: SeedStep["stoppedBy"];
    readonly packets: readonly string[];
    readonly notes: readonly string[];
  }[];
  readonly comingWithSimulator: readonly string[];
}

export function demoJson(story: SeedStory): DemoJson {
  return {
    demo: story.demo,
    steps: story.steps.map((s) => ({
      id: s.id,
      attack: s.attack,
      network: s.network,
      question: s.question,
      outcome: s.outcome,
      stoppedBy: s.stoppedBy,
      packets: s.packets.map((p) => `${p.node}: ${p.packet} — ${p.verdict}`),
      notes: s.notes,
    })),
    comingWithSimulator: story.comingWithSimulator,
  };
}

/** Why a step came out as it did, where the outcome alone would mislead (said only when the packets agree). */
function remark(step: SeedStep): string | null {
  if (step.id === "c2-beacon" && step.outcome === "breached")
    return "a stateful firewall allows it: the connection starts inside. Only an egress allow-list or a proxy stops it.";
  if (step.id === "lateral-movement" && step.network === "seed-home" && step.outcome === "breached")
    return "the router never sees LAN-to-LAN traffic; only S itself can refuse it.";
  return null;
}

function verdictLine(step: SeedStep, c: Colors): string {
  // ✔: the network held (attack blocked, intent allowed); ✘: it did not.
  const held = step.outcome === (step.attack === "intents" ? "allowed" : "blocked");
  const mark = held ? c.green("✔") : c.red("✘");
  const outcome = held ? c.green(step.outcome) : c.red(step.outcome);
  const by =
    step.stoppedBy === null
      ? ""
      : ` by ${step.stoppedBy.layer} ${c.cyan(step.stoppedBy.rule)}  ${c.dim(step.stoppedBy.text)}`;
  return `   ${mark} ${step.network.padEnd(19)} ${outcome}${by}`;
}

/** When a step's packets were dropped by more than one rule: which rule dropped how many (`3× router.nft:3`). */
function dropTally(step: SeedStep): string | null {
  const counts = new Map<string, number>();
  for (const p of step.packets)
    if (p.droppedBy !== null) counts.set(p.droppedBy.rule, (counts.get(p.droppedBy.rule) ?? 0) + 1);
  if (counts.size < 2) return null;
  return `dropped: ${[...counts].map(([rule, n]) => `${String(n)}× ${rule}`).join(", ")}`;
}

function numbered(source: string, text: string, c: Colors): string {
  const lines = text.trimEnd().split("\n");
  return [
    c.bold(source),
    ...lines.map((l, i) => `${c.dim(String(i + 1).padStart(3))}  ${l.replaceAll("\t", "  ")}`),
  ].join("\n");
}

export function renderDemoText(story: SeedStory, color: boolean): string {
  const c = pc.createColors(color);
  const out: string[] = [
    c.bold("Mallory vs. seed-home: the discussion's questions, answered with real packets on the engine"),
    c.dim("Mallory 203.0.113.66 · router WAN 198.51.100.2 / LAN 192.168.1.1 · U 192.168.1.10 · S 192.168.1.20"),
    "",
  ];
  const ids = [...new Set(story.steps.map((s) => s.id))];
  ids.forEach((id, i) => {
    const steps = story.steps.filter((s) => s.id === id);
    const first = steps[0];
    out.push(`${c.bold(`${String(i + 1)}. ${first.question}`)}  ${c.dim(`[${first.attack}, ${first.capability}]`)}`);
    out.push(`   ${first.action}`);
    for (const s of steps) {
      out.push(verdictLine(s, c));
      const drops = dropTally(s);
      if (drops !== null) out.push(`     ${c.dim(drops)}`);
      // The mapping is the point of a breach through NAT; on a blocked step there is none to show.
      if (s.outcome === "breached") for (const n of s.notes.slice(0, 1)) out.push(`     ${c.dim(n)}`);
      const why = remark(s);
      if (why !== null) out.push(`     ${c.yellow(why)}`);
    }
    out.push("");
  });
  out.push(`${c.dim("Coming with the simulator:")} ${story.comingWithSimulator.join("; ")}`);
  out.push("");
  out.push(c.bold("TL;DR: NAT is not a firewall. Use least privilege + defense in depth,"));
  out.push(c.bold("and imagine ways to break into your own network."));
  out.push("");
  out.push(c.dim("The rulesets (nft list ruleset), with the line numbers cited above:"));
  out.push(numbered(ROUTER_SOURCE, ROUTER_NFT, c));
  out.push(numbered(ROUTER_HARDENED_SOURCE, ROUTER_HARDENED_NFT, c));
  out.push(numbered(HOST_S_HARDENED_SOURCE, HOST_S_HARDENED_NFT, c));
  out.push(c.dim("seed-home/s.nft: empty (S runs no host firewall)"));
  return `${out.join("\n")}\n`;
}

/** Runs the seed story and renders it; returns the text to print. */
export function demo(options: { readonly json: boolean; readonly color: boolean }): string {
  const story = runSeedStory();
  return options.json ? `${JSON.stringify(demoJson(story), null, 2)}\n` : renderDemoText(story, options.color);
}
