// `mallory attacks [--json]`: the attack catalogue (SCENARIOS.md) as a table of id, attacker capability and
// summary, or as {"attacks":[{id,capability,summary}]} for machines.
import type { Attack } from "../attacks/index.js";
import { catalogue } from "../attacks/index.js";

export interface AttackListing {
  readonly id: string;
  readonly capability: string;
  readonly summary: string;
}

const HEADINGS: AttackListing = { id: "ID", capability: "CAPABILITY", summary: "SUMMARY" };
const COLUMN_GAP = "  ";

export function listAttacks(attacks: readonly Attack[] = catalogue): AttackListing[] {
  return attacks.map((a) => ({ id: a.id, capability: a.capability, summary: a.summary }));
}

/** The listing as text (one aligned row per attack under a heading) or as JSON; ends with a newline. */
export function attacksCommand(json: boolean, attacks: readonly Attack[] = catalogue): string {
  const rows = listAttacks(attacks);
  if (json) return `${JSON.stringify({ attacks: rows }, null, 2)}\n`;
  const all = [HEADINGS, ...rows];
  const idWidth = Math.max(...all.map((r) => r.id.length));
  const capWidth = Math.max(...all.map((r) => r.capability.length));
  return all
    .map((r) => [r.id.padEnd(idWidth), r.capability.padEnd(capWidth), r.summary].join(COLUMN_GAP) + "\n")
    .join("");
}
