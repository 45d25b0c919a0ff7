// The lab's only way to touch the system: `ip`, `nft`, `sysctl` and `ethtool` run as child processes, always with
// an argument vector (never a shell), each bounded by a timeout, their output captured for error messages.

import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";

export interface CommandOutput {
  /** Exit status; -1 when the command could not be started or was killed by the timeout. */
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CommandOptions {
  readonly input?: string;
  readonly cwd?: string;
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 15_000;

export function runCommand(cmd: string, args: readonly string[], opts: CommandOptions = {}): Promise<CommandOutput> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", (e) => {
      resolve({ status: -1, stdout, stderr: stderr + e.message });
    });
    child.on("close", (code) => {
      resolve({ status: code ?? -1, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Runs a command inside a namespace (`ip netns exec NS CMD ARGS`). */
export function inNamespace(
  ns: string,
  cmd: string,
  args: readonly string[],
  opts: CommandOptions = {},
): Promise<CommandOutput> {
  return runCommand("ip", ["netns", "exec", ns, cmd, ...args], opts);
}

/** One line of a failed command for the user: what ran and what it said. */
export function describeFailure(what: string, out: CommandOutput): string {
  const said = (out.stderr.trim() || out.stdout.trim()).split("\n").slice(0, 3).join(" / ");
  return `${what} failed (exit ${out.status})${said === "" ? "" : `: ${said}`}`;
}

/** What the lab needs from the machine; `missing` names the first absent capability in one line, or is null. */
export interface LabCapabilities {
  readonly root: boolean;
  readonly ipNetns: boolean;
  readonly nft: boolean;
  /** Optional: without it veth checksum offload stays on and captures show bad checksums. */
  readonly ethtool: boolean;
  readonly missing: string | null;
}

export async function probeLab(): Promise<LabCapabilities> {
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  const [ipNetns, nft, ethtool] = await Promise.all([
    runCommand("ip", ["netns", "list"]).then((o) => o.status === 0),
    runCommand("nft", ["--version"]).then((o) => o.status === 0),
    runCommand("ethtool", ["--version"]).then((o) => o.status === 0),
  ]);
  const missing = !root
    ? "the lab needs root (network namespaces need CAP_SYS_ADMIN); run it with sudo"
    : !ipNetns
      ? "the lab needs `ip netns` (apt-get install iproute2)"
      : !nft
        ? "the lab needs the `nft` binary (apt-get install nftables)"
        : null;
  return { root, ipNetns, nft, ethtool, missing };
}

/** Where `ip netns` keeps its named namespaces (iproute2's NETNS_RUN_DIR). */
const NETNS_RUN_DIR = "/run/netns";

/** Names of the namespaces `ip netns list` shows, read from its directory (no process, no race with a listing). */
export async function listNamespaces(): Promise<string[]> {
  try {
    return readdirSync(NETNS_RUN_DIR);
  } catch {
    const out = await runCommand("ip", ["netns", "list"]);
    if (out.status !== 0) return [];
    return out.stdout
      .split("\n")
      .map((line) => line.split(" ")[0] ?? "")
      .filter((name) => name !== "");
  }
}
