// rogue-device: a device plugged into the LAN with a free address reaches every service of S on seed-home, and
// none on seed-home-hardened, where S's firewall trusts only U.

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseNetwork } from "../model/index.js";
import type { Network } from "../model/index.js";
import { formatIpv4 } from "../wire/address.js";
import { freeAddress, rogueDevice } from "./rogue-device.js";

const path = (name: string): string => fileURLToPath(new URL(`../../examples/${name}.yaml`, import.meta.url));

function load(name: string, edit: (t: string) => string = (t) => t): { text: string; net: Network } {
  const text = edit(readFileSync(path(name), "utf8"));
  const r = parseNetwork(text, path(name));
  if (r.network === null) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  return { text, net: r.network };
}

describe("rogue-device", () => {
  it("reaches every service of S on seed-home from 192.168.1.254", () => {
    const { net } = load("seed-home");
    const plans = rogueDevice.plan(net).plans;
    expect(plans.map((p) => `${p.target.node}:${p.target.port}/${p.target.proto}`)).toEqual([
      "s:22/tcp",
      "s:5432/tcp",
      "s:8080/tcp",
      "s:161/udp",
    ]);
    for (const plan of plans) {
      const r = rogueDevice.run(net, plan, { seed: 2, trace: true });
      if (!r.ok) throw new Error(r.error.message);
      expect(r.result.outcome).toBe("breached");
      expect(r.result.details).toMatchObject({ device: "rogue", lan: "home", address: "192.168.1.254" });
      expect(r.result.steps.some((s) => s.node === "s" && s.packet.startsWith("192.168.1.254:"))).toBe(true);
    }
  });

  it("is blocked on seed-home-hardened by S's firewall for every service", () => {
    const { text, net } = load("seed-home-hardened");
    const lines = text.split("\n");
    const sAt = lines.findIndex((x) => x.startsWith("  s:"));
    const chain = lines.findIndex((l, i) => i > sAt && l.includes("chain input {"));
    for (const plan of rogueDevice.plan(net).plans) {
      const r = rogueDevice.run(net, plan, { seed: 2, trace: false });
      if (!r.ok) throw new Error(r.error.message);
      expect(r.result.outcome).toBe("blocked");
      expect(r.result.stoppedBy).toEqual({
        node: "s",
        layer: "host firewall",
        rule: `${path("seed-home-hardened")}:${chain + 1}:${lines[chain].indexOf("chain") + 1}`,
        text: "chain input {",
      });
    }
  });

  it("takes the next free address when .254 is taken", () => {
    const { net } = load("seed-home", (t) => t.replace("address: 192.168.1.20", "address: 192.168.1.254"));
    const address = freeAddress(net, net.lans[0]);
    expect(address === null ? null : formatIpv4(address)).toBe("192.168.1.253");
  });

  it("never picks a used, network or broadcast address (property)", () => {
    const { net } = load("seed-home");
    fc.assert(
      fc.property(
        fc.integer({ min: 24, max: 30 }),
        fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { maxLength: 8 }),
        (len, octets) => {
          const base = net.lans[0].prefix.addr;
          const hosts = octets.map((o, i) => ({ ...net.hosts[0], name: `h${i}`, address: (base + o) >>> 0 }));
          const lan = { ...net.lans[0], prefix: { family: 4 as const, addr: base, len } };
          const a = freeAddress({ ...net, hosts }, lan);
          const size = 2 ** (32 - len);
          const used = new Set([...hosts.map((h) => h.address), net.routers[0].lans[0].address]);
          const candidates = Array.from({ length: size - 2 }, (_, i) => (base + i + 1) >>> 0).filter(
            (x) => !used.has(x),
          );
          if (candidates.length === 0) expect(a).toBeNull();
          else expect(a).toBe(Math.max(...candidates));
        },
      ),
      { numRuns: 200 },
    );
  });
});
