import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import type { DemoJson } from "./demo.js";
import { runCli } from "./program.js";

const run = promisify(execFile);

async function cli(argv: string[], color = false): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (s) => out.push(s), err: (s) => err.push(s), color });
  return { code, out: out.join(""), err: err.join("") };
}

const ESC = "\u001b[";

describe("mallory demo --json", () => {
  it("prints one JSON object with every step on both networks, decided by the engine", async () => {
    const r = await cli(["demo", "--json"]);
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    const doc = JSON.parse(r.out) as DemoJson;
    expect(doc.demo).toBe("seed");
    expect(doc.steps).toHaveLength(12);
    for (const s of doc.steps) {
      expect(Object.keys(s).sort()).toEqual(
        ["attack", "id", "network", "notes", "outcome", "packets", "question", "stoppedBy"].sort(),
      );
      expect(s.packets.length).toBeGreaterThan(0);
      for (const p of s.packets) expect(p).toMatch(/^(Mallory|U|router|S): (TCP|UDP) .* — /);
    }
    const outcome = (id: string, network: string): string | undefined =>
      doc.steps.find((s) => s.id === id && s.network === network)?.outcome;
    expect(outcome("inbound-scan", "seed-home")).toBe("blocked");
    expect(outcome("spoofed-source-udp", "seed-home")).toBe("breached");
    expect(outcome("spoofed-source-udp", "seed-home-hardened")).toBe("blocked");
    expect(outcome("spoofed-source-tcp", "seed-home")).toBe("breached");
    expect(outcome("lateral-movement", "seed-home-hardened")).toBe("blocked");
    expect(outcome("c2-beacon", "seed-home-hardened")).toBe("breached");
    expect(outcome("intents", "seed-home-hardened")).toBe("allowed");
    const egress = doc.steps.find((s) => s.id === "spoofed-source-udp" && s.network === "seed-home-hardened");
    expect(egress?.stoppedBy).toEqual({
      node: "router",
      layer: "router filter",
      rule: "seed-home-hardened/router.nft:10",
      text: 'ip saddr 192.168.1.20 oifname "wan" drop',
    });
  });
});

describe("mallory demo (text)", () => {
  it("answers each question per network, cites rule lines, ends with the TL;DR and prints no colour when off", async () => {
    const r = await cli(["demo"]);
    expect(r.code).toBe(0);
    expect(r.out).not.toContain(ESC);
    expect(r.out).toContain("With no ports forwarded, what good is my public IP");
    expect(r.out).toMatch(/✘ seed-home +breached/);
    expect(r.out).toMatch(/✔ seed-home-hardened +blocked by router filter seed-home-hardened\/router\.nft:10/);
    expect(r.out).toMatch(/✔ seed-home-hardened +blocked by host firewall seed-home-hardened\/s\.nft:3/);
    expect(r.out).toContain("Only an egress allow-list or a proxy stops it");
    expect(r.out).toContain("NAT is not a firewall");
    expect(r.out).toContain("imagine ways to break into your own network");
    // The cited line is printed with its number.
    expect(r.out).toMatch(/ 10 {2}\s*ip saddr 192\.168\.1\.20 oifname "wan" drop/);
  });

  it("colours when the terminal allows it, and --no-color turns it off", async () => {
    expect((await cli(["demo"], true)).out).toContain(ESC);
    expect((await cli(["demo", "--no-color"], true)).out).not.toContain(ESC);
    expect((await cli(["--no-color", "demo"], true)).out).not.toContain(ESC);
  });
});

describe("npm start", () => {
  it("`tsx src/cli/main.ts demo --no-color` exits 0 in a child process", { timeout: 30_000 }, async () => {
    const r = await run("npx", ["tsx", "src/cli/main.ts", "demo", "--no-color"], { cwd: process.cwd() });
    expect(r.stdout).toContain("NAT is not a firewall");
    expect(r.stderr).toBe("");
  });
});
