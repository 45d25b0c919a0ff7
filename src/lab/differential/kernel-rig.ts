// The kernel side of the differential test: a real Linux router in three network namespaces,
//
//   client ns  [lanend] ══veth══ [lan]  router ns  [wan] ══veth══ [wanend]  internet ns
//
// The outer ends carry no addresses (IPv6 off), so no host stack there ever answers and perturbs conntrack: they
// are wires into which raw-inject.py writes Ethernet frames and from which it reads what the router forwarded.
// The router has permanent neighbour entries for its gateway and the LAN hosts (it never ARPs), checksum
// offload off on every veth (so locally built packets carry complete checksums), and explicit sysctls.

import { spawn } from "node:child_process";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import type { Interface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { Ruleset } from "../../engine/filter/index.js";
import { writeNftText } from "../../config/nftables/index.js";
import type { OwnedNetns } from "../../config/nftables/kernel-sandbox.js";
import { createNetns, probeSandbox, runCommand } from "../../config/nftables/kernel-sandbox.js";
import { fromHex, hex, readU16 } from "../../wire/bytes.js";
import { Ipv4Field } from "../../wire/ipv4.js";
import type { KernelCtEntry } from "./conntrack-text.js";
import { parseConntrackList } from "./conntrack-text.js";
import type { RouterUnderTest } from "./replay.js";
import { LAN_HOSTS, RouterAddress } from "./scenario.js";
import type { Scenario, Side } from "./scenario.js";

const HELPER = fileURLToPath(new URL("../raw-inject.py", import.meta.url));

/** Locally administered MACs: router lan/wan and the outer ends. */
const Mac = {
  ROUTER_LAN: "02:00:5e:00:01:01",
  LAN_END: "02:00:5e:00:01:02",
  ROUTER_WAN: "02:00:5e:00:02:01",
  WAN_END: "02:00:5e:00:02:02",
} as const;

/** Ethernet II header (IEEE 802.3 §3.1.1): destination, source, EtherType. */
const Eth = { DST: 0, SRC: 6, TYPE: 12, HEADER_LEN: 14, TYPE_IPV4: 0x0800 } as const;

/** How long to wait for more frames after the last one, and at most, per injected packet (ms). */
const IDLE_MS = 25;
const MAX_MS = 400;

export interface KernelRigOptions {
  /** net.netfilter.nf_conntrack_tcp_loose / _be_liberal, as the engine's ConntrackOptions. */
  readonly tcpLoose: boolean;
  readonly tcpBeLiberal: boolean;
  /** net.ipv4.conf.{all,lan,wan}.rp_filter. */
  readonly rpFilter: 0 | 1 | 2;
}

export interface KernelOutput {
  readonly side: Side;
  /** The IP packet (Ethernet header removed, trimmed to the IP total length). */
  readonly bytes: Uint8Array;
}

/** What is missing to run the rig, or null. */
export function probeKernelRig(): string | null {
  const caps = probeSandbox();
  if (caps.missing !== null) return caps.missing;
  if (runCommand("python3", ["-c", "import socket; socket.AF_PACKET"]).status !== 0)
    return "python3 with AF_PACKET sockets (apt-get install python3-minimal)";
  if (runCommand("conntrack", ["--version"]).status !== 0) return "the `conntrack` tool (apt-get install conntrack)";
  if (runCommand("ethtool", ["--version"]).status !== 0) return "`ethtool` (apt-get install ethtool)";
  return null;
}

function macBytes(mac: string): Uint8Array {
  return fromHex(mac.replaceAll(":", ""));
}

function must(what: string, out: { status: number; stderr: string }): void {
  if (out.status !== 0) throw new Error(`${what} failed (${String(out.status)}): ${out.stderr.trim()}`);
}

export class KernelRig {
  private readonly namespaces: OwnedNetns[];
  private readonly router: OwnedNetns;
  private helper: ChildProcessWithoutNullStreams | null = null;
  private lines: Interface | null = null;
  private readonly pending: string[] = [];
  private waiter: (() => void) | null = null;
  private readonly frameHeader = { lan: new Uint8Array(Eth.HEADER_LEN), wan: new Uint8Array(Eth.HEADER_LEN) };

  private constructor(
    readonly client: OwnedNetns,
    router: OwnedNetns,
    readonly internet: OwnedNetns,
  ) {
    this.router = router;
    this.namespaces = [client, router, internet];
  }

  get namespaceNames(): string[] {
    return this.namespaces.map((n) => n.name);
  }

  /** Builds the three namespaces and starts the injector; on any failure everything created is deleted. */
  static async open(opts: KernelRigOptions): Promise<KernelRig> {
    const made: OwnedNetns[] = [];
    try {
      for (let i = 0; i < 3; i++) made.push(createNetns());
      const rig = new KernelRig(made[0], made[1], made[2]);
      rig.wire(opts);
      await rig.startHelper();
      return rig;
    } catch (e) {
      for (const ns of made) ns.close();
      throw e;
    }
  }

  private wire(opts: KernelRigOptions): void {
    const [c, r, i] = [this.client.name, this.router.name, this.internet.name];
    must(
      "veth lan",
      runCommand("ip", ["link", "add", "lan", "netns", r, "type", "veth", "peer", "name", "lanend", "netns", c]),
    );
    must(
      "veth wan",
      runCommand("ip", ["link", "add", "wan", "netns", r, "type", "veth", "peer", "name", "wanend", "netns", i]),
    );
    const end = (ifname: string, mac: string): string =>
      [
        "sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1",
        `ethtool -K ${ifname} tx off rx off >/dev/null`,
        `ip link set ${ifname} address ${mac} up`,
        "ip link set lo up",
      ].join(" && ");
    must("client end", this.client.exec("sh", ["-ec", end("lanend", Mac.LAN_END)]));
    must("internet end", this.internet.exec("sh", ["-ec", end("wanend", Mac.WAN_END)]));
    const neigh = LAN_HOSTS.map((h) => `ip neigh replace ${h} lladdr ${Mac.LAN_END} dev lan nud permanent`);
    const script = [
      "sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1",
      "ip link set lo up",
      "ethtool -K lan tx off rx off >/dev/null",
      "ethtool -K wan tx off rx off >/dev/null",
      `ip link set lan address ${Mac.ROUTER_LAN} up`,
      `ip link set wan address ${Mac.ROUTER_WAN} up`,
      `ip addr add ${RouterAddress.LAN}/${String(RouterAddress.LAN_PREFIX)} dev lan`,
      `ip addr add ${RouterAddress.WAN}/${String(RouterAddress.WAN_PREFIX)} dev wan`,
      `ip route add default via ${RouterAddress.GATEWAY} dev wan`,
      // The gateway, and the snat address the router does not own: a packet sent to it from outside is forwarded
      // back out of the WAN, and without a neighbour entry the kernel would queue it for ARP and answer "host
      // unreachable" seconds later, in another case's capture window.
      `ip neigh replace ${RouterAddress.GATEWAY} lladdr ${Mac.WAN_END} dev wan nud permanent`,
      `ip neigh replace ${RouterAddress.SNAT} lladdr ${Mac.WAN_END} dev wan nud permanent`,
      ...neigh,
      "sysctl -qw net.ipv4.ip_forward=1",
      // The engine models neither ICMP redirects nor their rate limits: the kernel must not send any.
      "sysctl -qw net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.lan.send_redirects=0 net.ipv4.conf.wan.send_redirects=0",
      // Nor ICMP rate limits: every closed-port answer is sent (icmp_ratelimit, icmp_msgs_per_sec/burst).
      "sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_msgs_per_sec=100000 net.ipv4.icmp_msgs_burst=100000",
      `sysctl -qw net.ipv4.conf.all.rp_filter=${String(opts.rpFilter)} net.ipv4.conf.lan.rp_filter=${String(opts.rpFilter)} net.ipv4.conf.wan.rp_filter=${String(opts.rpFilter)}`,
    ].join(" && ");
    must("router setup", this.router.exec("sh", ["-ec", script]));
    // nf_conntrack's sysctls exist once the module is loaded; a ct rule loads it.
    must(
      "conntrack module",
      this.router.nft(["-f", "-"], {
        input: "table inet probe {\n chain c {\n  type filter hook input priority 0\n  ct state new accept\n }\n}\n",
      }),
    );
    must(
      "conntrack sysctls",
      this.router.exec("sysctl", [
        "-qw",
        `net.netfilter.nf_conntrack_tcp_loose=${opts.tcpLoose ? "1" : "0"}`,
        `net.netfilter.nf_conntrack_tcp_be_liberal=${opts.tcpBeLiberal ? "1" : "0"}`,
        "net.netfilter.nf_conntrack_checksum=1",
      ]),
    );
    this.frameHeader.lan.set(macBytes(Mac.ROUTER_LAN), Eth.DST);
    this.frameHeader.lan.set(macBytes(Mac.LAN_END), Eth.SRC);
    this.frameHeader.wan.set(macBytes(Mac.ROUTER_WAN), Eth.DST);
    this.frameHeader.wan.set(macBytes(Mac.WAN_END), Eth.SRC);
    for (const h of [this.frameHeader.lan, this.frameHeader.wan]) {
      h[Eth.TYPE] = Eth.TYPE_IPV4 >>> 8;
      h[Eth.TYPE + 1] = Eth.TYPE_IPV4 & 0xff;
    }
  }

  private async startHelper(): Promise<void> {
    const child = spawn("python3", [
      HELPER,
      `lan=/run/netns/${this.client.name}:lanend`,
      `wan=/run/netns/${this.internet.name}:wanend`,
    ]);
    this.helper = child;
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    this.lines = createInterface({ input: child.stdout });
    this.lines.on("line", (line) => {
      this.pending.push(line);
      const w = this.waiter;
      this.waiter = null;
      w?.();
    });
    const first = await this.nextLine(5000);
    if (first !== "ready") throw new Error(`raw-inject.py did not start: ${first ?? "timeout"} ${stderr.trim()}`);
  }

  private async nextLine(timeoutMs: number): Promise<string | null> {
    const deadline = performance.now() + timeoutMs;
    while (this.pending.length === 0) {
      const left = deadline - performance.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.waiter = null;
          resolve();
        }, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return this.pending.shift() ?? null;
  }

  /** Replaces the router's ruleset (`flush ruleset` first) and empties its conntrack table. */
  reset(ruleset: Ruleset): void {
    must("nft -f", this.router.nft(["-f", "-"], { input: writeNftText(ruleset, { flush: true }) }));
    // conntrack -F prints a summary on stderr; an empty table is no error.
    this.router.exec("conntrack", ["-F"]);
  }

  /** Sends an IP packet into the router from `side`; resolves to every packet the router emitted on either side. */
  async send(side: Side, packet: Uint8Array): Promise<KernelOutput[]> {
    const helper = this.helper;
    if (helper === null) throw new Error("kernel rig is closed");
    const frame = new Uint8Array(Eth.HEADER_LEN + packet.length);
    frame.set(this.frameHeader[side], 0);
    frame.set(packet, Eth.HEADER_LEN);
    helper.stdin.write(`send ${side} ${hex(frame)} ${String(IDLE_MS)} ${String(MAX_MS)}\n`);
    const out: KernelOutput[] = [];
    for (;;) {
      const line = await this.nextLine(MAX_MS + 5000);
      if (line === null) throw new Error("raw-inject.py stopped answering");
      if (line === "end") return out;
      const m = /^rx (lan|wan) ([0-9a-f]+)$/.exec(line);
      if (m === null) throw new Error(`raw-inject.py: ${line}`);
      const bytes = fromHex(m[2]).subarray(Eth.HEADER_LEN);
      const total = readU16(bytes, Ipv4Field.LENGTH);
      out.push({ side: m[1] as Side, bytes: bytes.slice(0, Math.min(total, bytes.length)) });
    }
  }

  /** `conntrack -L` of the router (the text, one entry a line). */
  conntrackText(): string {
    const out = this.router.exec("conntrack", ["-L"]);
    must("conntrack -L", out);
    return out.stdout;
  }

  /** `conntrack -L expect` of the router (the text, one expectation a line). */
  expectationsText(): string {
    const out = this.router.exec("conntrack", ["-L", "expect"]);
    must("conntrack -L expect", out);
    return out.stdout;
  }

  /** Stops the injector and deletes the three namespaces (idempotent). */
  async close(): Promise<void> {
    const helper = this.helper;
    this.helper = null;
    if (helper !== null) {
      const exited = new Promise<void>((resolve) =>
        helper.once("exit", () => {
          resolve();
        }),
      );
      helper.stdin.end("quit\n");
      const timer = setTimeout(() => helper.kill(), 2000);
      await exited;
      clearTimeout(timer);
      this.lines?.close();
    }
    for (const ns of this.namespaces) ns.close();
  }
}

/** The kernel rig as a router under test, loading each scenario's ruleset as `ruleset` writes it. */
export class KernelRouter implements RouterUnderTest {
  constructor(
    private readonly rig: KernelRig,
    private readonly ruleset: (s: Scenario) => Ruleset,
  ) {}

  reset(s: Scenario): void {
    this.rig.reset(this.ruleset(s));
  }

  send(side: Side, packet: Uint8Array): Promise<KernelOutput[]> {
    return this.rig.send(side, packet);
  }

  conntrack(): KernelCtEntry[] {
    const parsed = parseConntrackList(this.rig.conntrackText());
    if (!parsed.ok) throw new Error(parsed.error.message);
    return parsed.value;
  }
}
