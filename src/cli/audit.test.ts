import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalogue } from "../attacks/index.js";
import { runCli } from "./program.js";

const EXAMPLES = new URL("../../examples/", import.meta.url);
const example = (file: string): string => new URL(file, EXAMPLES).pathname;

async function run(argv: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(argv, {
    out: (s) => {
      out += s;
    },
    err: (s) => {
      err += s;
    },
    color: false,
  });
  return { code, out, err };
}

interface AuditJson {
  findings: {
    attack: string;
    target: string;
    severity: string;
    outcome: string;
    foothold: string | null;
    fixes: string[];
    path: unknown[];
    stoppedBy: unknown;
  }[];
  services: { service: string; layers: string[] }[];
  intents: { intent: string; holds: boolean }[];
}

/** SCENARIOS.md "Catalogue and expected outcomes": breached on seed-home, and on seed-home-hardened. */
const EXPECTED: Readonly<Record<string, { seedHome: boolean; hardened: boolean }>> = {
  "inbound-scan": { seedHome: false, hardened: false },
  "port-forward-exposure": { seedHome: false, hardened: false },
  "spoofed-source": { seedHome: true, hardened: false },
  "upnp-forward-self": { seedHome: true, hardened: false },
  "upnp-forward-other": { seedHome: false, hardened: false },
  "dns-rebinding": { seedHome: true, hardened: false },
  "c2-beacon": { seedHome: true, hardened: true },
  "lateral-movement": { seedHome: true, hardened: false },
  "udp-hole-punch": { seedHome: true, hardened: true },
  "ipv6-no-nat": { seedHome: false, hardened: false },
  "nat-slipstream": { seedHome: false, hardened: false },
  "rogue-device": { seedHome: true, hardened: false },
};
const present = catalogue.map((a) => a.id).filter((id) => id in EXPECTED);

describe("mallory audit", () => {
  let seedHome: AuditJson;
  let hardened: AuditJson;
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "mallory-audit-"));
    const a = await run(["audit", example("seed-home.yaml"), "--format", "json"]);
    const b = await run(["audit", example("seed-home-hardened.yaml"), "--format", "json"]);
    expect([a.code, a.err, b.code, b.err]).toEqual([0, "", 0, ""]);
    seedHome = JSON.parse(a.out) as AuditJson;
    hardened = JSON.parse(b.out) as AuditJson;
  }, 60_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("covers the seed's headline attacks that the catalogue has", () => {
    // spoofed-source, c2-beacon, lateral-movement and rogue-device must exist; the others are checked when present.
    expect(present).toEqual(expect.arrayContaining(["spoofed-source"]));
  });

  it.each(present)("seed-home: %s matches SCENARIOS.md's table", (id) => {
    const found = seedHome.findings.filter((f) => f.attack === id);
    if (EXPECTED[id].seedHome) {
      expect(found.length).toBeGreaterThan(0);
      for (const f of found) {
        expect(f.outcome).toBe("breached");
        expect(f.stoppedBy).toBeNull();
        expect(f.fixes.length).toBeGreaterThan(0);
        expect(f.path.length).toBeGreaterThan(0);
      }
    } else expect(found).toEqual([]);
  });

  it.each(present)("seed-home-hardened: %s matches SCENARIOS.md's table", (id) => {
    const found = hardened.findings.filter((f) => f.attack === id);
    if (EXPECTED[id].hardened) {
      expect(found.length).toBeGreaterThan(0);
      // Honest residue only: from the user's workstation, as low.
      for (const f of found) expect([f.foothold, f.severity]).toEqual(["u", "low"]);
    } else expect(found).toEqual([]);
  });

  it("the hardened network keeps only low findings and every intent", () => {
    expect(hardened.findings.every((f) => f.severity === "low")).toBe(true);
    expect(hardened.intents.map((i) => [i.intent, i.holds])).toEqual([
      ["u -> s:5432/tcp", true],
      ["u -> s:8080/tcp", true],
      ["u -> internet", true],
    ]);
    expect(seedHome.intents.every((i) => i.holds)).toBe(true);
  });

  it("counts S's layers: seed-home 1 (router filter), hardened 2 (router filter + host firewall)", () => {
    const s = (j: AuditJson) => j.services.filter((x) => x.service.startsWith("s:"));
    expect(s(seedHome).map((x) => x.layers)).toEqual(Array(4).fill(["router filter"]));
    expect(s(hardened).map((x) => x.layers)).toEqual(Array(4).fill(["router filter", "host firewall"]));
  });

  it("fixes name the egress rule the discussion proposed", () => {
    const f = seedHome.findings.find((x) => x.attack === "spoofed-source");
    expect(f?.fixes[0]).toContain('ip saddr 192.168.1.20 oifname "wan" drop');
  });

  it("exit codes follow --fail-on; --out takes the text report", async () => {
    // The hardened network's only findings are low, so the threshold alone decides the exit code.
    const out = join(dir, "report.txt");
    const low = await run(["audit", example("seed-home-hardened.yaml"), "--fail-on", "low", "--out", out]);
    expect([low.code, low.out]).toEqual([1, ""]);
    const text = await readFile(out, "utf8");
    expect(text).toMatch(/^mallory audit: seed-home-hardened\n/);
    expect(text).toContain("s:22/tcp (ssh) 2 layers: router filter + host firewall");
    expect(text).toContain("holds  u -> internet");
    expect((await run(["audit", example("seed-home-hardened.yaml"), "--fail-on", "medium"])).code).toBe(0);
  }, 60_000);

  it("refuses formats not written yet and bad flags as usage errors (exit 2)", async () => {
    for (const format of ["sarif", "html"]) {
      const r = await run(["audit", example("seed-home.yaml"), "--format", format]);
      expect(r.code).toBe(2);
      expect(r.err).toContain("not yet supported");
    }
    expect((await run(["audit", example("seed-home.yaml"), "--fail-on", "critical"])).code).toBe(2);
  });

  it("exits 1 with file:line:col on an invalid network", async () => {
    const r = await run(["audit", example("does-not-exist.yaml")]);
    expect(r.code).toBe(1);
    expect(r.err).not.toBe("");
  });
});

describe("reference networks", () => {
  it.each(["homelab.yaml", "small-office.yaml", "openwrt-default.yaml"])(
    "examples/%s passes mallory validate",
    async (f) => {
      const r = await run(["validate", example(f)]);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^ok: /);
    },
  );
});
