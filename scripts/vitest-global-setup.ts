// Runs around the whole test suite: no network namespace and no process that a test created in one may be left
// behind (issue 7: "no namespace or process is left behind after the test suite, checked at the end of the
// suite"). Namespaces that existed before the suite started (a user's own `mallory lab up`) are not the suite's and
// are ignored. A process started inside a namespace does not die when `ip netns del` removes the namespace's name
// (the namespace lives on as long as a process holds it), so processes are checked on their own: any process whose
// network namespace is not the suite's own and that was not there when the suite started (listeners, dnsmasq,
// miniupnpd, tcpdump, actors) is a leak. Reading another process's namespace link needs root, as the kernel tests
// do; without it there is nothing of ours to find.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

const TEST_PREFIXES = ["mlab-", "mallory-nft-"];
/** A process just signalled by a test's cleanup may take a moment to exit: look again for this long. */
const EXIT_GRACE_MS = 3000;
const POLL_MS = 100;

function ourNamespaces(): string[] {
  try {
    return readdirSync("/run/netns").filter((n) => TEST_PREFIXES.some((p) => n.startsWith(p)));
  } catch {
    return []; // no /run/netns: nothing was created (the kernel tests skipped with their own message)
  }
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return fallback;
  }
}

/** `pid:starttime` → a description, for every process in a network namespace other than this one's. */
function foreignNamespaceProcesses(): Map<string, string> {
  const found = new Map<string, string>();
  let own: string;
  try {
    own = readlinkSync("/proc/self/ns/net");
  } catch {
    return found; // no /proc: not Linux, so no namespaces either
  }
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    let ns: string;
    try {
      ns = readlinkSync(`/proc/${pid}/ns/net`);
    } catch {
      continue; // gone, or not ours to read
    }
    if (ns === own) continue;
    // Field 22 of /proc/PID/stat (after the parenthesised name) tells a reused pid from the original process.
    const stat = readOr(`/proc/${pid}/stat`, "");
    const start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
    const cmd = readOr(`/proc/${pid}/cmdline`, "").replaceAll("\0", " ").trim();
    found.set(`${pid}:${start}`, `pid ${pid} (${cmd === "" ? readOr(`/proc/${pid}/comm`, "?") : cmd}) in ${ns}`);
  }
  return found;
}

export default function setup(): () => Promise<void> {
  const namespacesBefore = new Set(ourNamespaces());
  const processesBefore = foreignNamespaceProcesses();
  return async () => {
    const problems: string[] = [];
    const left = ourNamespaces().filter((n) => !namespacesBefore.has(n));
    if (left.length > 0) problems.push(`the test suite left network namespaces behind: ${left.join(", ")}`);
    const leakedNow = (): string[] =>
      [...foreignNamespaceProcesses()].filter(([key]) => !processesBefore.has(key)).map(([, d]) => d);
    let leaked = leakedNow();
    for (let waited = 0; leaked.length > 0 && waited < EXIT_GRACE_MS; waited += POLL_MS) {
      await sleep(POLL_MS);
      leaked = leakedNow();
    }
    if (leaked.length > 0) problems.push(`the test suite left processes running in namespaces: ${leaked.join("; ")}`);
    if (problems.length === 0) return;
    // vitest reports a throwing teardown but still exits 0, so fail the run explicitly.
    process.stderr.write(`\n${problems.join("\n")}\n`);
    process.exitCode = 1;
  };
}
