// Test fixture: the seed networks of examples/ and small variants of them, written as text edits of the YAML so a
// verdict still names a line of a file the test can point at.

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseNetwork } from "../../model/index.js";
import type { Network } from "../../model/index.js";

const EXAMPLES = fileURLToPath(new URL("../../../examples/", import.meta.url));

export type SeedName = "seed-home" | "seed-home-hardened";

export function seedText(name: SeedName): string {
  return readFileSync(`${EXAMPLES}${name}.yaml`, "utf8");
}

/** The network of a YAML text; throws with the diagnostics when it does not load (a broken fixture). */
export function networkOf(text: string, source: string): Network {
  const r = parseNetwork(text, source);
  if (r.network === null)
    throw new Error(r.diagnostics.map((d) => `${d.file}:${d.line}:${d.column}: ${d.message}`).join("\n"));
  return r.network;
}

/** Variants are written here so a verdict naming `file:line` can be opened (and read back by the attack). */
const VARIANT_DIR = join(tmpdir(), `mallory-attack-fixtures-${process.pid}`);

/**
 * A seed network with each `[from, to]` text replaced once (every `from` must occur), written to a file named
 * `source` in a temporary directory and parsed from there; with no edits, the example file itself.
 */
export function seedVariant(
  name: SeedName,
  source: string,
  edits: readonly (readonly [string, string])[] = [],
): {
  text: string;
  network: Network;
} {
  let text = seedText(name);
  for (const [from, to] of edits) {
    if (!text.includes(from)) throw new Error(`fixture edit: "${from}" is not in ${name}.yaml`);
    text = text.replace(from, to);
  }
  if (edits.length === 0) return { text, network: networkOf(text, `${EXAMPLES}${name}.yaml`) };
  mkdirSync(VARIANT_DIR, { recursive: true });
  const path = join(VARIANT_DIR, source);
  writeFileSync(path, text);
  return { text, network: networkOf(text, path) };
}

/** 1-based line of the first line of `text` containing `needle`. */
export function lineOf(text: string, needle: string): number {
  const i = text.split("\n").findIndex((l) => l.includes(needle));
  if (i < 0) throw new Error(`fixture: "${needle}" not found`);
  return i + 1;
}
