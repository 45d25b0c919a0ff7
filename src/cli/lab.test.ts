// `mallory lab up|status|down` through the command line: an invalid network exits 1 with file:line:col messages;
// on a kernel that allows it, a copy of seed-home under a network name of its own goes up (progress lines),
// shows in `status --json`, goes down, and a second `down` says there is nothing to do.
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listNamespaces, probeLab, processAlive } from "../lab/index.js";
import { formatVerifyReport } from "./lab.js";
import { runCli } from "./program.js";

const caps = await probeLab();
if (caps.missing !== null) console.warn(`src/cli/lab.test.ts: kernel cases skipped: ${caps.missing}`);

/** Root can drop to `nobody` with util-linux's setpriv to see the lab refuse politely. */
const canDropRoot = caps.root && spawnSync("setpriv", ["--version"]).status === 0;
const MAIN = new URL("./main.ts", import.meta.url).pathname;
const SEED_HOME = new URL("../../examples/seed-home.yaml", import.meta.url);
const NAME = `cli-lab-${process.pid}`;

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

let dir = "";
let yaml = "";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mallory-cli-lab-"));
  yaml = join(dir, "net.yaml");
  const text = (await readFile(SEED_HOME, "utf8")).replace(/^name: seed-home$/m, `name: ${NAME}`);
  await writeFile(yaml, text);
});

afterAll(async () => {
  if (caps.missing === null) await run(["lab", "down", yaml]);
  await rm(dir, { recursive: true, force: true });
});

describe("mallory lab", () => {
  it.skipIf(caps.missing !== null)("exits 1 with file:line:col messages for an invalid network", async () => {
    const bad = join(dir, "bad.yaml");
    await writeFile(bad, "name: x\nlans: 3\n");
    const r = await run(["lab", "up", bad]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/bad\.yaml:\d+:\d+: /);
  });

  it("rejects an unknown lab action as a usage error", async () => {
    const r = await run(["lab", "sideways", yaml]);
    expect(r.code).toBe(2);
  });

  it.skipIf(!canDropRoot)(
    "says in one line that it needs root, and exits 2, when run without it",
    () => {
      const r = spawnSync(
        "setpriv",
        [
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          process.execPath,
          "--import",
          "tsx",
          MAIN,
          "lab",
          "up",
          yaml,
        ],
        { encoding: "utf8", cwd: new URL("../../", import.meta.url).pathname, env: { ...process.env, HOME: dir } },
      );
      expect(r.status).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe(
        "mallory: lab up: the lab needs root (network namespaces need CAP_SYS_ADMIN); run it with sudo\n",
      );
    },
    30_000,
  );

  it.skipIf(caps.missing !== null)(
    "brings a network up, reports it in status --json, and takes it down twice",
    async () => {
      const up = await run(["lab", "up", yaml]);
      expect(up.err).toBe("");
      expect(up.code).toBe(0);
      expect(up.out).toContain("namespaces: 8");
      expect(up.out).toContain(`lab ${NAME} is up in`);

      const status = await run(["lab", "status", yaml, "--json"]);
      expect(status.code).toBe(0);
      const s = JSON.parse(status.out) as {
        up: boolean;
        namespaces: { name: string; exists: boolean }[];
        processes: { what: string; alive: boolean; pid: number }[];
      };
      expect(s.up).toBe(true);
      expect(s.namespaces.map((n) => n.exists)).toEqual(Array<boolean>(8).fill(true));
      // Three listeners, and the router's dnsmasq where it is installed (lab up only warns without it).
      const listeners = s.processes.filter((p) => p.what === "listener");
      expect(listeners).toHaveLength(3);
      expect(s.processes.every((p) => p.alive)).toBe(true);

      const down = await run(["lab", "down", yaml]);
      expect(down.code).toBe(0);
      // `down` stops every process it finds in the lab's namespaces: at least the recorded ones, all gone after.
      const stopped = /(\d+) processes stopped, 8 namespaces deleted/.exec(down.out);
      expect(stopped).not.toBeNull();
      expect(Number(stopped?.[1])).toBeGreaterThanOrEqual(s.processes.length);
      for (const p of s.processes)
        expect({ pid: p.pid, alive: processAlive(p.pid) }).toEqual({ pid: p.pid, alive: false });
      expect((await listNamespaces()).filter((n) => n.startsWith(`mlab-${NAME}-`))).toEqual([]);

      const again = await run(["lab", "down", yaml]);
      expect(again.code).toBe(0);
      expect(again.out).toBe(`lab ${NAME} is not up; nothing to do\n`);

      const text = await run(["lab", "status", yaml]);
      expect(text.out.split("\n")[0]).toBe(`lab ${NAME}: down`);
    },
    30_000,
  );
});

describe("mallory lab verify's text report", () => {
  it("lists per link the packets each side saw, the flows only one side saw, and the files when kept", () => {
    const text = formatVerifyReport({
      network: "seed-home",
      mismatches: [],
      agreement: [
        {
          attack: "inbound-scan",
          target: "router:22/tcp",
          simulated: "blocked",
          kernel: "blocked",
          agree: true,
          evidence: { simulated: "nothing answered", kernel: "nothing answered" },
          links: [
            {
              segment: "router-wan",
              kernel: { packets: 151, path: "/c/inbound-scan/kernel/router-wan.pcap" },
              simulated: { packets: 96, path: "/c/inbound-scan/simulated/router-wan.pcapng" },
              flows: {
                matched: 95,
                kernelOnly: ["a", "b", "c", "d", "e"],
                simulatedOnly: ["udp 203.0.113.66:* > 198.51.100.2:53"],
              },
            },
            {
              segment: "home",
              kernel: { packets: null, path: null, error: "tcpdump is not installed" },
              simulated: { packets: 1, path: null },
            },
          ],
        },
      ],
    });
    expect(text.split("\n").slice(4)).toEqual([
      "    links:",
      "      router-wan: kernel 151 packets, simulated 96 packets; 95 flows on both sides",
      "        only in the kernel:    a; b; c; and 2 more",
      "        only in the simulator: udp 203.0.113.66:* > 198.51.100.2:53",
      "        /c/inbound-scan/kernel/router-wan.pcap",
      "        /c/inbound-scan/simulated/router-wan.pcapng",
      "      home: kernel not captured (tcpdump is not installed), simulated 1 packet",
      "",
    ]);
  });

  it.skipIf(caps.missing !== null)(
    "verifies exactly the attacks asked for, repeated or comma-separated, in that order",
    async () => {
      const r = await run([
        "lab",
        "verify",
        yaml,
        "--attack",
        "lateral-movement,c2-beacon",
        "--attack",
        "inbound-scan",
        "--json",
      ]);
      expect(r.code).toBe(0);
      const report = JSON.parse(r.out) as {
        agreement: { attack: string; agree: boolean | null }[];
        mismatches: unknown[];
      };
      expect(report.agreement.map((row) => [row.attack, row.agree])).toEqual([
        ["lateral-movement", true],
        ["c2-beacon", true],
        ["inbound-scan", true],
      ]);
      expect(report.mismatches).toEqual([]);
      const unknown = await run(["lab", "verify", yaml, "--attack", "teleport"]);
      expect(unknown.code).toBe(1);
      expect(unknown.err).toContain("no attack named teleport");
    },
    120_000,
  );

  it("documents --pcap in lab verify's help", async () => {
    const r = await run(["lab", "verify", "--help"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("--pcap <dir>");
    expect(r.out).toContain("DIR/ATTACK/kernel/SEGMENT.pcap");
  });
});
