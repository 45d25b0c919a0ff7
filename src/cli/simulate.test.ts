// `mallory simulate` through the command line: the JSON contract on both examples, text output, exit codes for bad
// input and unknown attacks, and per-segment pcapng files that tshark decodes with valid checksums.
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalogue } from "../attacks/index.js";
import { runCli } from "./program.js";

const EXAMPLES = new URL("../../examples/", import.meta.url);
const HOME = new URL("seed-home.yaml", EXAMPLES).pathname;
const HARDENED = new URL("seed-home-hardened.yaml", EXAMPLES).pathname;

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

function hasTshark(): boolean {
  try {
    execFileSync("tshark", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

interface Contract {
  attack: string;
  capability: string;
  target: string;
  outcome: string;
  stoppedBy: { node: string; layer: string; rule: string; text?: string } | null;
  steps: { time: number; node: string; hook: string; packet: string; verdict: string }[];
  foothold: string;
  evidence: string;
}

describe("mallory simulate --json (ARCHITECTURE.md contract)", () => {
  it("seed-home: spoofed-source is breached, with time-ordered steps", async () => {
    const r = await run(["simulate", HOME, "--attack", "spoofed-source", "--json"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as Contract;
    expect(j).toMatchObject({
      attack: "spoofed-source",
      capability: "root-code",
      target: "s:22/tcp",
      outcome: "breached",
      stoppedBy: null,
      foothold: "u",
    });
    expect(j.steps.length).toBeGreaterThan(5);
    for (const s of j.steps) expect(Object.keys(s).sort()).toEqual(["hook", "node", "packet", "time", "verdict"]);
    expect(j.steps.map((s) => s.time)).toEqual([...j.steps.map((s) => s.time)].sort((a, b) => a - b));
    expect(j.steps[0]).toMatchObject({ node: "u", hook: "output", packet: "192.168.1.20:22 > 203.0.113.66:80" });
  });

  it("seed-home-hardened: blocked, stoppedBy the router's egress rule by file:line:col", async () => {
    const r = await run(["simulate", HARDENED, "--attack", "spoofed-source", "--to", "s:161/udp", "--json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as Contract;
    expect(j).toMatchObject({ outcome: "blocked", target: "s:161/udp" });
    expect(j.stoppedBy).toEqual({
      node: "router",
      layer: "router filter",
      rule: `${HARDENED}:59:11`,
      text: 'ip saddr 192.168.1.20 oifname "wan" drop',
    });
    expect(j.steps.at(-1)).toMatchObject({ node: "router", hook: "forward" });
    expect(j.steps.at(-1)?.verdict).toContain(`forward drop (${HARDENED}:59:11)`);
  });
});

describe("mallory simulate (text)", () => {
  it("prints outcome, target, evidence and, with --trace, the steps", async () => {
    const r = await run(["simulate", HOME, "--attack", "spoofed-source", "--to", "s:161/udp", "--trace"]);
    expect(r.code).toBe(0);
    const lines = r.out.split("\n");
    expect(lines[0]).toBe("spoofed-source on seed-home (root-code from u)");
    expect(lines[1]).toBe("  target      s:161/udp");
    expect(lines[2]).toBe("  outcome     BREACHED");
    expect(lines[3]).toMatch(/^ {2}evidence {4}u forged 192\.168\.1\.20:161 -> 203\.0\.113\.66:9999/);
    expect(r.out).toContain("  steps\n");
    expect(r.out).toMatch(/router\s+forward\s+192\.168\.1\.20:161 > 203\.0\.113\.66:9999/);
  });

  it("names the stopping rule on the hardened network", async () => {
    const r = await run(["simulate", HARDENED, "--attack", "spoofed-source", "--from", "u", "--to", "s:161/udp"]);
    expect(r.out).toContain(
      `  stopped by  router · router filter · ${HARDENED}:59:11  ip saddr 192.168.1.20 oifname "wan" drop\n`,
    );
    expect(r.out).not.toContain("steps");
  });
});

describe("mallory simulate: errors", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "mallory-simulate-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("exits 2 on an unknown attack id and lists the known ones", async () => {
    const r = await run(["simulate", HOME, "--attack", "teleport"]);
    expect(r.code).toBe(2);
    const ids = catalogue.map((a) => a.id);
    expect(ids).toContain("spoofed-source");
    expect(r.err).toBe(`mallory: unknown attack "teleport"; known attacks: ${ids.join(", ")}\n`);
    expect(r.out).toBe("");
  });

  it("exits 1 with file:line:col on a broken network file", async () => {
    const path = join(dir, "bad.yaml");
    const text = (await readFile(HOME, "utf8")).replace("address: 192.168.1.20", "address: 192.168.1.300");
    await writeFile(path, text);
    const r = await run(["simulate", path, "--attack", "spoofed-source"]);
    expect(r.code).toBe(1);
    const line = text.split("\n").findIndex((l) => l.includes("192.168.1.300")) + 1;
    expect(r.err).toMatch(new RegExp(`^${path.replace(/[.]/g, "\\.")}:${line}:\\d+: error: `));
  });

  it("exits 1 with the YAML place of a firewall rule that does not parse", async () => {
    const path = join(dir, "fw.yaml");
    const text = (await readFile(HOME, "utf8")).replace('iifname "lan" accept', 'iifname "lan" acept');
    await writeFile(path, text);
    const r = await run(["simulate", path, "--attack", "spoofed-source"]);
    expect(r.code).toBe(1);
    const line = text.split("\n").findIndex((l) => l.includes("acept")) + 1;
    expect(r.err).toContain(`${path}:${line}:`);
  });

  it("exits 1 on a --to that names no node, and on a malformed one", async () => {
    const a = await run(["simulate", HOME, "--attack", "spoofed-source", "--to", "nas:22/tcp"]);
    expect(a).toMatchObject({ code: 1, out: "" });
    expect(a.err).toContain("no node named nas");
    const b = await run(["simulate", HOME, "--attack", "spoofed-source", "--to", "s"]);
    expect(b).toMatchObject({ code: 1, out: "" });
    expect(b.err).toContain("expected NODE:PORT[/tcp|udp]");
  });

  it("exits 2 without --attack", async () => {
    const r = await run(["simulate", HOME]);
    expect(r.code).toBe(2);
  });
});

describe.skipIf(!hasTshark())("mallory simulate --pcap (tshark decodes them, checksums valid)", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "mallory-simulate-pcap-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes one pcapng per segment with a comment on each packet", async () => {
    const out = join(dir, "caps");
    const r = await run(["simulate", HOME, "--attack", "spoofed-source", "--to", "s:22/tcp", "--pcap", out]);
    expect(r.code).toBe(0);
    expect((await readdir(out)).sort()).toEqual(["home.pcapng", "internet.pcapng", "router-wan.pcapng"]);
    const rows = execFileSync(
      "tshark",
      [
        ...["-r", join(out, "router-wan.pcapng"), "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE"],
        ...["-o", "udp.check_checksum:TRUE", "-T", "fields", "-E", "separator=/t"],
        ...["-e", "ip.src", "-e", "tcp.srcport", "-e", "ip.checksum.status", "-e", "tcp.checksum.status"],
        ...["-e", "frame.comment", "-e", "_ws.malformed"],
      ],
      { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
    )
      .trim()
      .split("\n")
      .map((l) => [...l.split("\t"), ""]); // tshark drops trailing empty fields of the last line
    expect(rows.length).toBeGreaterThan(3);
    for (const [, , ipOk, tcpOk, comment, malformed] of rows) {
      expect([ipOk, tcpOk]).toEqual(["1", "1"]); // 1 = good
      expect(comment).toMatch(/(^|; )router: ct /);
      expect(malformed).toBe("");
    }
    // The WAN capture shows the masqueraded forged SYN first, and S's untranslated leak later.
    expect(rows[0].slice(0, 2)).toEqual(["198.51.100.2", "22"]);
    expect(rows.some((row) => row[0] === "192.168.1.20")).toBe(true);
  });
});
