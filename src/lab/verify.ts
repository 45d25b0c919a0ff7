// `lab verify`: every attack run twice, in the simulator (the catalogue's own run) and against the kernel (the same
// network built in namespaces by labUp, real processes playing the actors), and the two outcomes compared
// (ARCHITECTURE.md `lab verify --json`: `agreement` and `mismatches`). Each kernel run gets a fresh lab, so
// conntrack starts empty; plans of one attack are separated by `conntrack -F` in every namespace. A kernel actor
// judges only from what arrived: the listeners' JSON-line logs and the actor processes' own JSON results. Every
// plan's kernel run is captured per segment by tcpdump (capture.ts), and each row reports per link the packets the
// kernel and the simulator put on it, with the flows only one side saw.

import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AttackPlan, Outcome } from "../attacks/attack.js";
import { catalogue, findAttack, runPlans } from "../attacks/index.js";
import type { Network } from "../model/index.js";
import { inNamespace, probeLab, runCommand } from "./commands.js";
import type { CommandOutput } from "./commands.js";
import {
  capturePoints,
  compareFlows,
  KERNEL_CAPTURE_SUFFIX,
  probeTcpdump,
  SIMULATED_CAPTURE_SUFFIX,
  summarizeCaptureFile,
  withCaptures,
} from "./capture.js";
import type { CapturePoint, FlowComparison, StoppedCapture } from "./capture.js";
import { labDown, labUp } from "./lab.js";
import type { ListenerEvent } from "./listener-service.js";
import { nodeNamespace, planLab } from "./plan.js";
import type { LabPlan } from "./plan.js";
import type { LabState } from "./state.js";
import { ACTOR_READY, C2_COMMAND } from "./actor.js";
import { RAW_KERNEL_ATTACKS } from "./raw-actors.js";
import { UPNP_KERNEL_ATTACKS } from "./upnp-actors.js";
import { DNS_KERNEL_ATTACKS } from "./dns-actors.js";
import type { ActorResult, C2Event, ProbeRequest, ProbeResult } from "./actor.js";
import { C2_PORT } from "../attacks/c2-beacon.js";
import { attackerEndpoint, routerOfLan } from "../attacks/attack-run.js";
import { scanPorts } from "../attacks/inbound-scan.js";
import type { Router } from "../model/index.js";
import { ISP_NODE } from "../sim/topology.js";
import { formatIpv4, formatIpv6 } from "../wire/address.js";

// ---------------------------------------------------------------------------------------------------------------
// The framework's types: what a kernel actor gets and gives back.

export interface ExecOptions {
  readonly input?: string;
  readonly timeoutMs?: number;
}

/** An actor process left running in a namespace (a server Mallory runs); `stop` ends it and returns its output. */
export interface RunningActor {
  readonly pid: number;
  /** JSON lines it has printed so far (after the ready line). */
  lines(): unknown[];
  stop(): Promise<unknown[]>;
}

/** A lab that is up, as a kernel actor sees it. */
export interface RunningLab {
  /** The network the lab was built from (possibly the kernel attack's `labNetwork` of the verified one). */
  readonly network: Network;
  readonly plan: LabPlan;
  readonly state: LabState;
  /** The namespace of a model node (router, host, internet host, `isp`); null when the lab has none. */
  namespaceOf(node: string): string | null;
  /** Runs a command in a node's namespace; status -1 when it could not start or timed out. */
  exec(node: string, argv: readonly string[], opts?: ExecOptions): Promise<CommandOutput>;
  /** Every event a node's listener has logged so far (empty when the node runs none). */
  listenerLog(node: string): ListenerEvent[];
  /** Runs actor.ts to completion in a node's namespace (`args` = sub-command and its arguments). */
  actor(node: string, args: readonly string[], opts?: ExecOptions): Promise<ActorResult>;
  /** Starts a long-running actor (e.g. `c2-server`) and waits until it is listening. */
  startActor(node: string, args: readonly string[]): Promise<RunningActor>;
  /** `conntrack -F` in every node namespace (fresh state between runs on one lab). */
  flushConntrack(): Promise<void>;
}

export interface KernelRunOptions {
  readonly seed: number;
}

/** What the kernel run found; `not-runnable` when the lab cannot stage the attack (said honestly in evidence). */
export interface KernelOutcome {
  readonly outcome: Outcome | "not-runnable";
  readonly evidence: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** The kernel side of one catalogue attack. */
export interface KernelAttack {
  /** The catalogue id (attacks/index.ts). */
  readonly id: string;
  /**
   * The network the lab is built from for this attack, when it differs from the verified one: e.g. without the
   * attacker's service on a port an actor process serves instead of the listener.
   */
  labNetwork?(network: Network): Network;
  /** Plays one plan against the running lab (fresh conntrack) and judges from what arrived. */
  run(lab: RunningLab, plan: AttackPlan, opts: KernelRunOptions): Promise<KernelOutcome>;
}

export type VerifiedOutcome = Outcome | "not-runnable" | "not-applicable" | "error";

/** One side's capture of a segment: every packet in the file, and the file when `pcapDir` was given. */
export interface LinkSide {
  /** Records in the capture (ARP and neighbour discovery included); null when this side has no capture. */
  readonly packets: number | null;
  readonly path: string | null;
  /** Why there is no capture (tcpdump did not start, the file is damaged) or why it is incomplete (packets lost). */
  readonly error?: string;
}

/**
 * What crossed one segment in the attack's last plan, in the kernel (`<segment>.pcap`, tcpdump) and in the
 * simulator (`<segment>.pcapng`); `flows` when both sides were read (capture.ts says what is compared).
 */
export interface LinkReport {
  readonly segment: string;
  readonly kernel: LinkSide;
  readonly simulated: LinkSide;
  readonly flows?: FlowComparison;
}

export interface AgreementRow {
  readonly attack: string;
  /** `node:port/proto` of the simulator's result (the plan that decided it); null when nothing applied. */
  readonly target: string | null;
  readonly simulated: VerifiedOutcome;
  readonly kernel: VerifiedOutcome;
  /** Null when the kernel could not run it (not a disagreement, not an agreement either). */
  readonly agree: boolean | null;
  readonly evidence: { readonly simulated: string; readonly kernel: string };
  readonly details?: Readonly<Record<string, unknown>>;
  /** Per segment of the network: the packets each side put on it (empty when no plan ran). */
  readonly links: readonly LinkReport[];
}

export interface VerifyReport {
  readonly network: string;
  readonly agreement: readonly AgreementRow[];
  readonly mismatches: readonly AgreementRow[];
}

export interface VerifyOptions {
  /** Catalogue ids to verify; default every attack with a kernel actor. */
  readonly attacks?: readonly string[];
  readonly seed?: number;
  /** Namespace prefix (tests use a per-run one). */
  readonly prefix?: string;
  readonly onProgress?: (line: string) => void;
  /**
   * Keeps the captures: `<pcapDir>/<attack>/kernel/<segment>.pcap` (tcpdump) and
   * `<pcapDir>/<attack>/simulated/<segment>.pcapng` (the simulator's last plan, as runPlans writes them).
   * Without it they go to a temporary directory that is removed at the end (the counts are reported either way).
   */
  readonly pcapDir?: string;
  /** Called with the tcpdump pids of each plan's captures once they listen (for callers that watch processes). */
  readonly onCaptureStart?: (pids: readonly number[]) => void;
}

export type VerifyResult =
  | { readonly ok: true; readonly value: VerifyReport }
  | { readonly ok: false; readonly error: { readonly kind: "unsupported" | "invalid"; readonly message: string } };

// ---------------------------------------------------------------------------------------------------------------
// The registry.

const registry = new Map<string, KernelAttack>();

/** Adds (or replaces) the kernel side of an attack. */
export function registerKernelAttack(k: KernelAttack): void {
  registry.set(k.id, k);
}

export function kernelAttack(id: string): KernelAttack | undefined {
  return registry.get(id);
}

/** Ids with a kernel actor, in catalogue order. */
export function kernelAttackIds(): string[] {
  return catalogue.map((a) => a.id).filter((id) => registry.has(id));
}

// ---------------------------------------------------------------------------------------------------------------
// The running lab.

const ACTOR_READY_TIMEOUT_MS = 15_000;
const ACTOR_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 2_000;

/** How to start the actor: the bundled `lab-actor.js` beside the CLI, or actor.ts with the project's tsx. */
export function actorCommand(): { command: string; args: string[]; cwd: string } | null {
  const here = dirname(fileURLToPath(import.meta.url));
  const bundled = join(here, "lab-actor.js");
  if (existsSync(bundled)) return { command: process.execPath, args: [bundled], cwd: here };
  for (const source of [join(here, "actor.ts"), join(here, "..", "src", "lab", "actor.ts")]) {
    if (!existsSync(source)) continue;
    for (let dir = dirname(source); ; dir = dirname(dir)) {
      if (existsSync(join(dir, "node_modules", "tsx", "package.json")))
        return { command: process.execPath, args: ["--import", "tsx", source], cwd: dir };
      if (dirname(dir) === dir) break;
    }
  }
  return null;
}

/** The last non-empty line of an actor's output, parsed. */
function actorResult(out: CommandOutput): ActorResult {
  const last = out.stdout.trim().split("\n").pop() ?? "";
  if (out.status !== 0 || last === "")
    return {
      ok: false,
      message: `actor exited ${out.status}: ${(out.stderr.trim() || out.stdout.trim()).slice(0, 300)}`,
    };
  try {
    return { ok: true, value: JSON.parse(last) as unknown };
  } catch {
    return { ok: false, message: `actor printed no JSON: ${last.slice(0, 200)}` };
  }
}

function readListenerLog(file: string): ListenerEvent[] {
  try {
    return readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as ListenerEvent);
  } catch {
    return [];
  }
}

function makeRunningLab(network: Network, plan: LabPlan, state: LabState): RunningLab {
  const nodes = new Set(plan.namespaces.flatMap((n) => (n.role.kind === "node" ? [n.role.node.name] : [])));
  const namespaceOf = (node: string): string | null =>
    nodes.has(node) ? nodeNamespace(plan.prefix, network.name, node) : null;
  const mustNs = (node: string): string => {
    const ns = namespaceOf(node);
    if (ns === null) throw new Error(`the lab has no node named ${node}`);
    return ns;
  };
  const cmd = actorCommand();
  return {
    network,
    plan,
    state,
    namespaceOf,
    exec: (node, argv, opts = {}) => {
      const ns = namespaceOf(node);
      if (ns === null || argv.length === 0)
        return Promise.resolve({ status: -1, stdout: "", stderr: `no namespace for ${node}` });
      return inNamespace(ns, argv[0], argv.slice(1), {
        ...(opts.input !== undefined ? { input: opts.input } : {}),
        timeoutMs: opts.timeoutMs ?? ACTOR_TIMEOUT_MS,
      });
    },
    listenerLog: (node) => readListenerLog(join(state.dir, `${node}.log.jsonl`)),
    actor: async (node, args, opts = {}) => {
      if (cmd === null)
        return { ok: false, message: "the lab actor (actor.ts with tsx, or lab-actor.js) was not found" };
      const out = await inNamespace(mustNs(node), cmd.command, [...cmd.args, ...args], {
        cwd: cmd.cwd,
        timeoutMs: opts.timeoutMs ?? ACTOR_TIMEOUT_MS,
        ...(opts.input !== undefined ? { input: opts.input } : {}),
      });
      return actorResult(out);
    },
    startActor: (node, args) => startActorProcess(mustNs(node), args, cmd),
    flushConntrack: async () => {
      // Fails harmlessly where conntrack never loaded (no ct rule in that namespace, so no entries either).
      await Promise.all(
        plan.namespaces.map((n) => runCommand("ip", ["netns", "exec", n.name, "conntrack", "-F"], { timeoutMs: 5000 })),
      );
    },
  };
}

function startActorProcess(
  ns: string,
  args: readonly string[],
  cmd: { command: string; args: string[]; cwd: string } | null,
): Promise<RunningActor> {
  if (cmd === null)
    return Promise.reject(new Error("the lab actor (actor.ts with tsx, or lab-actor.js) was not found"));
  return new Promise((done, fail) => {
    const child = spawn("ip", ["netns", "exec", ns, cmd.command, ...cmd.args, ...args], {
      cwd: cmd.cwd,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let text = "";
    let stderr = "";
    let ready = false;
    let exited = false;
    const exit = new Promise<void>((gone) => {
      child.on("exit", () => {
        exited = true;
        gone();
      });
    });
    const lines = (): unknown[] =>
      text
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as unknown);
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      fail(new Error(`actor ${args.join(" ")} in ${ns} did not start: ${stderr.trim().slice(0, 300)}`));
    }, ACTOR_READY_TIMEOUT_MS);
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      text += d;
      if (!ready && text.includes(ACTOR_READY) && child.pid !== undefined) {
        ready = true;
        clearTimeout(timer);
        const pid = child.pid;
        done({
          pid,
          lines,
          stop: async () => {
            if (!exited) child.kill("SIGTERM");
            const kill = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
            await exit;
            clearTimeout(kill);
            return lines();
          },
        });
      }
    });
    child.on("error", (e) => {
      clearTimeout(timer);
      fail(e);
    });
    child.on("exit", (code) => {
      if (ready) return;
      clearTimeout(timer);
      fail(
        new Error(`actor ${args.join(" ")} in ${ns} exited ${code ?? "on a signal"}: ${stderr.trim().slice(0, 300)}`),
      );
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// verifyNetwork.

const DEFAULT_SEED = 1;

/** The verdict over several plans, as attacks/attack.ts runPlans folds them: breached if any plan breached. */
function foldKernel(outcomes: readonly KernelOutcome[]): KernelOutcome {
  return (
    outcomes.find((o) => o.outcome === "breached") ??
    outcomes.find((o) => o.outcome === "blocked") ??
    outcomes.at(0) ?? { outcome: "not-runnable", evidence: "no plan ran" }
  );
}

interface KernelCaptureOptions {
  /** Where each plan's tcpdump files go (emptied before each plan, so the last plan's remain); null: no capture. */
  readonly dir: string | null;
  readonly onStart?: (pids: readonly number[]) => void;
}

interface KernelRun {
  readonly outcome: KernelOutcome;
  /** Why the last plan was not captured at all, or null. */
  readonly captureError: string | null;
  /** Per segment, why the last plan's capture is incomplete (tcpdump killed, packets lost). */
  readonly incomplete: ReadonlyMap<string, string>;
}

/** Empties `dir` of earlier plans' captures (tcpdump overwrites, but a segment absent this time would linger). */
function freshDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
}

async function runKernel(
  network: Network,
  k: KernelAttack,
  plans: readonly AttackPlan[],
  opts: { seed: number; prefix?: string; onProgress?: (line: string) => void; capture: KernelCaptureOptions },
): Promise<KernelRun> {
  const labNetwork = k.labNetwork?.(network) ?? network;
  const labOpts = opts.prefix !== undefined ? { prefix: opts.prefix } : {};
  const up = await labUp(labNetwork, { ...labOpts, handleSignals: false });
  if (!up.ok)
    return {
      outcome: { outcome: "not-runnable", evidence: `lab up failed: ${up.error.message}` },
      captureError: null,
      incomplete: new Map(),
    };
  let captureError: string | null = null;
  let incomplete = new Map<string, string>();
  try {
    const plan = planLab(labNetwork, labOpts);
    const lab = makeRunningLab(labNetwork, plan, up.value.state);
    const points = capturePoints(plan);
    const dir = opts.capture.dir;
    const onStart = opts.capture.onStart;
    const outcomes: KernelOutcome[] = [];
    for (const p of plans) {
      await lab.flushConntrack();
      const run = (): Promise<KernelOutcome> => k.run(lab, p, { seed: opts.seed });
      let o: KernelOutcome;
      if (dir === null) o = await run();
      else {
        freshDir(dir);
        const captured = await withCaptures(points, dir, run, (session) => {
          onStart?.(session.captures.map((c) => c.pid));
        });
        o = captured.value;
        captureError = captured.error;
        incomplete = captureTrouble(captured.stopped);
        for (const why of [captureError, ...incomplete.values()])
          if (why !== null) opts.onProgress?.(`${k.id}: capture: ${why}`);
      }
      outcomes.push(o);
      if (o.outcome === "breached") break;
    }
    return { outcome: foldKernel(outcomes), captureError, incomplete };
  } catch (e) {
    return {
      outcome: {
        outcome: "not-runnable",
        evidence: `kernel run failed: ${e instanceof Error ? e.message : String(e)}`,
      },
      captureError,
      incomplete,
    };
  } finally {
    const down = await labDown(labNetwork, labOpts);
    if (!down.ok) opts.onProgress?.(`lab down failed: ${down.error.message}`);
  }
}

/** What went wrong with captures that did run, per segment: a tcpdump that had to be killed, or packets it lost. */
function captureTrouble(stopped: readonly StoppedCapture[]): Map<string, string> {
  const troubles = new Map<string, string>();
  for (const c of stopped)
    if (c.killed) troubles.set(c.segment, `tcpdump on ${c.segment} did not stop on SIGINT and was killed`);
    else if (c.dropped !== null && c.dropped > 0)
      troubles.set(c.segment, `tcpdump on ${c.segment} lost ${c.dropped} packets (its buffer was full)`);
  return troubles;
}

/** One side of a link: the file's records counted with our reader; the path kept only when the user asked. */
async function linkSide(
  path: string,
  keepPath: boolean,
  trouble: { readonly missing: string | null; readonly incomplete: string | undefined },
): Promise<{ side: LinkSide; flows: readonly string[] | null }> {
  const { missing, incomplete } = trouble;
  if (!existsSync(path))
    return { side: { packets: null, path: null, ...(missing !== null ? { error: missing } : {}) }, flows: null };
  const read = await summarizeCaptureFile(path);
  if (!read.ok) return { side: { packets: null, path: keepPath ? path : null, error: read.error }, flows: null };
  return {
    side: {
      packets: read.value.packets,
      path: keepPath ? path : null,
      ...(incomplete !== undefined ? { error: incomplete } : {}),
    },
    flows: read.value.flows,
  };
}

/** Segment names of the simulator's files in `dir`. */
function simulatedSegments(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith(SIMULATED_CAPTURE_SUFFIX))
      .map((f) => f.slice(0, -SIMULATED_CAPTURE_SUFFIX.length))
      .sort();
  } catch {
    return [];
  }
}

/** The lab's segments in plan order, then any segment only the simulator has; each side read back from its file. */
async function linkReports(
  points: readonly CapturePoint[],
  dirs: { kernel: string; simulated: string },
  keepPaths: boolean,
  kernel: { readonly missing: string | null; readonly incomplete: ReadonlyMap<string, string> },
): Promise<LinkReport[]> {
  const segments = [...new Set([...points.map((p) => p.segment), ...simulatedSegments(dirs.simulated)])];
  const links: LinkReport[] = [];
  for (const segment of segments) {
    const k = await linkSide(join(dirs.kernel, `${segment}${KERNEL_CAPTURE_SUFFIX}`), keepPaths, {
      missing: kernel.missing,
      incomplete: kernel.incomplete.get(segment),
    });
    const s = await linkSide(join(dirs.simulated, `${segment}${SIMULATED_CAPTURE_SUFFIX}`), keepPaths, {
      missing: null,
      incomplete: undefined,
    });
    links.push({
      segment,
      kernel: k.side,
      simulated: s.side,
      ...(k.flows !== null && s.flows !== null ? { flows: compareFlows(k.flows, s.flows) } : {}),
    });
  }
  return links;
}

/** Runs each chosen attack in the simulator and against the kernel lab and compares the outcomes. */
export async function verifyNetwork(network: Network, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const caps = await probeLab();
  if (caps.missing !== null) return { ok: false, error: { kind: "unsupported", message: caps.missing } };
  const ids = opts.attacks ?? kernelAttackIds();
  const unknown = ids.filter((id) => findAttack(id) === undefined);
  if (unknown.length > 0)
    return { ok: false, error: { kind: "invalid", message: `no attack named ${unknown.join(", ")}` } };
  const seed = opts.seed ?? DEFAULT_SEED;
  const progress = opts.onProgress ?? ((): void => undefined);
  const tcpdump = await probeTcpdump();
  if (!tcpdump) progress("tcpdump is not installed: the kernel side's links are not captured");
  const keepPaths = opts.pcapDir !== undefined;
  if (opts.pcapDir !== undefined)
    try {
      mkdirSync(opts.pcapDir, { recursive: true });
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      return { ok: false, error: { kind: "invalid", message: `cannot write captures to ${opts.pcapDir}: ${why}` } };
    }
  const root = opts.pcapDir ?? mkdtempSync(join(tmpdir(), "mallory-verify-"));
  const labOpts = opts.prefix !== undefined ? { prefix: opts.prefix } : {};
  const points = capturePoints(planLab(network, labOpts));
  try {
    const rows: AgreementRow[] = [];
    for (const id of ids) {
      const row = await verifyAttack(network, id, {
        seed,
        progress,
        points,
        dirs: { kernel: join(root, id, "kernel"), simulated: join(root, id, "simulated") },
        tcpdump,
        keepPaths,
        ...(opts.prefix !== undefined ? { prefix: opts.prefix } : {}),
        ...(opts.onCaptureStart !== undefined ? { onCaptureStart: opts.onCaptureStart } : {}),
      });
      if (row !== null) rows.push(row);
    }
    return {
      ok: true,
      value: { network: network.name, agreement: rows, mismatches: rows.filter((r) => r.agree === false) },
    };
  } finally {
    if (!keepPaths) rmSync(root, { recursive: true, force: true });
  }
}

interface AttackVerifyOptions {
  readonly seed: number;
  readonly prefix?: string;
  readonly progress: (line: string) => void;
  readonly points: readonly CapturePoint[];
  readonly dirs: { readonly kernel: string; readonly simulated: string };
  readonly tcpdump: boolean;
  readonly keepPaths: boolean;
  readonly onCaptureStart?: (pids: readonly number[]) => void;
}

/** One attack both ways, with its links; null for an id the catalogue does not have. */
async function verifyAttack(network: Network, id: string, o: AttackVerifyOptions): Promise<AgreementRow | null> {
  const { seed, progress } = o;
  const attack = findAttack(id);
  if (attack === undefined) return null;
  const planned = attack.plan(network);
  if (planned.plans.length === 0) {
    const why = `not applicable: ${planned.notApplicable ?? "no plan"}`;
    progress(`${id}: not applicable`);
    return {
      attack: id,
      target: null,
      simulated: "not-applicable",
      kernel: "not-applicable",
      agree: null,
      evidence: { simulated: why, kernel: why },
      links: [],
    };
  }
  mkdirSync(o.dirs.simulated, { recursive: true });
  const sim = runPlans(attack, network, planned.plans, { seed, trace: false, pcapDir: o.dirs.simulated });
  const simulated: VerifiedOutcome = sim === null ? "not-applicable" : sim.ok ? sim.result.outcome : "error";
  const simEvidence = sim === null ? "no plan ran" : sim.ok ? sim.result.evidence : sim.error.message;
  const target = sim?.ok === true ? sim.result.target : null;
  const k = registry.get(id);
  progress(`${id}: simulated ${simulated}; running against the kernel`);
  const capture: KernelCaptureOptions = {
    dir: o.tcpdump ? o.dirs.kernel : null,
    ...(o.onCaptureStart !== undefined ? { onStart: o.onCaptureStart } : {}),
  };
  const run: KernelRun =
    k === undefined
      ? {
          outcome: {
            outcome: "not-runnable",
            evidence: "not runnable in the lab: no kernel actor for this attack yet",
          },
          captureError: null,
          incomplete: new Map(),
        }
      : await runKernel(network, k, planned.plans, {
          seed,
          onProgress: progress,
          capture,
          ...(o.prefix !== undefined ? { prefix: o.prefix } : {}),
        });
  const kernel = run.outcome;
  const kernelMissing =
    k === undefined
      ? null
      : !o.tcpdump
        ? "tcpdump is not installed"
        : (run.captureError ?? (kernel.outcome === "not-runnable" ? "the kernel run did not reach a capture" : null));
  const links = await linkReports(o.points, o.dirs, o.keepPaths, {
    missing: kernelMissing,
    incomplete: run.incomplete,
  });
  const runnable = kernel.outcome !== "not-runnable" && (simulated === "breached" || simulated === "blocked");
  progress(`${id}: simulated ${simulated}, kernel ${kernel.outcome}`);
  return {
    attack: id,
    target,
    simulated,
    kernel: kernel.outcome,
    agree: runnable ? simulated === kernel.outcome : null,
    evidence: { simulated: simEvidence, kernel: kernel.evidence },
    ...(kernel.details !== undefined ? { details: { kernel: kernel.details } } : {}),
    links,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The kernel actors of the simpler attacks.

const isOpenAnswer = (p: ProbeResult): boolean => p.answer === "session" || p.answer === "udp-reply";

function asProbes(r: ActorResult): ProbeResult[] | string {
  if (!r.ok) return r.message;
  return Array.isArray(r.value) ? (r.value as ProbeResult[]) : [r.value as ProbeResult];
}

function describeProbe(p: ProbeResult): string {
  switch (p.answer) {
    case "session":
      return `a session opened${p.firstReply !== null ? ` (${JSON.stringify(p.firstReply.trim().slice(0, 40))})` : ""}`;
    case "udp-reply":
      return `a ${p.bytesBack}-byte UDP answer came back`;
    case "reset":
      return "a RST came back (closed)";
    case "unreachable":
      return "an ICMP unreachable came back";
    case "silent":
      return "nothing came back";
  }
}

/** Listener events on `node` from `peer` (what actually arrived at the service). */
function arrivalsFrom(lab: RunningLab, node: string, peer: string): ListenerEvent[] {
  return lab.listenerLog(node).filter((e) => e.event !== "ready" && e.peer === peer);
}

/** One probe from `from`, judged from what came back and from the target's listener log. */
async function probeOnce(
  lab: RunningLab,
  from: string,
  fromAddress: string,
  targetNode: string,
  request: ProbeRequest,
  path: string,
): Promise<KernelOutcome> {
  const got = asProbes(await lab.actor(from, ["probe"], { input: JSON.stringify([request]) }));
  if (typeof got === "string") return { outcome: "not-runnable", evidence: got };
  const p = got.at(0);
  if (p === undefined) return { outcome: "not-runnable", evidence: "the actor returned no probe result" };
  const arrived = arrivalsFrom(lab, targetNode, fromAddress);
  const details = { answer: p.answer, bytesBack: p.bytesBack, listenerEvents: arrived.length };
  const atService =
    arrived.length > 0 ? `; ${targetNode}'s listener logged ${arrived.length} events from ${fromAddress}` : "";
  return {
    outcome: isOpenAnswer(p) ? "breached" : "blocked",
    evidence: `${path}: ${describeProbe(p)}${atService}`,
    details,
  };
}

function addressOf(network: Network, node: string): string | null {
  const h = network.hosts.find((x) => x.name === node);
  if (h !== undefined) return formatIpv4(h.address);
  const i = network.internetHosts.find((x) => x.name === node);
  if (i !== undefined) return formatIpv4(i.address);
  const r = network.routers.find((x) => x.name === node);
  return r === undefined ? null : formatIpv4(r.wan.address);
}

/** The ISP routes a router's LAN prefixes to its WAN address (attacks/inbound-scan.ts routeLansViaRouter). */
async function routeLansViaRouterInLab(lab: RunningLab, router: Router): Promise<string | null> {
  for (const rl of router.lans) {
    const lan = lab.network.lans.find((l) => l.name === rl.lan);
    if (lan === undefined) continue;
    const prefix = `${formatIpv4(lan.prefix.addr)}/${lan.prefix.len}`;
    const out = await lab.exec(ISP_NODE, ["ip", "route", "replace", prefix, "via", formatIpv4(router.wan.address)]);
    if (out.status !== 0) return `ip route replace ${prefix} in the ISP failed: ${out.stderr.trim()}`;
  }
  return null;
}

const inboundScanKernel: KernelAttack = {
  id: "inbound-scan",
  async run(lab, p) {
    const network = lab.network;
    const m = attackerEndpoint(network);
    if (m === null) return { outcome: "not-runnable", evidence: "no internet host is marked attacker" };
    const host = network.hosts.find((h) => h.name === p.target.node);
    const router =
      network.routers.find((r) => r.name === p.target.node) ??
      (host !== undefined ? routerOfLan(network, host.lan) : null);
    if (router === null) return { outcome: "not-runnable", evidence: `no router for ${p.target.node}` };
    const routed = await routeLansViaRouterInLab(lab, router);
    if (routed !== null) return { outcome: "not-runnable", evidence: routed };
    const targets = [
      { node: router.name, address: formatIpv4(router.wan.address) },
      ...network.hosts
        .filter((h) => routerOfLan(network, h.lan) === router)
        .map((h) => ({ node: h.name, address: formatIpv4(h.address) })),
    ];
    const ports = scanPorts(network);
    const requests: (ProbeRequest & { node: string })[] = [];
    for (const t of targets)
      for (const port of ports)
        for (const proto of ["tcp", "udp"] as const) requests.push({ node: t.node, address: t.address, port, proto });
    const got = asProbes(await lab.actor(m.name, ["probe"], { input: JSON.stringify(requests) }));
    if (typeof got === "string") return { outcome: "not-runnable", evidence: got };
    const row = (x: ProbeResult, i: number) => ({
      node: requests[i].node,
      address: x.address,
      port: x.port,
      proto: x.proto,
      answer: x.answer,
    });
    const answered = got.map(row).filter((x) => x.answer === "session" || x.answer === "udp-reply");
    const arrived = targets.flatMap((t) => arrivalsFrom(lab, t.node, m.address));
    const details = { probes: got.length, answered, listenerEventsFromMallory: arrived.length };
    const scope = `${got.length} probes (${ports.length} ports, TCP and UDP) to ${targets.map((t) => t.address).join(", ")}`;
    if (answered.length > 0)
      return {
        outcome: "breached",
        evidence: `of ${scope}, ${answered.length} answered: ${answered.map((x) => `${x.node}:${x.port}/${x.proto}`).join(", ")}`,
        details,
      };
    return {
      outcome: "blocked",
      evidence: `none of ${scope} got a SYN/ACK or a UDP answer; listeners logged ${arrived.length} events from ${m.address}`,
      details,
    };
  },
};

const portForwardExposureKernel: KernelAttack = {
  id: "port-forward-exposure",
  run(lab, p) {
    const network = lab.network;
    const m = attackerEndpoint(network);
    if (m === null)
      return Promise.resolve({ outcome: "not-runnable", evidence: "no internet host is marked attacker" });
    for (const router of network.routers)
      for (const forward of router.portForwards) {
        if (forward.proto !== p.target.proto) continue;
        const toService = forward.to === p.target.node && forward.toPort === p.target.port;
        const toWan = router.name === p.target.node && forward.port === p.target.port;
        if (!toService && !toWan) continue;
        const wan = formatIpv4(router.wan.address);
        return probeOnce(
          lab,
          m.name,
          m.address,
          forward.to,
          { address: wan, port: forward.port, proto: forward.proto },
          `${m.name} → ${wan}:${forward.port}/${forward.proto} (forwarded to ${forward.to}:${forward.toPort})`,
        );
      }
    return Promise.resolve({
      outcome: "not-runnable",
      evidence: `no port forward publishes ${p.target.node}:${p.target.port}`,
    });
  },
};

const lateralMovementKernel: KernelAttack = {
  id: "lateral-movement",
  run(lab, p) {
    const from = p.foothold;
    const fromAddress = from === null ? null : addressOf(lab.network, from);
    const to = addressOf(lab.network, p.target.node);
    if (from === null || fromAddress === null || to === null)
      return Promise.resolve({
        outcome: "not-runnable",
        evidence: "lateral-movement needs a foothold and a LAN target",
      });
    return probeOnce(
      lab,
      from,
      fromAddress,
      p.target.node,
      { address: to, port: p.target.port, proto: p.target.proto },
      `${from} (${fromAddress}) → ${to}:${p.target.port}/${p.target.proto}`,
    );
  },
};

/** The implant polls this often in the lab (real time, unlike the simulator's 5 s); three polls, as the twin's. */
const C2_POLLS = 3;
const C2_INTERVAL_MS = 2000;

function c2PortOf(network: Network, attacker: string): number {
  const host = network.internetHosts.find((h) => h.name === attacker);
  return host?.services.find((s) => s.name === "c2" && s.proto === "tcp")?.port ?? C2_PORT;
}

const c2BeaconKernel: KernelAttack = {
  id: "c2-beacon",
  // The C2 server is an actor process in Mallory's namespace, so the listener must leave its port free.
  labNetwork(network) {
    const m = attackerEndpoint(network);
    if (m === null) return network;
    const port = c2PortOf(network, m.name);
    return {
      ...network,
      internetHosts: network.internetHosts.map((h) =>
        h.name === m.name ? { ...h, services: h.services.filter((s) => !(s.proto === "tcp" && s.port === port)) } : h,
      ),
    };
  },
  async run(lab, p) {
    const c2 = addressOf(lab.network, p.target.node);
    const from = p.foothold;
    if (c2 === null || from === null)
      return { outcome: "not-runnable", evidence: "c2-beacon needs a foothold and a C2 host" };
    const server = await lab.startActor(p.target.node, ["c2-server", String(p.target.port)]);
    let poll: ActorResult;
    try {
      poll = await lab.actor(from, [
        "poll-c2",
        c2,
        String(p.target.port),
        "--name",
        from,
        "--polls",
        String(C2_POLLS),
        "--interval",
        String(C2_INTERVAL_MS),
      ]);
    } finally {
      await server.stop();
    }
    const events = server.lines() as C2Event[];
    const polls = events.filter((e) => e.event === "poll");
    const results = events.filter((e) => e.event === "result");
    const details = {
      polls: polls.length,
      results: results.map((r) => r.text),
      implant: poll.ok ? poll.value : poll.message,
    };
    if (results.length > 0)
      return {
        outcome: "breached",
        evidence: `the implant on ${from} polled ${c2}:${p.target.port}; the C2 server answered ${JSON.stringify(C2_COMMAND.trim())} and the output came back: ${JSON.stringify(results[0].text)}`,
        details,
      };
    return {
      outcome: "blocked",
      evidence:
        polls.length === 0
          ? `none of ${C2_POLLS} polls from ${from} reached ${c2}:${p.target.port}`
          : `the C2 server saw ${polls.length} polls but no command output came back`,
      details,
    };
  },
};

/** The IPv6 numbering attacks/ipv6-no-nat.ts gives the twin's internet, so both runs use the same addresses. */
const INTERNET_V6_PREFIX = "2001:db8:ffff::";
const CUSTOMER_V6_PREFIX = "2001:db8:fffe:";
const ATTACKER_V6_HOST = "66";
const V6_SUBNET_LEN = 64;
const V6_HOST_LEN = 128;

/**
 * The lab's internet side is IPv4 only (sim/topology.ts), as the twin's is; like the simulator's ipv6-no-nat run
 * (connectIpv6Internet) the kernel run gives it IPv6: the ISP's shared and customer links numbered, Mallory on the
 * shared segment, the router's default route via the ISP, and the ISP's routes for the router's LAN prefixes.
 */
async function connectIpv6InternetInLab(lab: RunningLab, router: Router, attacker: string): Promise<string> {
  const network = lab.network;
  const index = network.routers.indexOf(router);
  const model = network.internetHosts.find((h) => h.name === attacker);
  const modelV6 = model?.ipv6 ?? null;
  const mallory = modelV6 !== null ? formatIpv6(modelV6) : `${INTERNET_V6_PREFIX}${ATTACKER_V6_HOST}`;
  const ispShared = `${INTERNET_V6_PREFIX}1`;
  const ispLink = `${CUSTOMER_V6_PREFIX}${index.toString(16)}::1`;
  const routerLink = `${CUSTOMER_V6_PREFIX}${index.toString(16)}::2`;
  const malloryLen = modelV6 !== null ? V6_HOST_LEN : V6_SUBNET_LEN;
  const steps: [string, string[]][] = [
    [ISP_NODE, ["ip", "-6", "addr", "replace", `${ispShared}/${V6_SUBNET_LEN}`, "dev", "internet", "nodad"]],
    [ISP_NODE, ["ip", "-6", "addr", "replace", `${ispLink}/${V6_SUBNET_LEN}`, "dev", `cust${index}`, "nodad"]],
    [attacker, ["ip", "-6", "addr", "replace", `${mallory}/${malloryLen}`, "dev", "eth0", "nodad"]],
    [attacker, ["ip", "-6", "route", "replace", "::/0", "via", ispShared, "dev", "eth0", "onlink"]],
    [
      router.name,
      ["ip", "-6", "addr", "replace", `${routerLink}/${V6_SUBNET_LEN}`, "dev", router.wan.interface, "nodad"],
    ],
    [router.name, ["ip", "-6", "route", "replace", "::/0", "via", ispLink, "dev", router.wan.interface]],
  ];
  if (modelV6 !== null)
    steps.push([ISP_NODE, ["ip", "-6", "route", "replace", `${mallory}/${V6_HOST_LEN}`, "dev", "internet"]]);
  for (const rl of router.lans) {
    const lan = network.lans.find((l) => l.name === rl.lan);
    if (lan?.ipv6 == null) continue;
    const prefix = `${formatIpv6(lan.ipv6.addr)}/${lan.ipv6.len}`;
    steps.push([ISP_NODE, ["ip", "-6", "route", "replace", prefix, "via", routerLink, "dev", `cust${index}`]]);
  }
  for (const [node, argv] of steps) {
    const out = await lab.exec(node, argv);
    if (out.status !== 0) throw new Error(`${argv.join(" ")} in ${node} failed: ${out.stderr.trim()}`);
  }
  return mallory;
}

const ipv6NoNatKernel: KernelAttack = {
  id: "ipv6-no-nat",
  async run(lab, p) {
    const network = lab.network;
    const m = attackerEndpoint(network);
    const host = network.hosts.find((h) => h.name === p.target.node);
    const router = host === undefined ? null : routerOfLan(network, host.lan);
    const lan = router?.lans.find((l) => l.lan === host?.lan);
    if (m === null || host?.ipv6 == null || router === null || lan?.ipv6 == null)
      return { outcome: "not-runnable", evidence: `${p.target.node} has no global IPv6 address behind a router` };
    const malloryV6 = await connectIpv6InternetInLab(lab, router, m.name);
    const address = formatIpv6(host.ipv6);
    return probeOnce(
      lab,
      m.name,
      malloryV6,
      host.name,
      { address, port: p.target.port, proto: p.target.proto },
      `${m.name} (${malloryV6}) → [${address}]:${p.target.port}/${p.target.proto}, no translation on the way`,
    );
  },
};

for (const k of [
  inboundScanKernel,
  portForwardExposureKernel,
  lateralMovementKernel,
  c2BeaconKernel,
  ipv6NoNatKernel,
  ...RAW_KERNEL_ATTACKS,
  ...UPNP_KERNEL_ATTACKS,
  ...DNS_KERNEL_ATTACKS,
])
  registerKernelAttack(k);
