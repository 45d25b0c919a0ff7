// Our files against the reference tools: tshark must read what we write (comments, nanosecond times, lengths,
// both link types), and we must read what text2pcap and tshark write. CI installs both (.ci/run).
import { afterAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hex } from "../wire/bytes.js";
// Through the folder's public face, as other layers will use it.
import { LinkType, parseCapture, writeCaptureFile } from "./index.js";
import type { CaptureRecord } from "./index.js";

function hasTool(name: string): boolean {
  try {
    execFileSync(name, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
const missing = ["tshark", "text2pcap", "capinfos"].filter((t) => !hasTool(t));
const skipMessage = `needs ${missing.join(" and ")} (Debian package tshark; .ci/run installs it)`;

const dir = mkdtempSync(join(tmpdir(), "mallory-interop-"));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function run(tool: string, args: string[]): string {
  return execFileSync(tool, args, {
    encoding: "utf8",
    env: { ...process.env, TZ: "UTC" },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** `tshark -T fields` rows, one array of field values per packet. */
function tsharkFields(path: string, fields: string[]): string[][] {
  const out = run("tshark", [
    "-r",
    path,
    "-T",
    "fields",
    "-E",
    "separator=/t",
    "-E",
    "occurrence=a",
    ...fields.flatMap((f) => ["-e", f]),
  ]);
  return out
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => l.split("\t"));
}

function readRecords(path: string): readonly CaptureRecord[] {
  const r = parseCapture(readFileSync(path));
  if (!r.ok) throw r.error;
  return r.value.records;
}

/** "1700000000.123456789" as tshark prints frame.time_epoch. */
function epoch(ns: bigint): string {
  return `${ns / 1_000_000_000n}.${(ns % 1_000_000_000n).toString().padStart(9, "0")}`;
}

const ethArp = Uint8Array.from([
  ...[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x08, 0x06],
  ...[0, 1, 8, 0, 6, 4, 0, 1, 0x02, 0, 0, 0, 0, 1, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 192, 0, 2, 2],
  ...new Array<number>(18).fill(0),
]);
// A bare IPv4 header (protocol 253, reserved for experiments); the checksum is left zero, tshark does not check it here.
const rawV4 = Uint8Array.from([0x45, 0, 0, 24, 0, 1, 0, 0, 64, 253, 0, 0, 192, 0, 2, 1, 198, 51, 100, 7, 1, 2, 3, 4]);
const rawV6 = Uint8Array.from([
  0x60,
  0,
  0,
  0,
  0,
  4,
  253,
  64,
  ...[0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 1],
  ...[0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 2],
  9,
  9,
  9,
  9,
]);

const ours: CaptureRecord[] = [
  {
    interfaceId: 0,
    linkType: LinkType.ETHERNET,
    timestampNs: 1_700_000_000_123_456_789n,
    data: ethArp,
    originalLength: 60,
    comment: "ARP who-has, verdict: accept",
  },
  {
    interfaceId: 1,
    linkType: LinkType.RAW,
    timestampNs: 1_700_000_000_200_000_001n,
    data: rawV4,
    originalLength: 24,
    comment: "dropped by rule firewall.nft:12 — ünïcode",
  },
  { interfaceId: 1, linkType: LinkType.RAW, timestampNs: 1_700_000_001_000_000_000n, data: rawV6, originalLength: 44 },
  {
    interfaceId: 0,
    linkType: LinkType.ETHERNET,
    timestampNs: 1_700_000_002_999_999_999n,
    data: ethArp.subarray(0, 30),
    originalLength: 60,
    comment: "snapped",
  },
];

describe.skipIf(missing.length > 0)(
  `tshark reads what we write (${missing.length > 0 ? skipMessage : "tshark present"})`,
  () => {
    for (const littleEndian of [true, false]) {
      it(`pcapng (${littleEndian ? "little" : "big"}-endian) with comments and two link types`, () => {
        const path = join(dir, `ours-${littleEndian}.pcapng`);
        writeCaptureFile(path, ours, {
          interfaces: [
            { linkType: LinkType.ETHERNET, name: "lan0" },
            { linkType: LinkType.RAW, name: "wan0", description: "uplink" },
          ],
          section: { littleEndian },
        });
        const rows = tsharkFields(path, [
          "frame.comment",
          "frame.time_epoch",
          "frame.len",
          "frame.cap_len",
          "frame.interface_id",
          "frame.interface_name",
          "frame.encap_type",
          "frame.protocols",
        ]);
        expect(rows).toEqual([
          [ours[0].comment, epoch(ours[0].timestampNs), "60", "60", "0", "lan0", "1", "eth:ethertype:arp"],
          [ours[1].comment, epoch(ours[1].timestampNs), "24", "24", "1", "wan0", "7", "raw:ip:data"],
          ["", epoch(ours[2].timestampNs), "44", "44", "1", "wan0", "7", "raw:ipv6:data"],
          ["snapped", epoch(ours[3].timestampNs), "60", "30", "0", "lan0", "1", "eth:ethertype:arp"],
        ]);
      });
    }

    for (const [precision, littleEndian] of [
      ["ns", true],
      ["ns", false],
      ["us", true],
      ["us", false],
    ] as const) {
      it(`classic pcap, ${precision} precision, ${littleEndian ? "little" : "big"}-endian`, () => {
        const path = join(dir, `ours-${precision}-${littleEndian}.pcap`);
        const eth = ours.filter((r) => r.linkType === LinkType.ETHERNET);
        writeCaptureFile(path, eth, { format: "pcap", precision, littleEndian });
        const truncate = (ns: bigint) => (precision === "ns" ? ns : ns - (ns % 1000n));
        expect(tsharkFields(path, ["frame.time_epoch", "frame.len", "frame.cap_len", "frame.encap_type"])).toEqual(
          eth.map((r) => [epoch(truncate(r.timestampNs)), String(r.originalLength), String(r.data.length), "1"]),
        );
        const info = run("capinfos", ["-t", "-E", "-T", "-r", path]).trim().split("\t");
        expect(info.slice(1)).toEqual([precision === "ns" ? "nsecpcap" : "pcap", "ether"]);
      });
    }
  },
);

describe.skipIf(missing.length > 0)(
  `we read what text2pcap and tshark write (${missing.length > 0 ? skipMessage : "tools present"})`,
  () => {
    // A hexdump as text2pcap reads it (od -Ax -tx1 style), each packet preceded by its timestamp.
    const dump = [
      "2024-02-29 23:59:59.000000001",
      "000000 00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00",
      "000010 00 1c 00 01 00 00 40 11 00 00 c0 00 02 01 c6 33",
      "000020 64 07 30 39 00 35 00 08 00 00",
      "",
      "2024-03-01 00:00:00.5",
      "000000 ff ff ff ff ff ff 02 00 00 00 00 01 86 dd 60 00",
      "000010 00 00 00 00 3b 40",
      "",
    ].join("\n");
    const expected = [
      {
        timestampNs: 1709251199_000000001n,
        data: "00112233445566778899aabb08004500001c0001000040110000c0000201c633640730390035000800 00".replace(" ", ""),
      },
      { timestampNs: 1709251200_500000000n, data: "ffffffffffff02000000000186dd6000000000003b40" },
    ];
    const dumpPath = join(dir, "dump.txt");
    writeFileSync(dumpPath, dump);

    for (const [format, precisionNs] of [
      ["pcapng", true],
      ["nsecpcap", true],
      ["pcap", false],
    ] as const) {
      it(`text2pcap -F ${format} -t '%Y-%m-%d %H:%M:%S.%f'`, () => {
        const path = join(dir, `text2pcap.${format}`);
        run("text2pcap", ["-q", "-F", format, "-t", "%Y-%m-%d %H:%M:%S.%f", dumpPath, path]);
        const records = readRecords(path);
        expect(records.map((r) => [r.timestampNs, hex(r.data), r.originalLength, r.linkType])).toEqual(
          expected.map((e) => [
            precisionNs ? e.timestampNs : e.timestampNs - (e.timestampNs % 1000n),
            e.data,
            e.data.length / 2,
            LinkType.ETHERNET,
          ]),
        );
      });
    }

    it("text2pcap -l 101 (LINKTYPE_RAW) with -t ISO", () => {
      const isoDump = [
        "2024-05-06T07:08:09.25Z",
        "000000 45 00 00 14 00 00 00 00 40 fd 00 00 c0 00 02 01",
        "000010 c0 00 02 02",
        "",
      ].join("\n");
      const src = join(dir, "iso.txt");
      const path = join(dir, "raw.pcapng");
      writeFileSync(src, isoDump);
      run("text2pcap", ["-q", "-l", "101", "-t", "ISO", src, path]);
      const [r] = readRecords(path);
      expect([r.linkType, r.timestampNs, hex(r.data)]).toEqual([
        LinkType.RAW,
        1714979289_250000000n,
        "450000140000000040fd0000c0000201c0000202",
      ]);
    });

    for (const format of ["pcapng", "nsecpcap", "pcap"] as const) {
      it(`tshark -F ${format} rewrites our capture; we read back the same packets`, () => {
        const source = join(dir, "source.pcapng");
        // Classic pcap holds one link type: convert the Ethernet packets only for those formats.
        const input = format === "pcapng" ? ours : ours.filter((r) => r.linkType === LinkType.ETHERNET);
        writeCaptureFile(source, input);
        const path = join(dir, `theirs.${format}`);
        run("tshark", ["-r", source, "-w", path, "-F", format]);
        const back = readRecords(path);
        expect(
          back.map((r) => [r.interfaceId, r.linkType, r.timestampNs, hex(r.data), r.originalLength, r.comment]),
        ).toEqual(
          input.map((r) => [
            format === "pcapng" ? r.interfaceId : 0,
            r.linkType,
            format === "pcap" ? r.timestampNs - (r.timestampNs % 1000n) : r.timestampNs,
            hex(r.data),
            r.originalLength,
            format === "pcapng" ? r.comment : undefined,
          ]),
        );
      });
    }
  },
);
