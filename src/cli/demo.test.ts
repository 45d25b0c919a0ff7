import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import type { DemoJson } from "./demo.js";
import { packageRoot } from "./demo.js";
import { runCli } from "./program.js";

const run = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

async function cli(argv: string[], color = false): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (s) => out.push(s), err: (s) => err.push(s), color });
  return { code, out: out.join(""), err: err.join("") };
}

const ESC = "\u001b[";

/** The YAML line a `examples/FILE:line:col` rule points at, trimmed. */
function citedLine(rule: string): string {
  const m = /^(examples\/[^:]+):(\d+):\d+$/.exec(rule);
  if (m === null) throw new Error(`not a line of an example file: ${rule}`);
  return readFileSync(resolve(ROOT, m[1]), "utf8").split("\n")[Number(m[2]) - 1].trim();
}

describe("mallory demo --json", () => {
  it("prints one object: the networks, every step with its outcome and evidence, the intents", async () => {
    const r = await cli(["demo", "--json"]);
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    const doc = JSON.parse(r.out) as DemoJson;
    expect(Object.keys(doc)).toEqual(["demo", "networks", "steps", "intents"]);
    expect(doc.demo).toBe("seed");
    expect(doc.networks.map((n) => [n.name, n.source])).toEqual([
      ["seed-home", "examples/seed-home.yaml"],
      ["seed-home + u's firewall", "in memory, from seed-home"],
      ["seed-home-hardened", "examples/seed-home-hardened.yaml"],
    ]);
    expect(doc.steps).toHaveLength(17);
    for (const s of doc.steps) {
      for (const key of ["id", "question", "attack", "network", "outcome", "stoppedBy", "evidence", "note", "packets"])
        expect(s, `${s.id} ${key}`).toHaveProperty(key);
      expect(["breached", "blocked"]).toContain(s.outcome);
      expect(s.evidence.length).toBeGreaterThan(0);
      expect(s.packets.length).toBeGreaterThan(0);
      for (const p of s.packets) expect(p).toMatch(/^(mallory|u|s|router|isp|web): \S+ > \S+.* — /);
      // A blocked step names what stopped it; a breach names nothing.
      expect(s.stoppedBy === null, s.id).toBe(s.outcome === "breached");
    }
    const outcome = (id: string, network: string): string | undefined =>
      doc.steps.find((s) => s.id === id && s.network === network)?.outcome;
    expect(outcome("inbound-scan", "seed-home")).toBe("blocked");
    for (const id of ["spoofed-source-tcp", "spoofed-source-udp", "upnp-forward-self", "dns-rebinding"])
      expect(outcome(id, "seed-home"), id).toBe("breached");
    for (const id of ["udp-hole-punch", "lateral-movement", "c2-beacon"])
      expect(outcome(id, "seed-home"), id).toBe("breached");
    expect(outcome("upnp-forward-self-host-firewall", "seed-home + u's firewall")).toBe("blocked");
    for (const id of [
      "spoofed-source-tcp",
      "spoofed-source-udp",
      "upnp-forward-self",
      "dns-rebinding",
      "lateral-movement",
      "c2-beacon-from-s",
    ])
      expect(outcome(id, "seed-home-hardened"), id).toBe("blocked");
    expect(outcome("c2-beacon", "seed-home-hardened")).toBe("breached");
    expect(outcome("udp-hole-punch", "seed-home-hardened")).toBe("breached");

    const egress = doc.steps.find((s) => s.id === "spoofed-source-udp" && s.network === "seed-home-hardened");
    expect(egress?.stoppedBy).toEqual({
      node: "router",
      layer: "router filter",
      rule: "examples/seed-home-hardened.yaml:59:11",
      text: 'ip saddr 192.168.1.20 oifname "wan" drop',
    });
    // Every rule cited on a built-in network is a line of that file, quoted as written.
    for (const s of doc.steps)
      if (s.stoppedBy?.rule.startsWith("examples/") === true)
        expect(citedLine(s.stoppedBy.rule), s.id).toBe(s.stoppedBy.text);
    expect(doc.intents.filter((i) => i.network === "seed-home-hardened").map((i) => [i.intent, i.holds])).toEqual([
      ["u -> s:5432/tcp", true],
      ["u -> s:8080/tcp", true],
      ["u -> internet", true],
    ]);
  });
});

describe("mallory demo (text)", () => {
  it("answers the four questions, names the stopping rule by file:line, ends with the TL;DR", async () => {
    const r = await cli(["demo"]);
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    expect(r.out).not.toContain(ESC);
    const q = (n: number, text: string) => r.out.indexOf(`${String(n)}. ${text}`);
    const positions = [
      q(1, "With no ports forwarded, what good is my public IP"),
      q(2, "NAT hides my private addresses"),
      q(3, "Is a host firewall a second line of defense"),
      q(4, "What do least privilege and defense in depth change?"),
    ];
    for (const p of positions) expect(p).toBeGreaterThanOrEqual(0);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(r.out).toContain(
      "stopped by router filter on router: policy drop of chain input (examples/seed-home.yaml:50)",
    );
    expect(r.out).toMatch(/✘ BREACHED {2}spoofed-source \[root-code, from U\]/);
    expect(r.out).toContain("stopped by host firewall on u: policy drop of chain input (demo:u-firewall.nft:2)");
    expect(r.out).toContain(
      'by router filter on router: ip saddr 192.168.1.20 oifname "wan" drop (examples/seed-home-hardened.yaml:59)',
    );
    expect(r.out).toContain("by host firewall on s: policy drop of chain input (examples/seed-home-hardened.yaml:95)");
    expect(r.out).toMatch(/c2-beacon \(an implant on U polls Mallory\) {2}breached → breached/);
    expect(r.out).toContain("only an egress allow-list or a proxy would stop it");
    expect(r.out).toContain("✔ u -> s:5432/tcp  ✔ u -> s:8080/tcp  ✔ u -> internet");
    expect(r.out).toContain("NAT is not a firewall");
    expect(r.out).toContain("imagine ways to break into your own network");
  });

  it("colours when the terminal allows it, and --no-color turns it off", async () => {
    expect((await cli(["demo"], true)).out).toContain(ESC);
    expect((await cli(["demo", "--no-color"], true)).out).not.toContain(ESC);
    expect((await cli(["--no-color", "demo"], true)).out).not.toContain(ESC);
  });
});

describe("the built-in networks", () => {
  it("are found from the source tree and from the bundle's directory (dist/)", () => {
    expect(packageRoot()).toBe(ROOT);
    expect(packageRoot(pathToFileURL(resolve(ROOT, "dist/mallory.js")).href)).toBe(ROOT);
    expect(packageRoot(pathToFileURL("/nonexistent/dir/mallory.js").href)).toBeNull();
  });

  it("are shipped with the package", () => {
    const pkg = JSON.parse(readFileSync(resolve(ROOT, "package.json"), "utf8")) as { files: string[] };
    expect(pkg.files).toContain("examples");
  });
});

describe("npm start", () => {
  it("`tsx src/cli/main.ts demo --no-color` exits 0 in a child process", { timeout: 30_000 }, async () => {
    // execFile rejects on a non-zero exit, so resolving is the exit-0 check.
    const r = await run("npx", ["tsx", "src/cli/main.ts", "demo", "--no-color"], { cwd: ROOT });
    expect(r.stdout).toContain("NAT is not a firewall");
    expect(r.stdout).not.toContain(ESC);
    expect(r.stderr).toBe("");
  });
});
