// Test support: runs the real `nft` inside a throwaway network namespace, so the kernel can referee our parser
// and writers without ever touching the host's own ruleset. Every namespace is named `mallory-nft-<pid>-<n>` and
// is deleted in a finally block, also when the callback throws.

import { spawnSync } from "node:child_process";

/** Prefix of every namespace this module creates; the suite checks none is left behind. */
export const SANDBOX_PREFIX = "mallory-nft-";

export interface CommandOutput {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** What the kernel referee needs; `missing` names the first absent capability, or is null when all are there. */
export interface SandboxCapabilities {
  readonly root: boolean;
  readonly nft: boolean;
  readonly ipNetns: boolean;
  readonly missing: string | null;
}

export interface NetnsSandbox {
  readonly name: string;
  /** Runs `nft ARGS` inside the namespace; `cwd` lets relative `include`s resolve, `input` feeds `-f -`. */
  nft(args: readonly string[], opts?: { readonly cwd?: string; readonly input?: string }): CommandOutput;
}

function run(
  cmd: string,
  args: readonly string[],
  opts: { readonly cwd?: string; readonly input?: string } = {},
): CommandOutput {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd,
    input: opts.input,
    encoding: "utf8",
    timeout: 30_000,
  });
  if (r.error !== undefined) return { status: -1, stdout: "", stderr: r.error.message };
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function probeSandbox(): SandboxCapabilities {
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  const nft = run("nft", ["--version"]).status === 0;
  const ipNetns = run("ip", ["netns", "list"]).status === 0;
  const missing = !root
    ? "root (network namespaces need CAP_SYS_ADMIN; run the suite as root)"
    : !nft
      ? "the `nft` binary (apt-get install nftables)"
      : !ipNetns
        ? "`ip netns` (iproute2)"
        : null;
  return { root, nft, ipNetns, missing };
}

/** Names of the namespaces that carry our prefix, whoever created them. */
export function listSandboxNamespaces(): string[] {
  const out = run("ip", ["netns", "list"]);
  if (out.status !== 0) return [];
  return out.stdout
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter((name) => name.startsWith(SANDBOX_PREFIX));
}

/** Our namespaces that nobody will delete: made by this process, or by a process that has exited. A namespace of
 *  another live run (tests of two checkouts at once) is in use, not leaked. */
export function leakedNamespaces(): string[] {
  return listSandboxNamespaces().filter((name) => {
    const pid = Number(/^mallory-nft-(\d+)-\d+$/.exec(name)?.[1] ?? Number.NaN);
    return Number.isNaN(pid) || pid === process.pid || !processAlive(pid);
  });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

let created = 0;

/** A namespace owned by the caller, who must `close()` it (the differential lab keeps three open for a whole run). */
export interface OwnedNetns extends NetnsSandbox {
  /** Runs any command inside the namespace (`ip netns exec NAME cmd ...`). */
  exec(cmd: string, args: readonly string[], opts?: { readonly cwd?: string; readonly input?: string }): CommandOutput;
  /** Deletes the namespace; idempotent. */
  close(): void;
}

/** Creates a fresh namespace named with SANDBOX_PREFIX (so leakedNamespaces sees it if it is never closed). */
export function createNetns(): OwnedNetns {
  const name = `${SANDBOX_PREFIX}${process.pid}-${created++}`;
  const add = run("ip", ["netns", "add", name]);
  if (add.status !== 0) throw new Error(`ip netns add ${name} failed: ${add.stderr.trim()}`);
  let open = true;
  return {
    name,
    nft: (args, opts = {}) => run("ip", ["netns", "exec", name, "nft", ...args], opts),
    exec: (cmd, args, opts = {}) => run("ip", ["netns", "exec", name, cmd, ...args], opts),
    close: () => {
      if (!open) return;
      open = false;
      run("ip", ["netns", "del", name]);
    },
  };
}

/** Runs a command in the host's namespace (the lab wires veth pairs between namespaces from there). */
export function runCommand(
  cmd: string,
  args: readonly string[],
  opts: { readonly cwd?: string; readonly input?: string } = {},
): CommandOutput {
  return run(cmd, args, opts);
}

/** Creates a fresh namespace, hands it to `body`, and deletes it afterwards whatever happens. */
export function withNetns<T>(body: (ns: NetnsSandbox) => T): T {
  const ns = createNetns();
  try {
    return body(ns);
  } finally {
    ns.close();
  }
}
