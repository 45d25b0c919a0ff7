// The per-link captures of `lab verify`: which interface each segment is captured on, the flow keys that make a
// tcpdump capture (Ethernet) comparable with the simulator's (raw IP), and, as root with network namespaces,
// real tcpdumps on a bridge and a veth pair: every packet once, counted alike by tcpdump and our reader, and no
// tcpdump left behind, also when the captured body throws or a capture fails to start.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fc, test as fcTest } from "@fast-check/vitest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadNetwork } from "../model/index.js";
import { LinkType, openCapture, writeCaptureFile } from "../pcap/index.js";
import type { CaptureRecord } from "../pcap/index.js";
import { EPHEMERAL_MAX, EPHEMERAL_MIN } from "../sim/index.js";
import { formatIpv4 } from "../wire/address.js";
import { fromHex } from "../wire/bytes.js";
import * as ethernet from "../wire/ethernet.js";
import { EtherType } from "../wire/ethernet.js";
import { ipv4Packet } from "../wire/ipv4.fixture.js";
import * as ipv4 from "../wire/ipv4.js";
import { IpProtocol } from "../wire/ipv4.js";
import * as tcp from "../wire/tcp.js";
import { TcpFlags } from "../wire/tcp.js";
import * as udp from "../wire/udp.js";
import {
  capturePoints,
  compareFlows,
  flowKey,
  startCaptures,
  summarizeCaptureFile,
  summarizeRecords,
  tcpdumpArgv,
  withCaptures,
} from "./capture.js";
import type { CapturePoint } from "./capture.js";
import { probeLab, runCommand } from "./commands.js";
import { BRIDGE, planLab } from "./plan.js";

// Real frames from a homelab port-forward-exposure run: tcpdump on the LAN bridge (Ethernet) and the simulator's
// pcapng of the same segment (LINKTYPE_RAW). Mallory's SYN to the NAS after DNAT, and the NAS's SYN/ACK.
const KERNEL_SYN = fromHex(
  "4a804dc3b615b2779545ec0208004500003c35f840003e0608bbcb007142c0a8011e8de4138895df9c6a00000000a002faf07a3d" +
    "0000020405b40402080ac8e93825000000000103030a",
);
const KERNEL_SYN_ACK = fromHex(
  "b2779545ec024a804dc3b61508004500003c0000400040063cb3c0a8011ecb00714213888de41847818d95df9c6ba012fe885cbf" +
    "0000020405b40402080ac1a2be5dc8e938250103030a",
);
const SIM_SYN = fromHex("4500002c2fd940003e060eeacb007142c0a8011eac3b1388d27e8c8e000000006002faf0805b0000020405b4");
const SIM_SYN_ACK = fromHex("4500002c0000400040063cc3c0a8011ecb0071421388ac3b010ec9d6d27e8c8f6012faf0b5650000020405b4");
/** The router's ARP request for the NAS. */
const KERNEL_ARP = fromHex("ffffffffffffb2779545ec0208060001080006040001b2779545ec02c0a80101000000000000c0a8011e");
/** An MLDv2 report to ff02::16 and a router solicitation to ff02::2, sent by the namespaces' own stacks. */
const KERNEL_MLD = fromHex(
  "333300000016f626d34031cb86dd6000000000380001fe80000000000000f426d3fffe4031cbff0200000000000000000000000000163a0005" +
    "02000001008f0044710000000204000000ff0200000000000000000001ff4031cb04000000ff0200000000000000000001ff000040",
);
const KERNEL_RS = fromHex(
  "3333000000024a804dc3b61586dd6000000000103afffe8000000000000048804dfffec3b615ff0200000000000000000000000000028500" +
    "e27b0000000001014a804dc3b615",
);

const record = (linkType: number, data: Uint8Array): CaptureRecord => ({
  interfaceId: 0,
  linkType,
  timestampNs: 0n,
  data,
  originalLength: data.length,
});

describe("capture points", () => {
  it("captures seed-home's shared segments on their bridge and the point-to-point WAN link on one veth end", async () => {
    const loaded = await loadNetwork(new URL("../../examples/seed-home.yaml", import.meta.url).pathname);
    if (loaded.network === null) throw new Error("seed-home does not load");
    const plan = planLab(loaded.network, { prefix: "t" });
    expect(capturePoints(plan)).toEqual([
      { segment: "home", namespace: "t-seed-home-seg-home", ifname: BRIDGE },
      { segment: "router-wan", namespace: "t-seed-home-isp", ifname: "cust0" },
      { segment: "internet", namespace: "t-seed-home-seg-internet", ifname: BRIDGE },
    ]);
    // Every segment of the plan, once.
    expect(new Set(plan.links.map((l) => l.segment))).toEqual(new Set(capturePoints(plan).map((p) => p.segment)));
  });

  it("runs tcpdump in the point's namespace, unbuffered, full packets, numeric, writing the file as root", () => {
    const argv = tcpdumpArgv({ segment: "home", namespace: "ns1", ifname: "br0" }, "/d/home.pcap");
    expect(argv.slice(0, 4)).toEqual(["netns", "exec", "ns1", "tcpdump"]);
    const pairs = new Map<string, string>();
    for (const flag of ["-i", "-s", "-B", "-Z", "-w"]) pairs.set(flag, argv[argv.indexOf(flag) + 1]);
    // -B in KiB: 128 slots of a full 256 KiB snap length, so a scan's burst is not lost (capture.ts).
    expect(Object.fromEntries(pairs)).toEqual({
      "-i": "br0",
      "-s": "0",
      "-B": "32768",
      "-Z": "root",
      "-w": "/d/home.pcap",
    });
    expect(argv).toEqual(expect.arrayContaining(["-U", "--immediate-mode", "-n"]));
  });
});

describe("flow keys", () => {
  it("gives the kernel's Ethernet frame and the simulator's raw IP packet of one SYN the same key", () => {
    expect(flowKey(LinkType.ETHERNET, KERNEL_SYN)).toBe("tcp 203.0.113.66:* > 192.168.1.30:5000 S");
    expect(flowKey(LinkType.RAW, SIM_SYN)).toBe("tcp 203.0.113.66:* > 192.168.1.30:5000 S");
    expect(flowKey(LinkType.ETHERNET, KERNEL_SYN_ACK)).toBe("tcp 192.168.1.30:5000 > 203.0.113.66:* S.");
    expect(flowKey(LinkType.RAW, SIM_SYN_ACK)).toBe(flowKey(LinkType.ETHERNET, KERNEL_SYN_ACK));
  });

  it("leaves out ARP, MLD and router solicitations", () => {
    expect(flowKey(LinkType.ETHERNET, KERNEL_ARP)).toBeNull();
    expect(flowKey(LinkType.ETHERNET, KERNEL_MLD)).toBeNull();
    expect(flowKey(LinkType.ETHERNET, KERNEL_RS)).toBeNull();
  });

  it("keys ICMP by type and code, keeps undecodable IP as malformed and ignores unknown link types", () => {
    const echo = ipv4Packet(0xc0a8010a, 0xcb007142, IpProtocol.ICMP, fromHex("0800f7ff00000000"));
    expect(flowKey(LinkType.RAW, echo)).toBe("icmp 192.168.1.10 > 203.0.113.66 type 8 code 0");
    expect(flowKey(LinkType.RAW, fromHex("4500"))).toBe("ipv4 malformed");
    expect(flowKey(LinkType.LINUX_SLL, SIM_SYN)).toBeNull();
    expect(flowKey(LinkType.RAW, new Uint8Array(0))).toBeNull();
  });

  it("counts every record and keeps each compared flow once, sorted", () => {
    const s = summarizeRecords([
      record(LinkType.ETHERNET, KERNEL_ARP),
      record(LinkType.ETHERNET, KERNEL_SYN_ACK),
      record(LinkType.ETHERNET, KERNEL_SYN),
      record(LinkType.ETHERNET, KERNEL_SYN),
      record(LinkType.ETHERNET, KERNEL_MLD),
    ]);
    expect(s).toEqual({
      packets: 5,
      flows: ["tcp 192.168.1.30:5000 > 203.0.113.66:* S.", "tcp 203.0.113.66:* > 192.168.1.30:5000 S"],
    });
  });

  it("compares two sides' flows: how many both saw and which only one did", () => {
    expect(compareFlows(["a", "b", "c", "b"], ["c", "d", "a"])).toEqual({
      matched: 2,
      kernelOnly: ["b"],
      simulatedOnly: ["d"],
    });
    expect(compareFlows([], [])).toEqual({ matched: 0, kernelOnly: [], simulatedOnly: [] });
  });

  fcTest.prop([fc.uint8Array({ maxLength: 120 }), fc.constantFrom(LinkType.ETHERNET, LinkType.RAW, LinkType.IPV4)])(
    "never throws on arbitrary bytes",
    (bytes, linkType) => {
      const key = flowKey(linkType, bytes);
      expect(key === null || typeof key === "string").toBe(true);
    },
  );

  const unicast = fc.integer({ min: 0x01000000, max: 0xdfffffff });
  const port = fc.integer({ min: 0, max: 0xffff });
  fcTest.prop([unicast, unicast, port, port, fc.integer({ min: 0, max: 0xff })])(
    "keys a TCP segment alike in Ethernet and raw IP, ephemeral ports as *, only S F R and ACK among the flags",
    (src, dst, sp, dp, flags) => {
      const ip = tcpPacket(src, dst, sp, dp, flags);
      const key = flowKey(LinkType.RAW, ip);
      const shown = (p: number): string => (p >= EPHEMERAL_MIN && p <= EPHEMERAL_MAX ? "*" : String(p));
      const letters = [
        [TcpFlags.SYN, "S"],
        [TcpFlags.FIN, "F"],
        [TcpFlags.RST, "R"],
        [TcpFlags.ACK, "."],
      ] as const;
      const expectedFlags = letters.map(([bit, l]) => ((flags & bit) !== 0 ? l : "")).join("") || "none";
      expect(key).toBe(`tcp ${formatIpv4(src)}:${shown(sp)} > ${formatIpv4(dst)}:${shown(dp)} ${expectedFlags}`);
      expect(flowKey(LinkType.ETHERNET, ethernetFrame(ip))).toBe(key);
      const cosmetic = TcpFlags.PSH | TcpFlags.URG | TcpFlags.ECE | TcpFlags.CWR;
      expect(flowKey(LinkType.RAW, tcpPacket(src, dst, sp, dp, flags ^ cosmetic))).toBe(key);
    },
  );

  fcTest.prop([unicast, fc.integer({ min: 0xe0000000, max: 0xffffffff }), port, port])(
    "leaves out datagrams to multicast and broadcast addresses",
    (src, dst, sp, dp) => {
      const payload = udp.emit({ srcPort: sp, dstPort: dp, checksum: 0, payload: new Uint8Array(4) }, pseudo(src, dst));
      expect(flowKey(LinkType.RAW, ipv4Packet(src, dst, IpProtocol.UDP, payload))).toBeNull();
    },
  );
});

describe("capture files", () => {
  let dir = "";
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "mallory-capture-test-"));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("reads a written capture back: every record counted, flows keyed", async () => {
    const path = join(dir, "lan.pcap");
    writeCaptureFile(path, [record(LinkType.ETHERNET, KERNEL_ARP), record(LinkType.ETHERNET, KERNEL_SYN)], {
      format: "pcap",
    });
    expect(await summarizeCaptureFile(path)).toEqual({
      ok: true,
      value: { packets: 2, flows: ["tcp 203.0.113.66:* > 192.168.1.30:5000 S"] },
    });
  });

  it("says why a file cannot be read, without throwing", async () => {
    const missing = await summarizeCaptureFile(join(dir, "absent.pcap"));
    expect(missing).toEqual({ ok: false, error: expect.stringContaining("ENOENT") as unknown });
    // A capture cut in the middle of its only packet, as a tcpdump killed mid-write could leave it.
    const damaged = join(dir, "damaged.pcap");
    writeCaptureFile(damaged, [record(LinkType.ETHERNET, KERNEL_SYN)], { format: "pcap" });
    const bytes = readFileSync(damaged);
    writeFileSync(damaged, bytes.subarray(0, bytes.length - 5));
    expect(await summarizeCaptureFile(damaged)).toEqual({
      ok: false,
      error: expect.stringContaining("bytes") as unknown,
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Real tcpdumps, in namespaces this test creates: A and B on a bridge in namespace BR, and A and B on a veth pair.

const caps = await probeLab();
const tcpdump = (await runCommand("tcpdump", ["--version"])).status === 0;
const missing = caps.missing ?? (tcpdump ? null : "the capture test needs tcpdump");
if (missing !== null) console.warn(`src/lab/capture.test.ts: kernel cases skipped: ${missing}`);

const NS = `l3cap-${process.pid}`;
const nsA = `${NS}-a`;
const nsB = `${NS}-b`;
const nsBr = `${NS}-br`;
// Private addresses inside the test's own namespaces: 10.77.1.0/24 on the bridge, 10.77.2.0/24 on the pair.
const SETUP: [string, string[]][] = [
  ["ip", ["netns", "add", nsA]],
  ["ip", ["netns", "add", nsB]],
  ["ip", ["netns", "add", nsBr]],
  ["ip", ["link", "add", "e0", "netns", nsA, "type", "veth", "peer", "name", "p0", "netns", nsBr]],
  ["ip", ["link", "add", "e0", "netns", nsB, "type", "veth", "peer", "name", "p1", "netns", nsBr]],
  ["ip", ["link", "add", "pp", "netns", nsA, "type", "veth", "peer", "name", "pp", "netns", nsB]],
  ["ip", ["netns", "exec", nsBr, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]],
  ["ip", ["-n", nsBr, "link", "add", BRIDGE, "type", "bridge", "stp_state", "0"]],
  ["ip", ["-n", nsBr, "link", "set", "p0", "master", BRIDGE, "up"]],
  ["ip", ["-n", nsBr, "link", "set", "p1", "master", BRIDGE, "up"]],
  ["ip", ["-n", nsBr, "link", "set", BRIDGE, "up"]],
  ["ip", ["-n", nsA, "addr", "add", "10.77.1.1/24", "dev", "e0"]],
  ["ip", ["-n", nsB, "addr", "add", "10.77.1.2/24", "dev", "e0"]],
  ["ip", ["-n", nsA, "addr", "add", "10.77.2.1/24", "dev", "pp"]],
  ["ip", ["-n", nsB, "addr", "add", "10.77.2.2/24", "dev", "pp"]],
  ["ip", ["-n", nsA, "link", "set", "e0", "up"]],
  ["ip", ["-n", nsB, "link", "set", "e0", "up"]],
  ["ip", ["-n", nsA, "link", "set", "pp", "up"]],
  ["ip", ["-n", nsB, "link", "set", "pp", "up"]],
];
const BRIDGED: CapturePoint = { segment: "lan", namespace: nsBr, ifname: BRIDGE };
const PAIR: CapturePoint = { segment: "wan", namespace: nsA, ifname: "pp" };
const PINGS = 3;
/** About a scan's worth of probes (seed-home's inbound-scan sends 96). */
const BURST = 120;

/** A pid that no longer names a tcpdump: gone, or reused by something else. */
function tcpdumpGone(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim() !== "tcpdump";
  } catch {
    return true;
  }
}

/** Pids of tcpdumps whose command line names `dir` (a capture of this test still running). */
function tcpdumpsWriting(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (argv[0].endsWith("tcpdump") && argv.some((a) => a.startsWith(dir))) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

async function echoRequests(path: string): Promise<number> {
  let n = 0;
  for await (const r of openCapture(path)) {
    const eth = ethernet.parse(r.data);
    if (!eth.ok || eth.value.etherType !== EtherType.IPV4) continue;
    const ip = ipv4.parse(eth.value.payload);
    // ICMP echo request (RFC 792): type 8.
    if (ip.ok && ip.value.protocol === IpProtocol.ICMP && ip.value.payload[0] === 8) n++;
  }
  return n;
}

describe.skipIf(missing !== null)("tcpdump on the lab's links", () => {
  let dir = "";
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "mallory-capture-kernel-"));
    for (const [cmd, args] of SETUP) {
      const out = await runCommand(cmd, args);
      if (out.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${out.stderr}`);
    }
  });
  afterAll(async () => {
    for (const ns of [nsA, nsB, nsBr]) await runCommand("ip", ["netns", "del", ns]);
    rmSync(dir, { recursive: true, force: true });
    expect(tcpdumpsWriting(dir)).toEqual([]);
  });

  it("records every packet crossing a bridge and a veth pair exactly once, and stops every tcpdump", async () => {
    const session = await startCaptures([BRIDGED, PAIR], dir);
    if (!session.ok) throw new Error(session.error);
    const pids = session.value.captures.map((c) => c.pid);
    expect(pids.every((pid) => !tcpdumpGone(pid))).toBe(true);
    const pings = await Promise.all([
      runCommand("ip", ["netns", "exec", nsA, "ping", "-c", String(PINGS), "-i", "0.2", "-W", "1", "10.77.1.2"]),
      runCommand("ip", ["netns", "exec", nsA, "ping", "-c", String(PINGS), "-i", "0.2", "-W", "1", "10.77.2.2"]),
    ]);
    expect(pings.map((p) => p.status)).toEqual([0, 0]);
    const stopped = await session.value.stop();
    expect(pids.filter((pid) => !tcpdumpGone(pid))).toEqual([]);
    expect(stopped.map((s) => ({ segment: s.segment, killed: s.killed }))).toEqual([
      { segment: "lan", killed: false },
      { segment: "wan", killed: false },
    ]);
    for (const s of stopped) {
      expect(s.path).toBe(join(dir, `${s.segment}.pcap`));
      const summary = await summarizeCaptureFile(s.path);
      if (!summary.ok) throw new Error(summary.error);
      // tcpdump's own count and our reader's agree.
      expect(summary.value.packets).toBe(s.captured);
    }
    expect(await echoRequests(join(dir, "lan.pcap"))).toBe(PINGS);
    expect(await echoRequests(join(dir, "wan.pcap"))).toBe(PINGS);
    const lan = await summarizeCaptureFile(join(dir, "lan.pcap"));
    expect(lan.ok && lan.value.flows).toEqual([
      "icmp 10.77.1.1 > 10.77.1.2 type 8 code 0",
      "icmp 10.77.1.2 > 10.77.1.1 type 0 code 0",
    ]);
    // A second stop is harmless.
    expect((await session.value.stop()).map((s) => s.pid)).toEqual(pids);
  }, 20_000);

  it("keeps a burst of echo requests sent at once (as a scan's probes go out) without losing one", async () => {
    const sub = mkdtempSync(join(dir, "burst-"));
    const session = await startCaptures([BRIDGED], sub);
    if (!session.ok) throw new Error(session.error);
    // -l: that many requests leave before the first reply is awaited (root only above 3).
    const ping = await runCommand("ip", [
      "netns",
      "exec",
      nsA,
      "ping",
      "-q",
      "-c",
      String(BURST),
      "-l",
      String(BURST),
      "-W",
      "1",
      "10.77.1.2",
    ]);
    expect(ping.status).toBe(0);
    const [stopped] = await session.value.stop();
    expect({ dropped: stopped.dropped, killed: stopped.killed }).toEqual({ dropped: 0, killed: false });
    expect(await echoRequests(join(sub, "lan.pcap"))).toBe(BURST);
  }, 20_000);

  it("stops the tcpdumps when the captured body throws", async () => {
    let pids: readonly number[] = [];
    await expect(
      withCaptures(
        [BRIDGED, PAIR],
        dir,
        () => Promise.reject(new Error("the attack failed")),
        (s) => {
          pids = s.captures.map((c) => c.pid);
        },
      ),
    ).rejects.toThrow("the attack failed");
    expect(pids).toHaveLength(2);
    expect(pids.filter((pid) => !tcpdumpGone(pid))).toEqual([]);
  }, 20_000);

  it("fails to start on an interface that does not exist, stopping the captures that did start", async () => {
    const sub = mkdtempSync(join(dir, "bad-"));
    const r = await startCaptures([PAIR, { segment: "nowhere", namespace: nsA, ifname: "absent0" }], sub);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain("absent0");
    expect(tcpdumpsWriting(sub)).toEqual([]);
    // withCaptures runs the body anyway and says why nothing was captured.
    const w = await withCaptures([{ segment: "nowhere", namespace: nsA, ifname: "absent0" }], sub, () =>
      Promise.resolve(42),
    );
    expect({ value: w.value, stopped: w.stopped, failed: w.error !== null }).toEqual({
      value: 42,
      stopped: [],
      failed: true,
    });
    expect(existsSync(join(sub, "nowhere.pcap"))).toBe(false);
  }, 20_000);
});

// ---------------------------------------------------------------------------------------------------------------
// Packet builders for the property tests.

const pseudo = (src: number, dst: number) => ({ family: 4 as const, src, dst });

function tcpPacket(src: number, dst: number, sp: number, dp: number, flags: number): Uint8Array {
  const segment = tcp.emit(
    {
      srcPort: sp,
      dstPort: dp,
      seq: 1,
      ack: 0,
      flags,
      window: 1024,
      checksum: 0,
      urgent: 0,
      options: [],
      payload: new Uint8Array(0),
    },
    pseudo(src, dst),
  );
  return ipv4Packet(src, dst, IpProtocol.TCP, segment);
}

function ethernetFrame(ip: Uint8Array): Uint8Array {
  return ethernet.emit({
    dst: fromHex("020000000002"),
    src: fromHex("020000000001"),
    vlan: null,
    etherType: EtherType.IPV4,
    payload: ip,
  });
}
