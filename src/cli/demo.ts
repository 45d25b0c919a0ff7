// `mallory demo` (and `npm start`): the seed discussion's questions answered with packets on twins of the built-in
// networks, examples/seed-home.yaml and examples/seed-home-hardened.yaml. The story and every outcome come from
// analysis/demo.ts; this file finds the example files beside the package, loads them and renders.

import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pc from "picocolors";
import { QUESTIONS, runDemo } from "../analysis/demo.js";
import type { DemoNetworks, DemoStep, DemoStory } from "../analysis/demo.js";
import type { StoppedBy } from "../attacks/index.js";
import { formatModelDiagnostic, parseNetwork } from "../model/index.js";
import type { Network } from "../model/index.js";
import { formatIpv4 } from "../wire/address.js";

type Colors = ReturnType<typeof pc.createColors>;

/** The JSON document of `mallory demo --json`: the story as the library tells it. */
export type DemoJson = DemoStory;

export const EXAMPLES_DIR = "examples";
export const SEED_HOME_FILE = "seed-home.yaml";
export const SEED_HARDENED_FILE = "seed-home-hardened.yaml";

/** How far up from this module the package root may be: src/cli/ (tsx) is two levels, dist/ (the bundle) one. */
const MAX_LEVELS_UP = 4;

/**
 * The package root: the nearest directory above this module (or the bundle, dist/mallory.js) holding
 * examples/seed-home.yaml. Null when the examples were not shipped.
 */
export function packageRoot(moduleUrl: string = import.meta.url): string | null {
  let dir = dirname(fileURLToPath(moduleUrl));
  for (let i = 0; i <= MAX_LEVELS_UP; i++) {
    if (existsSync(join(dir, EXAMPLES_DIR, SEED_HOME_FILE))) return dir;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return null;
}

/**
 * Reads one built-in network. Its source is the path inside the package (`examples/seed-home.yaml`), so every
 * cited rule reads the same on any machine.
 */
function loadBuiltIn(root: string, file: string): Network {
  const source = `${EXAMPLES_DIR}/${file}`;
  const text = readFileSync(join(root, EXAMPLES_DIR, file), "utf8");
  const parsed = parseNetwork(text, source, { baseDir: join(root, EXAMPLES_DIR) });
  const errors = parsed.diagnostics.filter((d) => d.severity === "error");
  if (parsed.network === null || errors.length > 0)
    throw new Error(`built-in network ${source} does not load:\n${errors.map(formatModelDiagnostic).join("\n")}`);
  return parsed.network;
}

/** Loads the built-in networks; throws (the CLI's edge) when the package is broken. */
export function loadSeedNetworks(root: string | null = packageRoot()): DemoNetworks {
  if (root === null)
    throw new Error(`cannot find ${EXAMPLES_DIR}/${SEED_HOME_FILE} beside the package: reinstall mallory`);
  return { home: loadBuiltIn(root, SEED_HOME_FILE), hardened: loadBuiltIn(root, SEED_HARDENED_FILE) };
}

/** Tells the story on the built-in networks; throws when a step cannot run (a bug, not bad input). */
export function tellSeedStory(networks: DemoNetworks = loadSeedNetworks()): DemoStory {
  const run = runDemo(networks);
  if (!run.ok) throw new Error(`demo step ${run.error.step}: ${run.error.message}`);
  return run.story;
}

// ---------------------------------------------------------------------------------------------------------------
// Text.

const FILE_LINE_COLUMN = /^(.*):(\d+):\d+$/;
const CHAIN_LINE = /^chain (\S+) \{$/;

/** `router filter on router: ip saddr … drop (examples/seed-home-hardened.yaml:59)`; a chain line is its policy. */
function stopText(s: StoppedBy, c: Colors): string {
  const m = FILE_LINE_COLUMN.exec(s.rule);
  const where = m === null ? s.rule : `${m[1]}:${m[2]}`;
  const chain = s.text === undefined ? null : CHAIN_LINE.exec(s.text);
  // A stop cited at a chain's own line is its policy (the twin names the chain for a policy verdict).
  const what = chain !== null ? `policy drop of chain ${chain[1]}` : (s.text ?? "");
  return `${s.layer} on ${s.node}: ${what === "" ? "" : `${c.cyan(what)} `}${c.dim(`(${where})`)}`;
}

function mark(step: DemoStep, c: Colors): string {
  return step.outcome === "breached" ? c.red("✘ BREACHED") : c.green("✔ blocked ");
}

function header(story: DemoStory, home: Network | null, c: Colors): string[] {
  const lines = [c.bold("mallory demo: the discussion's questions, answered with packets on a twin of the network")];
  if (home !== null) {
    const mallory = home.internetHosts.find((h) => h.attacker);
    const router = home.routers.at(0);
    const parts = [
      mallory === undefined ? null : `Mallory ${formatIpv4(mallory.address)}`,
      router === undefined ? null : `router WAN ${formatIpv4(router.wan.address)}`,
      ...home.hosts.map((h) => `${h.name.toUpperCase()} ${formatIpv4(h.address)} (${h.role})`),
    ].filter((p): p is string => p !== null);
    lines.push(c.dim(parts.join(" · ")));
  }
  lines.push(c.dim(`networks: ${story.networks.map((n) => `${n.name} (${n.source})`).join(" · ")}`));
  return lines;
}

function storyStep(step: DemoStep, c: Colors): string[] {
  const who = step.foothold === null ? "internet" : step.foothold.toUpperCase();
  const lines = [
    `   ${mark(step, c)}  ${c.bold(step.attack)} ${c.dim(`[${step.capability}, from ${who}]`)} ${step.title}`,
  ];
  if (step.stoppedBy !== null) lines.push(`       stopped by ${stopText(step.stoppedBy, c)}`);
  lines.push(`       ${c.dim(step.evidence)}`);
  lines.push(`       ${step.outcome === "breached" ? c.yellow(step.note) : step.note}`);
  return lines;
}

function sideBySide(step: DemoStep, c: Colors): string[] {
  const before = step.before === null ? "" : `${step.before.outcome} → `;
  const lines = [
    `   ${mark(step, c)}  ${c.bold(step.attack)} ${c.dim(`(${step.title})`)}  ${c.dim(before)}${step.outcome}`,
  ];
  if (step.stoppedBy !== null) lines.push(`       by ${stopText(step.stoppedBy, c)}`);
  lines.push(`       ${step.outcome === "breached" ? c.yellow(step.note) : step.note}`);
  return lines;
}

export function renderDemoText(story: DemoStory, color: boolean, home: Network | null = null): string {
  const c = pc.createColors(color);
  const out = [...header(story, home, c), ""];
  QUESTIONS.forEach((q, i) => {
    const steps = story.steps.filter((s) => s.questionId === q.id);
    if (steps.length === 0) return;
    const networks = [...new Set(steps.map((s) => s.network))];
    const on =
      q.id === "least-privilege"
        ? `${steps.find((s) => s.before !== null)?.before?.network ?? ""} → ${networks.join(", ")}`
        : networks.join(", ");
    out.push(`${c.bold(`${String(i + 1)}. ${q.text}`)}  ${c.dim(`[${on}]`)}`);
    for (const s of steps) out.push(...(q.id === "least-privilege" ? sideBySide(s, c) : storyStep(s, c)));
    if (q.id === "least-privilege") {
      const hardened = steps[0].network;
      const intents = story.intents.filter((x) => x.network === hardened);
      const shown = intents.map((x) => (x.holds ? c.green(`✔ ${x.intent}`) : c.red(`✘ ${x.intent}`)));
      out.push(`   legitimate flows on ${hardened}, tried with packets: ${shown.join("  ")}`);
      for (const x of intents.filter((y) => !y.holds)) out.push(`       ${c.red(x.evidence)}`);
    }
    out.push("");
  });
  out.push(c.bold("TL;DR: NAT is not a firewall. Use least privilege and defense in depth;"));
  out.push(c.bold("imagine ways to break into your own network, and fix what you find."));
  out.push(
    c.dim("Details: mallory demo --json · one attack: mallory simulate examples/seed-home.yaml --attack ID --trace"),
  );
  return `${out.join("\n")}\n`;
}

/** Runs the seed story and renders it; returns the text to print. */
export function demo(options: { readonly json: boolean; readonly color: boolean }): string {
  const networks = loadSeedNetworks();
  const story = tellSeedStory(networks);
  return options.json ? `${JSON.stringify(story, null, 2)}\n` : renderDemoText(story, options.color, networks.home);
}
