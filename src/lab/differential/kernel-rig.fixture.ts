// The kernel rig's life in a test file: whether this machine can run it (and, where not, what is missing, for the
// skipped tests' names), and the rig opened before a describe block's tests, closed after, its namespaces gone.

import { afterAll, beforeAll, expect } from "vitest";
import { listSandboxNamespaces } from "../../config/nftables/kernel-sandbox.js";
import { KernelRig, probeKernelRig } from "./kernel-rig.js";

/** `skip`: the rig cannot run here; `needs`: " [skipped: needs …]" to end the skipped tests' names with, else "". */
export function kernelRigSkip(): { readonly skip: boolean; readonly needs: string } {
  const missing = probeKernelRig();
  return { skip: missing !== null, needs: missing === null ? "" : ` [skipped: needs ${missing}]` };
}

/**
 * Opens the kernel rig before the describe block's tests and closes it after, checking that its namespaces are gone
 * (nothing when `skip`). Returns the open rig's getter.
 */
export function useKernelRig(skip: boolean): () => KernelRig {
  let rig: KernelRig | null = null;
  let names: readonly string[] = [];
  beforeAll(async () => {
    if (skip) return;
    rig = await KernelRig.open({ tcpLoose: true, tcpBeLiberal: false, rpFilter: 0 });
    names = rig.namespaceNames;
  }, 60_000);
  afterAll(async () => {
    await rig?.close();
    if (!skip) expect(listSandboxNamespaces().filter((n) => names.includes(n))).toEqual([]);
  });
  return () => {
    if (rig === null) throw new Error("the kernel rig is not open");
    return rig;
  };
}
