// `lab verify` with every attack the lab can run, on the two reference networks the per-actor tests cover only in
// part: homelab (a port forward, an open IPv6 forward chain, UPnP, rebind protection) and openwrt-default (fw4's
// default ruleset). Issue 7's floor: agreement on every lab-runnable attack, asserted by the suite. Each network is
// one fresh lab per attack (as `mallory lab verify NETWORK --json` runs it); the outcomes are SCENARIOS.md's for
// these networks, and the forged-source TCP variant must agree trial by trial with S's ISNs replayed.
// Runs only as root with every tool the actors use; namespaces carry a per-run prefix and none may be left.

import { afterAll, describe, expect, it } from "vitest";
import { loadNetwork } from "../model/index.js";
import { listNamespaces, probeLab, runCommand } from "./commands.js";
import type { ComparedTrial } from "./raw-actors.js";
import { kernelAttackIds, verifyNetwork } from "./verify.js";
import type { AgreementRow, VerifyReport } from "./verify.js";

const caps = await probeLab();
const tools = await Promise.all([
  runCommand("conntrack", ["--version"]).then((o) => (o.status === 0 ? null : "the `conntrack` tool")),
  runCommand("python3", ["--version"]).then((o) => (o.status === 0 ? null : "python3")),
  runCommand("tcpdump", ["--version"]).then((o) => (o.status === 0 ? null : "tcpdump")),
  runCommand("dnsmasq", ["--version"]).then((o) => (o.stdout.includes("Dnsmasq version") ? null : "dnsmasq")),
  runCommand("miniupnpd", ["--version"]).then((o) =>
    (o.stdout + o.stderr).includes("miniupnpd") ? null : "miniupnpd",
  ),
  runCommand("upnpc", []).then((o) => ((o.stdout + o.stderr).includes("upnpc") ? null : "upnpc (miniupnpc)")),
]);
const missing = caps.missing ?? tools.find((t) => t !== null) ?? null;
if (missing !== null) console.warn(`src/lab/verify-all.test.ts skipped: needs ${missing}`);

const PREFIX = `mlab-a${process.pid}`;
/** Issue 7's list of attacks the lab must run, plus dns-rebinding since the lab has dnsmasq. */
const LAB_RUNNABLE = [
  "inbound-scan",
  "port-forward-exposure",
  "spoofed-source",
  "upnp-forward-self",
  "upnp-forward-other",
  "lateral-movement",
  "ipv6-no-nat",
  "c2-beacon",
  "udp-hole-punch",
  "dns-rebinding",
];
const example = (name: string): string => new URL(`../../examples/${name}.yaml`, import.meta.url).pathname;

async function verifyAll(name: string, attacks?: readonly string[]): Promise<VerifyReport> {
  const loaded = await loadNetwork(example(name));
  if (loaded.network === null) throw new Error(`${name} does not load`);
  const r = await verifyNetwork(loaded.network, { prefix: PREFIX, seed: 1, ...(attacks ? { attacks } : {}) });
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

/** attack → "simulated/kernel/agree" for a compact, readable comparison. */
function outcomes(report: VerifyReport): Record<string, string> {
  return Object.fromEntries(
    report.agreement.map((r: AgreementRow) => [r.attack, `${r.simulated}/${r.kernel}/${String(r.agree)}`]),
  );
}

function tcpTrials(report: VerifyReport): readonly ComparedTrial[] {
  const row = report.agreement.find((r) => r.attack === "spoofed-source");
  const kernel = row?.details?.kernel as { variant?: string; trials?: ComparedTrial[] } | undefined;
  return kernel?.variant === "tcp" ? (kernel.trials ?? []) : [];
}

describe.skipIf(missing !== null)("lab verify, every lab-runnable attack", () => {
  afterAll(async () => {
    expect((await listNamespaces()).filter((n) => n.startsWith(`${PREFIX}-`))).toEqual([]);
  });

  it("has a kernel actor for every attack issue 7 lists", () => {
    expect(kernelAttackIds()).toEqual(expect.arrayContaining(LAB_RUNNABLE));
  });

  it("homelab: the kernel agrees with the simulator on all ten, TCP forged-source trial by trial", async () => {
    const report = await verifyAll("homelab");
    expect(report.mismatches).toEqual([]);
    expect(outcomes(report)).toEqual({
      "inbound-scan": "breached/breached/true",
      "port-forward-exposure": "breached/breached/true",
      "spoofed-source": "breached/breached/true",
      "upnp-forward-self": "breached/breached/true",
      // homelab's miniupnpd runs in secure mode: a host may map only to itself.
      "upnp-forward-other": "blocked/blocked/true",
      "dns-rebinding": "blocked/blocked/true",
      "c2-beacon": "breached/breached/true",
      "lateral-movement": "breached/breached/true",
      "udp-hole-punch": "breached/breached/true",
      "ipv6-no-nat": "breached/breached/true",
    });
    // The forward to nas:5000/tcp makes the forged-source attack the TCP variant: S's ISN decides each trial.
    const trials = tcpTrials(report);
    expect(trials.length).toBeGreaterThanOrEqual(4);
    for (const t of trials) expect({ trial: t.trial, agree: t.agree }).toEqual({ trial: t.trial, agree: true });
    const established = trials.filter((t) => t.kernel.established).length;
    expect(established).toBeGreaterThan(0);
    expect(established).toBeLessThan(trials.length);
  }, 240_000);

  it("seed-home-hardened: dns-rebinding is blocked by the router's dnsmasq in both (the other nine: verify*.test.ts)", async () => {
    const report = await verifyAll("seed-home-hardened", ["dns-rebinding"]);
    expect(outcomes(report)).toEqual({ "dns-rebinding": "blocked/blocked/true" });
  }, 60_000);

  it("openwrt-default: the kernel agrees with the simulator on every attack that applies", async () => {
    const report = await verifyAll("openwrt-default");
    expect(report.mismatches).toEqual([]);
    expect(outcomes(report)).toEqual({
      // fw4 rejects unsolicited inbound traffic, and the default network forwards no port.
      "inbound-scan": "blocked/blocked/true",
      "port-forward-exposure": "not-applicable/not-applicable/null",
      // NAT tricked from inside: fw4 forwards lan → wan from any LAN source, so the forged mapping works.
      "spoofed-source": "breached/breached/true",
      // OpenWrt ships no UPnP daemon, and its dnsmasq has rebind protection on.
      "upnp-forward-self": "blocked/blocked/true",
      "upnp-forward-other": "blocked/blocked/true",
      "dns-rebinding": "blocked/blocked/true",
      "c2-beacon": "breached/breached/true",
      "lateral-movement": "breached/breached/true",
      "udp-hole-punch": "breached/breached/true",
      "ipv6-no-nat": "blocked/blocked/true",
    });
  }, 240_000);
});
