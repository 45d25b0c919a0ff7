import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LinkType, writeCaptureFile, type CaptureRecord } from "../pcap/index.js";
import { fromHex } from "../wire/bytes.js";
import * as ethernet from "../wire/ethernet.js";
import * as ipv4 from "../wire/ipv4.js";
import { parseIpv4, parseIpv6 } from "../wire/address.js";
import * as ipv6 from "../wire/ipv6.js";
import * as tcp from "../wire/tcp.js";
import * as udp from "../wire/udp.js";
import { formatTimestamp } from "./pcap-summary.js";
import { runCli } from "./program.js";

const run = promisify(execFile);

// A DNS query for example.com (type A, RD set): 33 bytes of UDP payload.
const DNS_QUERY = fromHex("1a2b01000001000000000000076578616d706c6503636f6d0000010001");

function ipv4Packet(protocol: number, src: string, dst: string, payload: Uint8Array): Uint8Array {
  return ipv4.emit({
    dscp: 0,
    ecn: 0,
    ident: 0x1234,
    reservedFlag: false,
    dontFragment: true,
    moreFragments: false,
    fragmentOffset: 0,
    ttl: 64,
    protocol,
    checksum: 0,
    src: parseIpv4(src)!,
    dst: parseIpv4(dst)!,
    options: new Uint8Array(0),
    payload,
  });
}

function buildRecords(): CaptureRecord[] {
  const a = parseIpv4("192.0.2.1")!;
  const b = parseIpv4("203.0.113.66")!;
  const dns = ipv4Packet(
    17,
    "192.0.2.1",
    "203.0.113.66",
    udp.emit({ srcPort: 5353, dstPort: 53, checksum: 0, payload: DNS_QUERY }, { family: 4, src: a, dst: b }),
  );
  const frame = ethernet.emit({
    dst: fromHex("020000000002"),
    src: fromHex("020000000001"),
    vlan: null,
    etherType: ethernet.EtherType.IPV4,
    payload: dns,
  });
  const syn = ipv4Packet(
    6,
    "198.51.100.7",
    "192.0.2.1",
    tcp.emit(
      {
        srcPort: 40000,
        dstPort: 22,
        seq: 1000,
        ack: 0,
        flags: tcp.TcpFlags.SYN,
        window: 64240,
        checksum: 0,
        urgent: 0,
        options: [{ kind: "mss", value: 1460 }],
        payload: new Uint8Array(0),
      },
      { family: 4, src: parseIpv4("198.51.100.7")!, dst: a },
    ),
  );
  const s6 = parseIpv6("2001:db8::1")!;
  const d6 = parseIpv6("2001:db8::53")!;
  const v6 = ipv6.emit({
    trafficClass: 0,
    flowLabel: 0,
    hopLimit: 64,
    src: s6,
    dst: d6,
    extensions: [],
    nextHeader: 17,
    payload: udp.emit({ srcPort: 5353, dstPort: 53, checksum: 0, payload: DNS_QUERY }, { family: 6, src: s6, dst: d6 }),
  });
  return [
    {
      interfaceId: 0,
      linkType: LinkType.ETHERNET,
      timestampNs: 1_700_000_000_123_456_789n,
      data: frame,
      originalLength: frame.length,
    },
    {
      interfaceId: 1,
      linkType: LinkType.RAW,
      timestampNs: 1_700_000_001_000_000_001n,
      data: syn,
      originalLength: syn.length,
      comment: "drop by router filter/forward rule 3",
    },
    {
      interfaceId: 1,
      linkType: LinkType.RAW,
      timestampNs: 1_700_000_002_000_000_000n,
      data: v6,
      originalLength: v6.length,
    },
  ];
}

async function cli(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (s) => out.push(s), err: (s) => err.push(s), color: false });
  return { code, out: out.join(""), err: err.join("") };
}

describe("mallory pcap-summary", () => {
  let dir = "";
  let good = "";
  let truncated = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "mallory-cli-"));
    good = join(dir, "good.pcapng");
    writeCaptureFile(good, buildRecords());
    const bytes = await readFile(good);
    truncated = join(dir, "truncated.pcapng");
    // Cut the file inside the last packet block.
    await writeFile(truncated, bytes.subarray(0, bytes.length - 10));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("prints time, length, a decoded line per packet and the comment", async () => {
    const r = await cli(["pcap-summary", good]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out.trimEnd().split("\n")).toEqual([
      "2023-11-14T22:13:20.123456789Z 71 192.0.2.1:5353 > 203.0.113.66:53 UDP len 29",
      "2023-11-14T22:13:21.000000001Z 44 198.51.100.7:40000 > 192.0.2.1:22 TCP [S] seq 1000 win 64240 len 0" +
        " # drop by router filter/forward rule 3",
      "2023-11-14T22:13:22.000000000Z 77 [2001:db8::1]:5353 > [2001:db8::53]:53 UDP len 29",
    ]);
  });

  it("--json prints an array with one object per packet", async () => {
    const r = await cli(["pcap-summary", "--json", good]);
    expect(r.code).toBe(0);
    const packets = JSON.parse(r.out);
    expect(packets).toHaveLength(3);
    expect(packets[1]).toEqual({
      index: 2,
      time: "2023-11-14T22:13:21.000000001Z",
      timestampNs: "1700000001000000001",
      length: 44,
      captured: 44,
      summary: "198.51.100.7:40000 > 192.0.2.1:22 TCP [S] seq 1000 win 64240 len 0",
      comment: "drop by router filter/forward rule 3",
    });
    expect(packets[0].comment).toBeNull();
  });

  it("a missing file is one line `mallory: FILE: message` and exit code 1", async () => {
    const missing = join(dir, "nope.pcapng");
    const r = await cli(["pcap-summary", missing]);
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(r.err).toMatch(new RegExp(`^mallory: ${missing}: .*ENOENT.*\\n$`));
  });

  it("a truncated file prints the packets before the damage, then the error line, exit code 1", async () => {
    const r = await cli(["pcap-summary", truncated]);
    expect(r.code).toBe(1);
    expect(r.out.trimEnd().split("\n")).toHaveLength(2);
    expect(r.err.split("\n").filter((l) => l !== "")).toHaveLength(1);
    expect(r.err).toMatch(new RegExp(`^mallory: ${truncated}: .*byte \\d+`));
    const json = await cli(["pcap-summary", "--json", truncated]);
    expect(json.code).toBe(1);
    expect(json.out).toBe("");
  });

  it("usage errors exit 2; --help and --version exit 0", async () => {
    expect((await cli(["pcap-summary"])).code).toBe(2);
    expect((await cli(["no-such-command"])).code).toBe(2);
    expect((await cli(["pcap-summary", good, "--bogus"])).code).toBe(2);
    expect((await cli([])).code).toBe(2);
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.out).toContain("NAT is not a firewall");
    expect(help.out).toContain("--no-color");
    const version = await cli(["--version"]);
    expect(version.code).toBe(0);
    expect(version.out.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("the real entry point (tsx src/cli/main.ts) exits with those codes and prints no stack trace", async () => {
    const main = join(import.meta.dirname, "main.ts");
    const tsx = join(import.meta.dirname, "../../node_modules/.bin/tsx");
    const ok = await run(tsx, [main, "pcap-summary", good]);
    expect(ok.stdout).toContain("203.0.113.66:53 UDP");
    const failed = await run(tsx, [main, "pcap-summary", truncated]).catch(
      (e: unknown) => e as { code: number; stderr: string },
    );
    expect("code" in failed && failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^mallory: .*truncated\.pcapng: /);
    expect(failed.stderr).not.toMatch(/\n\s+at /);
    const usage = await run(tsx, [main, "pcap-summary"]).catch((e: unknown) => e as { code: number; stderr: string });
    expect("code" in usage && usage.code).toBe(2);
  });
});

describe("formatTimestamp", () => {
  it("prints UTC with all nine fraction digits, before and after the epoch", () => {
    expect(formatTimestamp(0n)).toBe("1970-01-01T00:00:00.000000000Z");
    expect(formatTimestamp(1_700_000_000_000_000_007n)).toBe("2023-11-14T22:13:20.000000007Z");
    expect(formatTimestamp(-1n)).toBe("1969-12-31T23:59:59.999999999Z");
  });
});
