// Runs around the whole test suite: no network namespace that a test created may be left behind (issue 7: "no
// namespace or process is left behind after the test suite, checked at the end of the suite"). Namespaces that
// existed before the suite started (a user's own `mallory lab up`) are not the suite's and are ignored; the lab's
// processes live inside its namespaces and die with them.
import { readdirSync } from "node:fs";

const TEST_PREFIXES = ["mlab-", "mallory-nft-"];

function ourNamespaces(): string[] {
  try {
    return readdirSync("/run/netns").filter((n) => TEST_PREFIXES.some((p) => n.startsWith(p)));
  } catch {
    return []; // no /run/netns: nothing was created (the kernel tests skipped with their own message)
  }
}

export default function setup(): () => void {
  const before = new Set(ourNamespaces());
  return () => {
    const left = ourNamespaces().filter((n) => !before.has(n));
    if (left.length === 0) return;
    // vitest reports a throwing teardown but still exits 0, so fail the run explicitly.
    process.stderr.write(`\nthe test suite left network namespaces behind: ${left.join(", ")}\n`);
    process.exitCode = 1;
  };
}
