// Where a lab records what it created, so `lab down` can remove it from another process, after a crash, or twice:
// `${XDG_RUNTIME_DIR:-/run}/mallory/<network>.json` (or under the system's temporary directory when that is not
// writable), beside a directory of the lab's files (rulesets, listener configs, dnsmasq's pid file and logs).

import { accessSync, constants, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_PREFIX } from "./plan.js";

/** What a lab process is: the node's service listener, or its router's DNS resolver. */
export type LabProcessKind = "listener" | "dnsmasq";

export interface LabProcess {
  readonly node: string;
  readonly namespace: string;
  readonly pid: number;
  readonly log: string;
  readonly what: LabProcessKind;
}

export interface LabState {
  readonly version: 1;
  readonly network: string;
  readonly source: string;
  readonly prefix: string;
  /** Directory of the lab's files. */
  readonly dir: string;
  readonly startedAt: string;
  /** Namespaces created so far, in creation order. */
  readonly namespaces: readonly string[];
  readonly processes: readonly LabProcess[];
  /** True once `lab up` has finished. */
  readonly complete: boolean;
}

function writable(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The directory holding every lab's state file. */
export function stateRoot(): string {
  const base = process.env.XDG_RUNTIME_DIR ?? "/run";
  const preferred = join(base, "mallory");
  return writable(preferred) ? preferred : join(tmpdir(), "mallory");
}

/** `<network>.json` for the default prefix, `<prefix>-<network>.json` otherwise (two labs of one network). */
export function stateName(network: string, prefix: string): string {
  return prefix === DEFAULT_PREFIX ? network : `${prefix}-${network}`;
}

export function statePaths(network: string, prefix: string): { readonly file: string; readonly dir: string } {
  const root = stateRoot();
  const name = stateName(network, prefix);
  return { file: join(root, `${name}.json`), dir: join(root, name) };
}

export function readState(file: string): LabState | null {
  try {
    const parsed = JSON.parse(readFileSync(file, "utf8")) as Partial<LabState>;
    if (parsed.version !== 1 || !Array.isArray(parsed.namespaces) || !Array.isArray(parsed.processes)) return null;
    return parsed as LabState;
  } catch {
    return null;
  }
}

/** Written to a temporary name and renamed, so a crash never leaves half a state file. */
export function writeState(file: string, state: LabState): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, file);
}

export function removeState(file: string, dir: string): void {
  rmSync(file, { force: true });
  rmSync(`${file}.tmp`, { force: true });
  rmSync(dir, { recursive: true, force: true });
}
