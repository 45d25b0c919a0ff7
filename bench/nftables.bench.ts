// Parsing a 10,000-rule nftables ruleset (issue 4: < 1 s): ClassBench fw1_10k written as nft rules, one
// `ip saddr … ip daddr … meta l4proto … th sport … th dport … accept` per filter, cycled up to 10,000 rules.
import { readFileSync } from "node:fs";
import { parseNftText } from "../src/config/nftables/index.js";
import { formatIpv4 } from "../src/wire/address.js";
import { parseClassBench } from "../src/engine/filter/index.js";
import { consume, defineSuite } from "./harness.js";

const FILE = new URL("../../shared/data/classbench/fw1_10k", import.meta.url);
const RULES = 10_000;
const PORT_MAX = 0xffff;

let text = "";

function build(): void {
  if (text !== "") return;
  const parsed = parseClassBench(readFileSync(FILE, "utf8"));
  if (!parsed.ok) throw new Error(`fw1_10k line ${String(parsed.error.line)}: ${parsed.error.message}`);
  const prefix = (lo: number, hi: number): string => `${formatIpv4(lo)}/${String(32 - Math.log2(hi - lo + 1))}`;
  const ports = (lo: number, hi: number): string => (lo === hi ? String(lo) : `${String(lo)}-${String(hi)}`);
  const lines = ["table ip cb {", "  chain fw {", "    type filter hook forward priority filter; policy drop;"];
  for (let i = 0; i < RULES; i++) {
    const r = parsed.rules[i % parsed.rules.length];
    let rule = `    ip saddr ${prefix(r.srcLo, r.srcHi)} ip daddr ${prefix(r.dstLo, r.dstHi)}`;
    if (r.protoLo === r.protoHi) rule += ` meta l4proto ${String(r.protoLo)}`;
    if (r.sportLo !== 0 || r.sportHi !== PORT_MAX) rule += ` th sport ${ports(r.sportLo, r.sportHi)}`;
    if (r.dportLo !== 0 || r.dportHi !== PORT_MAX) rule += ` th dport ${ports(r.dportLo, r.dportHi)}`;
    lines.push(`${rule} accept`);
  }
  lines.push("  }", "}");
  text = lines.join("\n");
  const check = parseNftText(text, { source: "fw1_10k.nft" });
  const got = check.ruleset?.tables[0].chains[0].rules.length ?? 0;
  if (got !== RULES) throw new Error(`parsed ${String(got)} rules, expected ${String(RULES)}`);
}

export default defineSuite("nftables", [
  {
    id: "config.nft-parse-10k-ms",
    unit: "ms",
    lowerIsBetter: true,
    setup: build,
    run: () => {
      const start = process.hrtime.bigint();
      const r = parseNftText(text, { source: "fw1_10k.nft" });
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      consume(r.ruleset?.tables.length ?? 0);
      return ms;
    },
  },
]);
