// `lab up|down|status`: the network of a model built for real in Linux network namespaces (ARCHITECTURE.md layer
// 9). `labUp` follows the plan (plan.ts): namespaces, veth pairs straight into them, bridges, addresses and routes,
// sysctls, the model's rulesets with `nft -f`, conntrack sysctls (which exist only once conntrack is loaded), then
// one listener per node with services and dnsmasq on each router whose model runs a resolver. Everything created is recorded in the state file before the next step, so
// `labDown` (idempotent) and a Ctrl-C during `labUp` remove exactly what exists: first the processes inside our
// namespaces (a namespace with a live process outlives its name), then the namespaces, whose veths go with them.

import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Network } from "../model/index.js";
import { describeFailure, inNamespace, listNamespaces, probeLab, runCommand } from "./commands.js";
import type { CommandOutput } from "./commands.js";
import type { ListenerConfig } from "./listener-service.js";
import { READY_LINE } from "./listener-service.js";
import { DEFAULT_PREFIX, dnsmasqArgs, planLab } from "./plan.js";
import type { LabOptions, LabPlan, PlannedNamespace } from "./plan.js";
import { readState, removeState, statePaths, writeState } from "./state.js";
import type { LabProcess, LabProcessKind, LabState } from "./state.js";

export type LabError =
  | { readonly kind: "unsupported"; readonly message: string }
  | { readonly kind: "invalid"; readonly message: string }
  | { readonly kind: "exists"; readonly message: string }
  | { readonly kind: "failed"; readonly message: string }
  | { readonly kind: "interrupted"; readonly message: string };

export type LabResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: LabError };

export interface LabRunOptions extends LabOptions {
  /** One line per step, as the CLI prints it. */
  readonly onProgress?: (line: string) => void;
  /** Tear down on SIGINT/SIGTERM during `labUp`; default true. */
  readonly handleSignals?: boolean;
}

export interface LabUpReport {
  readonly state: LabState;
  readonly stateFile: string;
  readonly elapsedMs: number;
  readonly warnings: readonly string[];
}

export interface LabDownReport {
  /** False when there was nothing to remove. */
  readonly removedAnything: boolean;
  readonly namespaces: readonly string[];
  readonly killed: readonly number[];
  readonly elapsedMs: number;
}

export interface NamespaceStatus {
  readonly name: string;
  /** The model node, or `seg-<segment>` for a bridge namespace. */
  readonly role: string;
  readonly exists: boolean;
  /** Global addresses with prefix, loopback left out. */
  readonly addresses: readonly string[];
}

export interface LabStatus {
  readonly network: string;
  /** Every planned namespace exists and the last `up` finished. */
  readonly up: boolean;
  readonly stateFile: string | null;
  readonly namespaces: readonly NamespaceStatus[];
  readonly processes: readonly (LabProcess & { readonly alive: boolean })[];
}

const LISTENER_READY_TIMEOUT_MS = 15_000;
const RESOLVER_READY_TIMEOUT_MS = 5_000;
/** dnsmasq logs this once its sockets are bound (dnsmasq.c main, after create_bound_listeners). */
export const DNSMASQ_STARTED = "started, version";
const KILL_GRACE_MS = 1_000;
const POLL_MS = 20;
const DELETE_ATTEMPTS = 8;

const fail = (kind: LabError["kind"], message: string): { ok: false; error: LabError } => ({
  ok: false,
  error: { kind, message },
});

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

function roleOf(ns: PlannedNamespace): string {
  return ns.role.kind === "node" ? ns.role.node.name : `seg-${ns.role.segment}`;
}

/** A process counts as alive until it has exited and been reaped (a zombie holds no namespace). */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** How to start the listener: with the project's tsx from source, or a bundled `lab-listener.js` beside the CLI. */
export function listenerCommand(): { command: string; args: string[]; cwd: string } | null {
  const here = dirname(fileURLToPath(import.meta.url));
  const bundled = join(here, "lab-listener.js");
  if (existsSync(bundled)) return { command: process.execPath, args: [bundled], cwd: here };
  for (const source of [join(here, "listener.ts"), join(here, "..", "src", "lab", "listener.ts")]) {
    if (!existsSync(source)) continue;
    // `--import tsx` resolves from the working directory: start it in the project that has tsx installed.
    for (let dir = dirname(source); ; dir = dirname(dir)) {
      if (existsSync(join(dir, "node_modules", "tsx", "package.json")))
        return { command: process.execPath, args: ["--import", "tsx", source], cwd: dir };
      if (dirname(dir) === dir) break;
    }
  }
  return null;
}

/** Kills every process inside the namespaces (TERM, then KILL after a grace period), then deletes them. */
async function teardown(
  namespaces: readonly string[],
): Promise<{ killed: number[]; deleted: string[]; failures: string[] }> {
  const existing = new Set(await listNamespaces());
  const ours = namespaces.filter((n) => existing.has(n));
  const pidLists = await Promise.all(ours.map((n) => runCommand("ip", ["netns", "pids", n])));
  const pids = [
    ...new Set(
      pidLists.flatMap((o) =>
        o.stdout
          .split("\n")
          .map(Number)
          .filter((p) => Number.isInteger(p) && p > 0),
      ),
    ),
  ];
  const signal = (pid: number, sig: NodeJS.Signals): void => {
    try {
      process.kill(pid, sig);
    } catch {
      // Already gone.
    }
  };
  for (const pid of pids) signal(pid, "SIGTERM");
  const deadline = Date.now() + KILL_GRACE_MS;
  while (pids.some(processAlive) && Date.now() < deadline) await sleep(POLL_MS);
  for (const pid of pids.filter(processAlive)) signal(pid, "SIGKILL");
  while (pids.some(processAlive) && Date.now() < deadline + KILL_GRACE_MS) await sleep(POLL_MS);
  const results = await Promise.all(ours.map(deleteNamespace));
  return {
    killed: pids,
    deleted: ours.filter((_, i) => results[i] === null),
    failures: results.filter((r): r is string => r !== null),
  };
}

/**
 * `ip netns del`, retried briefly: the name's bind mount can be busy for a moment while another process's
 * `ip netns exec` is setting up its mount namespace. Null when the namespace is gone, else why not.
 */
async function deleteNamespace(name: string): Promise<string | null> {
  let out: CommandOutput = { status: -1, stdout: "", stderr: "" };
  for (let attempt = 0; attempt < DELETE_ATTEMPTS; attempt++) {
    out = await runCommand("ip", ["netns", "del", name]);
    if (out.status === 0 || !(await listNamespaces()).includes(name)) return null;
    await sleep(POLL_MS * (attempt + 1));
  }
  return describeFailure(`ip netns del ${name}`, out);
}

/** A lab process started (its pid) or not (why). */
type StartResult = { ok: true; pid: number } | { ok: false; message: string };

/** How a lab daemon says it is ready: a line on its stdout, or a line in a log file it writes. */
type Readiness = { readonly stdoutHas: string } | { readonly logFile: string; readonly logHas: string };

/**
 * Starts a daemon detached in namespace `ns` (it outlives this process: `lab down` stops it by its recorded pid),
 * its stderr appended to `errPath`, and waits until it says it is ready. `ip netns exec` execs the command itself,
 * so the child's pid is the daemon's. A failure names `what` and the last lines the daemon wrote to stderr.
 */
function startDaemon(
  what: string,
  argv: readonly string[],
  opts: { readonly cwd?: string; readonly errPath: string; readonly ready: Readiness; readonly timeoutMs: number },
): Promise<StartResult> {
  return new Promise((done) => {
    const errFd = openSync(opts.errPath, "a");
    const onStdout = "stdoutHas" in opts.ready;
    const child = spawn("ip", argv, {
      ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
      detached: true,
      stdio: ["ignore", onStdout ? "pipe" : "ignore", errFd],
    });
    closeSync(errFd);
    let settled = false;
    let poll: NodeJS.Timeout | null = null;
    const finish = (r: StartResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (poll !== null) clearInterval(poll);
      child.stdout?.destroy();
      child.unref();
      done(r);
    };
    const timer = setTimeout(() => {
      finish({ ok: false, message: `${what} did not start within ${opts.timeoutMs} ms` });
    }, opts.timeoutMs);
    const ready = opts.ready;
    if ("stdoutHas" in ready) {
      let seen = "";
      child.stdout?.setEncoding("utf8").on("data", (d: string) => {
        seen += d;
        if (seen.includes(ready.stdoutHas) && child.pid !== undefined) finish({ ok: true, pid: child.pid });
      });
    } else {
      poll = setInterval(() => {
        let log = "";
        try {
          log = readFileSync(ready.logFile, "utf8");
        } catch {
          // Not written yet.
        }
        if (log.includes(ready.logHas) && child.pid !== undefined) finish({ ok: true, pid: child.pid });
      }, POLL_MS);
    }
    const failed = (why: string): void => {
      let said = "";
      try {
        said = readFileSync(opts.errPath, "utf8").trim().split("\n").slice(-3).join(" / ");
      } catch {
        // No error output.
      }
      finish({ ok: false, message: `${what} ${why}${said === "" ? "" : `: ${said}`}` });
    };
    child.on("error", (e) => {
      failed(`could not start (${e.message})`);
    });
    child.on("exit", (code) => {
      failed(`exited with ${code ?? "a signal"}`);
    });
  });
}

/** Starts one node's listener in its namespace and waits for it to say it has bound every port. */
function startListener(
  ns: string,
  configPath: string,
  errPath: string,
  cmd: { command: string; args: string[]; cwd: string },
): Promise<StartResult> {
  return startDaemon(`listener in ${ns}`, ["netns", "exec", ns, cmd.command, ...cmd.args, configPath], {
    cwd: cmd.cwd,
    errPath,
    ready: { stdoutHas: READY_LINE },
    timeoutMs: LISTENER_READY_TIMEOUT_MS,
  });
}

/** Starts dnsmasq in its namespace (foreground, -k: it does not fork) and waits until its log says it has bound. */
export function startResolver(
  ns: string,
  args: readonly string[],
  logPath: string,
  errPath: string,
): Promise<StartResult> {
  return startDaemon(`dnsmasq in ${ns}`, ["netns", "exec", ns, "dnsmasq", ...args], {
    errPath,
    ready: { logFile: logPath, logHas: DNSMASQ_STARTED },
    timeoutMs: RESOLVER_READY_TIMEOUT_MS,
  });
}

/** Runs `f` over items at once; the first failure (if any) is returned as a message. */
async function each<T>(items: readonly T[], f: (item: T) => Promise<string | null>): Promise<string | null> {
  const results = await Promise.all(items.map(f));
  return results.find((r) => r !== null) ?? null;
}

const check = (what: string, out: CommandOutput): string | null =>
  out.status === 0 ? null : describeFailure(what, out);

/** Builds the network in namespaces. Fails (tearing down what it made) on any error or on Ctrl-C. */
export async function labUp(network: Network, opts: LabRunOptions = {}): Promise<LabResult<LabUpReport>> {
  const started = performance.now();
  const progress = opts.onProgress ?? ((): void => undefined);
  const caps = await probeLab();
  if (caps.missing !== null) return fail("unsupported", caps.missing);
  const plan: LabPlan = planLab(network, opts);
  if (plan.problems.length > 0) return fail("invalid", plan.problems.join("\n"));
  const listener = listenerCommand();
  if (listener === null && plan.namespaces.some((n) => n.services.length > 0))
    return fail("unsupported", "the lab listener (src/lab/listener.ts with tsx, or lab-listener.js) was not found");
  const resolvers = plan.namespaces.filter((n) => n.resolver !== null);
  // Without dnsmasq the rest of the lab still works: a warning says what is missing.
  const hasDnsmasq = resolvers.length > 0 && (await runCommand("dnsmasq", ["--version"])).status === 0;

  const paths = statePaths(network.name, plan.prefix);
  const existing = new Set(await listNamespaces());
  const clash = plan.namespaces.filter((n) => existing.has(n.name)).map((n) => n.name);
  if (readState(paths.file) !== null || clash.length > 0)
    return fail(
      "exists",
      `lab ${network.name} is already up or was left behind (${clash[0] ?? paths.file}); run \`mallory lab down\` first`,
    );

  mkdirSync(paths.dir, { recursive: true });
  let state: LabState = {
    version: 1,
    network: network.name,
    source: resolve(network.source),
    prefix: plan.prefix,
    dir: paths.dir,
    startedAt: new Date().toISOString(),
    namespaces: [],
    processes: [],
    complete: false,
  };
  writeState(paths.file, state);
  const warnings: string[] = [];

  // An object, not a `let`: the handler writes it between awaits, where flow analysis cannot see.
  const interrupt: { by: NodeJS.Signals | null } = { by: null };
  const onSignal = (sig: NodeJS.Signals): void => {
    interrupt.by = sig;
  };
  const interruptedBy = (): NodeJS.Signals | null => interrupt.by;
  const handle = opts.handleSignals ?? true;
  if (handle) {
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }
  const abandon = async (error: LabError): Promise<LabResult<LabUpReport>> => {
    progress(`tearing down: ${error.message.split("\n")[0]}`);
    const left = await teardown([...state.namespaces].reverse());
    removeState(paths.file, paths.dir);
    if (left.failures.length === 0) return { ok: false, error };
    return { ok: false, error: { ...error, message: `${error.message}\n${left.failures.join("\n")}` } };
  };
  const step = async (label: string, body: () => Promise<string | null>): Promise<LabError | null> => {
    const by = interruptedBy();
    if (by !== null) return { kind: "interrupted", message: `interrupted by ${by}` };
    const t0 = performance.now();
    const problem = await body();
    if (problem !== null) return { kind: "failed", message: problem };
    const late = interruptedBy();
    if (late !== null) return { kind: "interrupted", message: `interrupted by ${late}` };
    progress(`${label} (${Math.round(performance.now() - t0)} ms)`);
    return null;
  };

  /** Adds the processes that started to the recorded state (so `down` finds them); the first failure, if any. */
  const record = (
    started: readonly { n: PlannedNamespace; node: string; log: string; r: StartResult }[],
    what: LabProcessKind,
  ): string | null => {
    const processes: LabProcess[] = [...state.processes];
    for (const x of started)
      if (x.r.ok) processes.push({ node: x.node, namespace: x.n.name, pid: x.r.pid, log: x.log, what });
    state = { ...state, processes };
    writeState(paths.file, state);
    const bad = started.find((x) => !x.r.ok);
    return bad === undefined || bad.r.ok ? null : bad.r.message;
  };

  try {
    const steps: [string, () => Promise<string | null>][] = [
      [
        `namespaces: ${plan.namespaces.length}`,
        async () => {
          const made = await Promise.all(
            plan.namespaces.map(async (n) => ({ n, out: await runCommand("ip", ["netns", "add", n.name]) })),
          );
          state = { ...state, namespaces: made.filter((m) => m.out.status === 0).map((m) => m.n.name) };
          writeState(paths.file, state);
          const bad = made.find((m) => m.out.status !== 0);
          return bad === undefined ? null : describeFailure(`ip netns add ${bad.n.name}`, bad.out);
        },
      ],
      [
        `links: ${plan.links.length} veth pairs`,
        async () =>
          plan.hostBatch.length === 0
            ? null
            : check(
                "ip -batch (veth pairs)",
                await runCommand("ip", ["-batch", "-"], { input: plan.hostBatch.join("\n") }),
              ),
      ],
      [
        "addresses, bridges and routes",
        () =>
          each(plan.namespaces, async (n) =>
            check(
              `ip -n ${n.name} -batch`,
              await runCommand("ip", ["-n", n.name, "-batch", "-"], { input: n.ipBatch.join("\n") }),
            ),
          ),
      ],
      [
        "sysctls: ip_forward, rp_filter",
        () =>
          each(
            plan.namespaces.filter((n) => n.sysctls.length > 0),
            async (n) => check(`sysctl in ${n.name}`, await inNamespace(n.name, "sysctl", ["-q", "-w", ...n.sysctls])),
          ),
      ],
      [
        caps.ethtool ? "checksum offload off on veths" : "checksum offload left on (ethtool not installed)",
        async () => {
          if (!caps.ethtool) {
            warnings.push("ethtool is not installed: veth checksum offload stays on, captures show bad checksums");
            return null;
          }
          return each(
            plan.namespaces.flatMap((n) => n.offloadOff.map((ifname) => ({ ns: n.name, ifname }))),
            async ({ ns, ifname }) =>
              check(
                `ethtool -K ${ifname} tx off in ${ns}`,
                await inNamespace(ns, "ethtool", ["-K", ifname, "tx", "off"]),
              ),
          );
        },
      ],
      [
        "rulesets loaded with nft -f",
        () =>
          each(plan.namespaces, async (n) => {
            for (const load of n.rulesets) {
              let file: string;
              let cwd: string | undefined;
              if (load.kind === "text") {
                file = join(paths.dir, load.fileName);
                writeFileSync(file, load.text);
              } else {
                file = load.path;
                cwd = dirname(load.path);
              }
              const out = await inNamespace(n.name, "nft", ["-f", file], cwd !== undefined ? { cwd } : {});
              if (out.status !== 0) return describeFailure(`nft -f ${file} (${load.what} of ${roleOf(n)})`, out);
            }
            return null;
          }),
      ],
      [
        "conntrack sysctls",
        () =>
          each(
            plan.namespaces.filter((n) => n.conntrackSysctls.length > 0),
            async (n) =>
              check(
                `sysctl in ${n.name}`,
                await inNamespace(n.name, "sysctl", ["-e", "-q", "-w", ...n.conntrackSysctls]),
              ),
          ),
      ],
      [
        `listeners: ${plan.namespaces.filter((n) => n.services.length > 0).length}`,
        async () => {
          const withServices = plan.namespaces.filter((n) => n.services.length > 0);
          const started = await Promise.all(
            withServices.map(async (n) => {
              const node = roleOf(n);
              const log = join(paths.dir, `${node}.log.jsonl`);
              const config: ListenerConfig = { node, log, services: n.services };
              const configPath = join(paths.dir, `${node}.listener.json`);
              writeFileSync(configPath, JSON.stringify(config, null, 2));
              writeFileSync(log, "");
              const r = await startListener(n.name, configPath, join(paths.dir, `${node}.listener.err`), listener!);
              return { n, node, log, r };
            }),
          );
          return record(started, "listener");
        },
      ],
      [
        resolvers.length === 0 || hasDnsmasq
          ? `resolvers: ${resolvers.length} dnsmasq`
          : "resolvers: none started (dnsmasq not installed)",
        async () => {
          if (resolvers.length === 0) return null;
          if (!hasDnsmasq) {
            warnings.push(
              `dnsmasq is not installed: ${resolvers.map(roleOf).join(", ")} run no DNS resolver, so dns-rebinding cannot run in the lab`,
            );
            return null;
          }
          const started = await Promise.all(
            resolvers.map(async (n) => {
              const node = roleOf(n);
              const log = join(paths.dir, `${node}.dnsmasq.log`);
              const files = { log, pidFile: join(paths.dir, `${node}.dnsmasq.pid`) };
              const args = dnsmasqArgs(n.resolver!, files);
              const r = await startResolver(n.name, args, log, join(paths.dir, `${node}.dnsmasq.err`));
              return { n, node, log, r };
            }),
          );
          return record(started, "dnsmasq");
        },
      ],
    ];
    for (const [label, body] of steps) {
      const error = await step(label, body);
      if (error !== null) return await abandon(error);
    }
    state = { ...state, complete: true };
    writeState(paths.file, state);
    const elapsedMs = performance.now() - started;
    progress(`lab ${network.name} is up in ${Math.round(elapsedMs)} ms; state in ${paths.file}`);
    return { ok: true, value: { state, stateFile: paths.file, elapsedMs, warnings } };
  } catch (e) {
    return await abandon({ kind: "failed", message: e instanceof Error ? e.message : String(e) });
  } finally {
    if (handle) {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  }
}

/** The namespaces a lab of this network may own: those of its state file and those of its plan. */
function labNamespaces(network: Network, opts: LabOptions): { names: string[]; file: string; dir: string } {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const paths = statePaths(network.name, prefix);
  const state = readState(paths.file);
  // Only exact names: a prefix scan of `mlab-seed-home-` would also take `mlab-seed-home-hardened-*`.
  const planned = planLab(network, opts).namespaces.map((n) => n.name);
  return { names: [...new Set([...(state?.namespaces ?? []), ...planned])], file: paths.file, dir: paths.dir };
}

/** Removes the lab: its processes, namespaces (and with them the veths and bridges) and files. Idempotent. */
export async function labDown(network: Network, opts: LabRunOptions = {}): Promise<LabResult<LabDownReport>> {
  const started = performance.now();
  const progress = opts.onProgress ?? ((): void => undefined);
  const caps = await probeLab();
  if (caps.missing !== null) return fail("unsupported", caps.missing);
  const { names, file, dir } = labNamespaces(network, opts);
  const hadState = readState(file) !== null || existsSync(dir);
  const { killed, deleted, failures } = await teardown(names);
  if (failures.length > 0) {
    // Keep the state file: a later `down` still knows what to remove.
    return fail("failed", `lab ${network.name} is only partly down:\n${failures.join("\n")}`);
  }
  removeState(file, dir);
  const elapsedMs = performance.now() - started;
  const removedAnything = hadState || deleted.length > 0 || killed.length > 0;
  progress(
    removedAnything
      ? `lab ${network.name} is down: ${killed.length} processes stopped, ${deleted.length} namespaces deleted (${Math.round(elapsedMs)} ms)`
      : `lab ${network.name} is not up; nothing to do`,
  );
  return { ok: true, value: { removedAnything, namespaces: deleted, killed, elapsedMs } };
}

interface IpAddrJson {
  ifname?: string;
  addr_info?: { local?: string; prefixlen?: number; scope?: string }[];
}

/** What runs: each planned namespace (present or not, with its addresses) and each recorded process. */
export async function labStatus(network: Network, opts: LabOptions = {}): Promise<LabResult<LabStatus>> {
  const caps = await probeLab();
  if (caps.missing !== null) return fail("unsupported", caps.missing);
  const plan = planLab(network, opts);
  const paths = statePaths(network.name, plan.prefix);
  const state = readState(paths.file);
  const existing = new Set(await listNamespaces());
  const namespaces = await Promise.all(
    plan.namespaces.map(async (n): Promise<NamespaceStatus> => {
      const exists = existing.has(n.name);
      const addresses: string[] = [];
      if (exists) {
        const out = await runCommand("ip", ["-n", n.name, "-j", "addr", "show"]);
        const links = out.status === 0 ? (JSON.parse(out.stdout) as IpAddrJson[]) : [];
        for (const l of links)
          for (const a of l.addr_info ?? [])
            if (a.scope === "global" && a.local !== undefined)
              addresses.push(`${l.ifname ?? "?"} ${a.local}/${a.prefixlen ?? 0}`);
      }
      return { name: n.name, role: roleOf(n), exists, addresses };
    }),
  );
  const processes = (state?.processes ?? []).map((p) => ({ ...p, alive: processAlive(p.pid) }));
  const up = state?.complete === true && namespaces.every((n) => n.exists);
  return {
    ok: true,
    value: { network: network.name, up, stateFile: state === null ? null : paths.file, namespaces, processes },
  };
}
