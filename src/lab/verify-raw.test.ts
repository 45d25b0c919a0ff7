// The forged-source kernel actors (raw-actors.ts, raw-actor.py) under `lab verify` on seed-home and
// seed-home-hardened: spoofed-source over UDP and over TCP (every trial replayed in the simulator with the kernel's
// ISN, and agreeing), udp-hole-punch. Runs only as root with `ip netns`, `nft`, `conntrack` and python3;
// namespaces carry a per-run prefix, verifyNetwork takes every lab down, and none may be left.

import { afterAll, describe, expect, it } from "vitest";
import { TCP_TRIALS } from "../attacks/spoofed-source.js";
import { loadNetwork } from "../model/index.js";
import type { Network } from "../model/index.js";
import { listNamespaces, probeLab, runCommand } from "./commands.js";
import type { ComparedTrial } from "./raw-actors.js";
import { kernelAttackIds, verifyNetwork } from "./verify.js";
import type { AgreementRow } from "./verify.js";

const caps = await probeLab();
const tools = await Promise.all([
  runCommand("conntrack", ["--version"]).then((o) => (o.status === 0 ? null : "the `conntrack` tool")),
  runCommand("python3", ["--version"]).then((o) => (o.status === 0 ? null : "python3")),
]);
const missing = caps.missing ?? tools.find((t) => t !== null) ?? null;
if (missing !== null) console.warn(`src/lab/verify-raw.test.ts skipped: needs ${missing}`);

const upnpTools = await Promise.all([
  runCommand("miniupnpd", ["--version"]).then((o) =>
    (o.stdout + o.stderr).includes("miniupnpd") ? null : "miniupnpd",
  ),
  runCommand("upnpc", []).then((o) => ((o.stdout + o.stderr).includes("upnpc") ? null : "upnpc (miniupnpc)")),
]);
const upnpMissing = upnpTools.find((t) => t !== null) ?? null;
if (missing === null && upnpMissing !== null)
  console.warn(`src/lab/verify-raw.test.ts: UPnP actors skipped: needs ${upnpMissing}`);

const PREFIX = `mlab-r${process.pid}`;
const example = (name: string): string => new URL(`../../examples/${name}.yaml`, import.meta.url).pathname;

async function load(name: string): Promise<Network> {
  const loaded = await loadNetwork(example(name));
  if (loaded.network === null) throw new Error(`${name} does not load`);
  return loaded.network;
}

/** The network with S's services cut down to one, so spoofed-source has exactly one plan (one variant). */
function onlyService(network: Network, node: string, port: number, proto: "tcp" | "udp"): Network {
  return {
    ...network,
    hosts: network.hosts.map((h) =>
      h.name === node ? { ...h, services: h.services.filter((s) => s.port === port && s.proto === proto) } : h,
    ),
  };
}

async function verifyOne(network: Network, attack: string): Promise<AgreementRow> {
  const r = await verifyNetwork(network, { prefix: PREFIX, seed: 1, attacks: [attack] });
  if (!r.ok) throw new Error(r.error.message);
  const row = r.value.agreement.find((x) => x.attack === attack);
  if (row === undefined) throw new Error(`no row for ${attack}`);
  return row;
}

const trialsOf = (row: AgreementRow): ComparedTrial[] =>
  (row.details?.kernel as { trials?: ComparedTrial[] } | undefined)?.trials ?? [];

describe.skipIf(missing !== null)("forged-source kernel actors", () => {
  afterAll(async () => {
    expect((await listNamespaces()).filter((n) => n.startsWith(`${PREFIX}-`))).toEqual([]);
  });

  it("registers spoofed-source and udp-hole-punch", () => {
    expect(kernelAttackIds()).toEqual(
      expect.arrayContaining(["spoofed-source", "udp-hole-punch", "upnp-forward-self", "upnp-forward-other"]),
    );
  });

  it("seed-home, spoofed-source over UDP: breached in both, the mapping preserves S's port", async () => {
    const row = await verifyOne(onlyService(await load("seed-home"), "s", 161, "udp"), "spoofed-source");
    expect({ simulated: row.simulated, kernel: row.kernel, agree: row.agree }, row.evidence.kernel).toEqual({
      simulated: "breached",
      kernel: "breached",
      agree: true,
    });
    const k = row.details?.kernel as { mapped: string; bytesAtTarget: number; replyBytes: number };
    expect(k.mapped).toBe("198.51.100.2:161");
    expect(k.bytesAtTarget).toBe("mallory: hello from the internet\n".length);
    expect(k.replyBytes).toBeGreaterThan(0);
  }, 30_000);

  it("seed-home, spoofed-source over TCP: breached, and every trial agrees with the simulator", async () => {
    const row = await verifyOne(onlyService(await load("seed-home"), "s", 22, "tcp"), "spoofed-source");
    const trials = trialsOf(row);
    expect(trials).toHaveLength(TCP_TRIALS);
    expect(
      trials.filter((t) => !t.agree).map((t) => ({ trial: t.trial, kernel: t.kernel, sim: t.simulated })),
      row.evidence.kernel,
    ).toEqual([]);
    // S answered every time; its ISN decided each trial (SCENARIOS.md): before the forged seq+1, the session opens.
    for (const t of trials) {
      expect(t.targetIsn).not.toBeNull();
      expect(t.kernel.reachedTarget).toBe(t.kernel.established);
    }
    expect({ simulated: row.simulated, kernel: row.kernel, agree: row.agree }).toEqual({
      simulated: "breached",
      kernel: "breached",
      agree: true,
    });
  }, 60_000);

  it("seed-home-hardened, spoofed-source: blocked over UDP and TCP, no trial sees S answer", async () => {
    const hardened = await load("seed-home-hardened");
    const udp = await verifyOne(onlyService(hardened, "s", 161, "udp"), "spoofed-source");
    expect({ simulated: udp.simulated, kernel: udp.kernel, agree: udp.agree }, udp.evidence.kernel).toEqual({
      simulated: "blocked",
      kernel: "blocked",
      agree: true,
    });
    expect((udp.details?.kernel as { forgedArrived: boolean }).forgedArrived).toBe(false);
    const tcp = await verifyOne(onlyService(hardened, "s", 22, "tcp"), "spoofed-source");
    const trials = trialsOf(tcp);
    expect(trials).toHaveLength(TCP_TRIALS);
    expect(trials.filter((t) => !t.agree)).toEqual([]);
    expect(trials.every((t) => t.targetIsn === null)).toBe(true);
    expect({ simulated: tcp.simulated, kernel: tcp.kernel, agree: tcp.agree }).toEqual({
      simulated: "blocked",
      kernel: "blocked",
      agree: true,
    });
  }, 60_000);

  it.each(["seed-home", "seed-home-hardened"])(
    "%s, udp-hole-punch: breached in both; only Mallory's STUN port gets in",
    async (name) => {
      const row = await verifyOne(await load(name), "udp-hole-punch");
      expect({ simulated: row.simulated, kernel: row.kernel, agree: row.agree }, row.evidence.kernel).toEqual({
        simulated: "breached",
        kernel: "breached",
        agree: true,
      });
      const k = row.details?.kernel as { mapped: string; otherPortReached: boolean };
      expect(k.mapped).toBe("198.51.100.2:41641");
      expect(k.otherPortReached).toBe(false);
    },
    30_000,
  );
});

describe.skipIf(missing !== null || upnpMissing !== null)("UPnP kernel actors (real miniupnpd)", () => {
  afterAll(async () => {
    expect((await listNamespaces()).filter((n) => n.startsWith(`${PREFIX}-`))).toEqual([]);
  });

  // seed-home: secure_mode on, permissions allow 1024-65535 on the LAN; hardened: UPnP off (no miniupnpd runs).
  const cases: [string, string, string][] = [
    ["seed-home", "upnp-forward-self", "breached"],
    ["seed-home", "upnp-forward-other", "blocked"],
    ["seed-home-hardened", "upnp-forward-self", "blocked"],
    ["seed-home-hardened", "upnp-forward-other", "blocked"],
  ];
  it.each(cases)(
    "%s, %s: %s in both",
    async (name, attack, outcome) => {
      const row = await verifyOne(await load(name), attack);
      expect({ simulated: row.simulated, kernel: row.kernel, agree: row.agree }, row.evidence.kernel).toEqual({
        simulated: outcome,
        kernel: outcome,
        agree: true,
      });
    },
    60_000,
  );

  it("seed-home with Debian's shipped miniupnpd settings (secure_mode off, no permissions): other is breached", async () => {
    const base = onlyService(await load("seed-home"), "s", 22, "tcp");
    const network: Network = {
      ...base,
      routers: base.routers.map((r) => ({ ...r, upnp: { ...r.upnp, secureMode: false, permissions: [] } })),
    };
    const row = await verifyOne(network, "upnp-forward-other");
    expect({ simulated: row.simulated, kernel: row.kernel, agree: row.agree }, row.evidence.kernel).toEqual({
      simulated: "breached",
      kernel: "breached",
      agree: true,
    });
    const k = row.details?.kernel as { session: { received: string } };
    expect(k.session.received).toBe("SSH-2.0-OpenSSH_7.4\r\n");
  }, 60_000);

  it("seed-home: miniupnpd refuses U's mapping to S with 718 (secure mode), as SCENARIOS.md measured", async () => {
    const row = await verifyOne(onlyService(await load("seed-home"), "s", 22, "tcp"), "upnp-forward-other");
    const k = row.details?.kernel as { upnpc: { mapped: boolean; code: number | null } };
    expect(k.upnpc).toEqual({ mapped: false, code: 718, igd: true });
  }, 60_000);
});
