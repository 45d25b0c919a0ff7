// The router's DNS resolver in the lab: the real dnsmasq's stop-dns-rebind compared address by address with the
// simulator's rebind check (sim/services/dns-resolver.ts), and dns-rebinding under `lab verify` on seed-home (no
// rebind protection: breached both ways) and on seed-home with rebind protection on (blocked both ways, dnsmasq
// emptying the answers). Runs only as root with `ip netns` and `nft`, and with dnsmasq installed; namespaces carry
// a per-run prefix, and none may be left.

import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadNetwork } from "../model/index.js";
import type { Network } from "../model/index.js";
import { isRebindV4, isRebindV6 } from "../sim/services/dns-resolver.js";
import { parseIpv4, parseIpv6 } from "../wire/address.js";
import { ACTOR_READY } from "./actor.js";
import type { DnsLookup, LookupType } from "./actor.js";
import { inNamespace, listNamespaces, probeLab, runCommand } from "./commands.js";
import { processAlive, startResolver } from "./lab.js";
import { dnsmasqArgs } from "./plan.js";
import { actorCommand, kernelAttackIds, verifyNetwork } from "./verify.js";
import type { AgreementRow } from "./verify.js";

const caps = await probeLab();
const hasDnsmasq = (await runCommand("dnsmasq", ["--version"])).stdout.includes("Dnsmasq version");
const missing = caps.missing ?? (hasDnsmasq ? null : "dnsmasq (apt-get install dnsmasq-base)");
if (missing !== null) console.warn(`src/lab/verify-dns.test.ts skipped: needs ${missing}`);

const PREFIX = `mlab-d${process.pid}`;
const SEED_HOME = new URL("../../examples/seed-home.yaml", import.meta.url).pathname;
/** Mallory's stand-in for the address comparison: an authoritative server on loopback beside dnsmasq. */
const UPSTREAM_PORT = 5300;

/** Every range private_net()/private_net6() of dnsmasq names, its edges, and public neighbours. */
const V4 = [
  "203.0.113.66",
  "192.168.1.20",
  "10.0.0.1",
  "172.16.0.1",
  "172.31.255.255",
  "172.32.0.1",
  "100.64.1.1",
  "169.254.1.1",
  "127.0.0.1",
  "0.1.2.3",
  "198.51.100.1",
  "192.0.2.1",
  "198.18.0.1",
  "192.0.0.1",
  "255.255.255.255",
  "8.8.8.8",
  "224.0.0.1",
  "240.0.0.1",
];
const V6 = [
  "::1",
  "::",
  "fe80::1",
  "fec0::1",
  "fd00::1",
  "fc00::1",
  "2001:db8::1",
  "::ffff:192.168.1.1",
  "::ffff:8.8.8.8",
  "2606:4700::1",
];

async function load(): Promise<Network> {
  const loaded = await loadNetwork(SEED_HOME);
  if (loaded.network === null) throw new Error("examples/seed-home.yaml does not load");
  return loaded.network;
}

async function verifyRebinding(network: Network): Promise<AgreementRow> {
  const r = await verifyNetwork(network, { prefix: PREFIX, seed: 1, attacks: ["dns-rebinding"] });
  if (!r.ok) throw new Error(r.error.message);
  const row = r.value.agreement.find((x) => x.attack === "dns-rebinding");
  if (row === undefined) throw new Error("no dns-rebinding row");
  return row;
}

interface KernelDetails {
  first: DnsLookup;
  second: DnsLookup | null;
  dnsmasqRebindLog: string[];
  emptied: string[];
  targetAccepts: number;
  exfiltratedToMallory: number;
}

const kernelDetails = (row: AgreementRow): KernelDetails => row.details?.kernel as KernelDetails;

describe.skipIf(missing !== null)("dnsmasq in the lab", () => {
  afterAll(async () => {
    expect((await listNamespaces()).filter((n) => n.startsWith(`${PREFIX}-`))).toEqual([]);
  });

  describe("stop-dns-rebind, address by address, against the simulator's check", () => {
    const ns = `${PREFIX}-rebind`;
    const dir = mkdtempSync(join(tmpdir(), "mallory-dnsmasq-"));
    const cmd = actorCommand();
    let server: ChildProcess | null = null;
    let dnsmasqPid = 0;

    beforeAll(async () => {
      if (cmd === null) throw new Error("the lab actor was not found");
      expect((await runCommand("ip", ["netns", "add", ns])).status).toBe(0);
      expect((await runCommand("ip", ["-n", ns, "link", "set", "lo", "up"])).status).toBe(0);
      const zones = Object.fromEntries([...V4, ...V6].map((a, i) => [`a${i}.test`, [{ address: a, ttl: 30 }]]));
      server = spawn(
        "ip",
        [
          "netns",
          "exec",
          ns,
          cmd.command,
          ...cmd.args,
          "dns-server",
          String(UPSTREAM_PORT),
          "--zones",
          JSON.stringify(zones),
        ],
        { cwd: cmd.cwd, stdio: ["ignore", "pipe", "inherit"] },
      );
      await new Promise<void>((ready, fail) => {
        let seen = "";
        server?.stdout?.setEncoding("utf8").on("data", (d: string) => {
          seen += d;
          if (seen.includes(ACTOR_READY)) ready();
        });
        server?.on("exit", (code) => {
          fail(new Error(`dns-server exited ${code ?? "on a signal"}`));
        });
      });
      const args = dnsmasqArgs(
        { listen: ["127.0.0.1"], upstream: `127.0.0.1#${UPSTREAM_PORT}`, rebindProtection: true },
        { log: join(dir, "dnsmasq.log"), pidFile: join(dir, "dnsmasq.pid") },
      );
      const started = await startResolver(ns, args, join(dir, "dnsmasq.log"), join(dir, "dnsmasq.err"));
      if (!started.ok) throw new Error(started.message);
      dnsmasqPid = started.pid;
    }, 30_000);

    afterAll(async () => {
      server?.kill("SIGTERM");
      if (dnsmasqPid > 0) process.kill(dnsmasqPid, "SIGTERM");
      for (let i = 0; i < 50 && processAlive(dnsmasqPid); i++) await new Promise((d) => setTimeout(d, 20));
      await runCommand("ip", ["netns", "del", ns]);
      rmSync(dir, { recursive: true, force: true });
    });

    async function resolveAll(addresses: readonly string[], offset: number, type: LookupType): Promise<DnsLookup[]> {
      if (cmd === null) throw new Error("the lab actor was not found");
      const names = addresses.map((_, i) => `a${offset + i}.test`);
      const out = await inNamespace(ns, cmd.command, [...cmd.args, "resolve", "127.0.0.1", ...names, "--type", type], {
        cwd: cmd.cwd,
      });
      expect(out.status, out.stderr).toBe(0);
      return JSON.parse(out.stdout) as DnsLookup[];
    }

    it("empties exactly the IPv4 answers isRebindV4 names (documentation ranges private, as dnsmasq has them)", async () => {
      const got = await resolveAll(V4, 0, "A");
      const kernel = V4.map((a, i) => [a, got[i].rcode === 0 && got[i].addresses.length === 0]);
      const simulated = V4.map((a) => [a, isRebindV4(parseIpv4(a) ?? 0, false, false)]);
      expect(kernel).toEqual(simulated);
      // The passes are real answers, not timeouts.
      for (const [i, a] of V4.entries())
        if (!isRebindV4(parseIpv4(a) ?? 0, false, false)) expect(got[i].addresses).toEqual([a]);
    });

    it("empties exactly the IPv6 answers isRebindV6 names", async () => {
      const got = await resolveAll(V6, V4.length, "AAAA");
      const kernel = V6.map((a, i) => [a, got[i].rcode === 0 && got[i].addresses.length === 0]);
      const simulated = V6.map((a) => [a, isRebindV6(parseIpv6(a) ?? new Uint8Array(16), false, false)]);
      expect(kernel).toEqual(simulated);
    });
  });

  describe("dns-rebinding under lab verify", () => {
    it("is registered", () => {
      expect(kernelAttackIds()).toContain("dns-rebinding");
    });

    it("seed-home (no rebind protection): breached in both; dnsmasq relays 192.168.1.20 and S logs U", async () => {
      const row = await verifyRebinding(await load());
      expect({ simulated: row.simulated, kernel: row.kernel, agree: row.agree }, row.evidence.kernel).toEqual({
        simulated: "breached",
        kernel: "breached",
        agree: true,
      });
      const d = kernelDetails(row);
      expect(d.first.addresses).toEqual(["203.0.113.66"]);
      expect(d.second?.addresses).toEqual(["192.168.1.20"]);
      expect(d.dnsmasqRebindLog).toEqual([]);
      expect(d.targetAccepts).toBeGreaterThan(0);
      expect(d.exfiltratedToMallory).toBe(1);
    }, 60_000);

    it("seed-home with rebind_protection on: blocked in both; dnsmasq empties the private answer", async () => {
      const network = await load();
      const protectedHome: Network = {
        ...network,
        routers: network.routers.map((r) => ({ ...r, dns: { ...r.dns, rebindProtection: true } })),
      };
      const row = await verifyRebinding(protectedHome);
      expect({ simulated: row.simulated, kernel: row.kernel, agree: row.agree }, row.evidence.kernel).toEqual({
        simulated: "blocked",
        kernel: "blocked",
        agree: true,
      });
      const d = kernelDetails(row);
      expect(d.second?.rcode).toBe(0);
      expect(d.second?.addresses).toEqual([]);
      expect(d.emptied).toContain("192.168.1.20");
      expect(d.dnsmasqRebindLog.length).toBeGreaterThan(0);
      expect(d.dnsmasqRebindLog[0]).toContain("possible DNS-rebind attack detected: evil.example");
      expect(d.targetAccepts).toBe(0);
      expect(row.evidence.kernel).toContain("dnsmasq on router emptied");
    }, 90_000);
  });
});
