import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bytesEqual, fromHex, hex } from "../wire/bytes.js";
import { CaptureError } from "./capture-error.js";
import type { CaptureRecord } from "./capture.js";
import { LinkType } from "./capture.js";
import { openCapture, writeCaptureFile } from "./file.js";
import { PcapWriter } from "./pcap.js";
import { PcapngWriter } from "./pcapng.js";
import { detectFormat, parseCapture, readCapture } from "./reader.js";
import type { ReadStats } from "./reader.js";
import { emitCapture } from "./writer.js";

/** xorshift32: a tiny deterministic generator so the big streaming test is the same on every run. */
function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** The packet number i of the generated capture: its length and bytes follow from i alone. */
function packetBytes(i: number): Uint8Array {
  const b = new Uint8Array(60 + ((i * 7919) % 1400));
  for (let j = 0; j < b.length; j++) b[j] = (i * 13 + j * 31) & 0xff;
  return b;
}
function packetTime(i: number): bigint {
  return 1_700_000_000_000_000_000n + BigInt(i) * 1_234_567n;
}

/**
 * Produces a capture of `count` packets block by block, re-cut into random chunks of 1..maxChunk bytes, never
 * holding more than one block plus one chunk: what a socket or a file stream would deliver.
 */
async function* generatedCapture(
  format: "pcap" | "pcapng",
  count: number,
  maxChunk: number,
  seed: number,
): AsyncGenerator<Uint8Array> {
  const next = xorshift(seed);
  const pending: Uint8Array[] = [];
  const sink = (c: Uint8Array) => pending.push(c);
  let i = 0;
  const writePacket =
    format === "pcapng"
      ? (() => {
          const w = new PcapngWriter(sink);
          w.addInterface({ linkType: LinkType.ETHERNET, name: "lan" });
          w.addInterface({ linkType: LinkType.RAW, name: "wan" });
          return (k: number) => {
            w.writePacket({
              interfaceId: k % 2,
              timestampNs: packetTime(k),
              data: packetBytes(k),
              ...(k % 100 === 0 ? { comment: `packet ${k}` } : {}),
            });
          };
        })()
      : (() => {
          const w = new PcapWriter(sink, { linkType: LinkType.ETHERNET });
          return (k: number) => {
            w.writePacket({ timestampNs: packetTime(k), data: packetBytes(k) });
          };
        })();
  let carry: Uint8Array = new Uint8Array(0);
  for (;;) {
    while (carry.length < maxChunk && (pending.length > 0 || i < count)) {
      if (pending.length === 0) writePacket(i++);
      const block = pending.shift()!;
      const joined = new Uint8Array(carry.length + block.length);
      joined.set(carry);
      joined.set(block, carry.length);
      carry = joined;
    }
    if (carry.length === 0) return;
    const size = Math.min(carry.length, 1 + (next() % maxChunk));
    await Promise.resolve(); // deliver asynchronously, as a socket or file stream would
    yield carry.slice(0, size);
    carry = carry.subarray(size);
  }
}

async function* chunksOf(bytes: Uint8Array, sizes: readonly number[]): AsyncGenerator<Uint8Array> {
  let p = 0;
  let k = 0;
  while (p < bytes.length) {
    const n = Math.max(1, sizes[k++ % sizes.length]);
    await Promise.resolve();
    yield bytes.slice(p, p + n);
    p += n;
  }
}

/** A record's metadata as one string: quick to compare for thousands of records (data is compared apart). */
function summary(r: CaptureRecord): string {
  return `${r.interfaceId}/${r.linkType}/${r.timestampNs}/${r.originalLength}/${r.data.length}/${r.comment ?? "-"}`;
}

async function collect(source: AsyncIterable<CaptureRecord>): Promise<CaptureRecord[]> {
  const out: CaptureRecord[] = [];
  for await (const r of source) out.push(r);
  return out;
}

async function streamError(source: AsyncIterable<Uint8Array>): Promise<CaptureError | null> {
  try {
    await collect(readCapture(source));
    return null;
  } catch (e) {
    if (e instanceof CaptureError) return e;
    throw e;
  }
}

describe("format detection", () => {
  it("recognises the four pcap magics and the pcapng SHB, and nothing else", () => {
    for (const m of ["a1b2c3d4", "d4c3b2a1", "a1b23c4d", "4d3cb2a1"])
      expect(detectFormat(fromHex(m))).toHaveProperty("format", "pcap");
    expect(detectFormat(fromHex("0a0d0d0a"))).toHaveProperty("format", "pcapng");
    expect(detectFormat(fromHex("504b0304"))).toMatchObject({ code: "bad-magic", offset: 0, block: "file" });
    expect(detectFormat(fromHex("0a0d"))).toMatchObject({ code: "truncated" });
  });
});

describe("streaming reads", () => {
  for (const format of ["pcapng", "pcap"] as const) {
    it(`streams a multi-megabyte ${format} in random 1..64 KiB chunks with bounded memory`, async () => {
      const count = 12_000;
      const stats: ReadStats = { peakBufferBytes: 0, bytesRead: 0 };
      let n = 0;
      for await (const r of readCapture(generatedCapture(format, count, 64 * 1024, 7), stats)) {
        const expected = packetBytes(n);
        const same = r.data.length === expected.length && bytesEqual(r.data, 0, expected, 0, expected.length);
        if (!same || r.timestampNs !== packetTime(n)) {
          expect.fail(`packet ${n} differs`);
        }
        expect(r.originalLength).toBe(expected.length);
        if (format === "pcapng") {
          expect(r.interfaceId).toBe(n % 2);
          expect(r.linkType).toBe(n % 2 === 0 ? LinkType.ETHERNET : LinkType.RAW);
          expect(r.comment).toBe(n % 100 === 0 ? `packet ${n}` : undefined);
        }
        n++;
      }
      expect(n).toBe(count);
      expect(stats.bytesRead).toBeGreaterThan(8 * 1024 * 1024);
      // One block (< 1.5 KiB) plus one chunk (64 KiB), with the buffer's growth slack: far below the 8+ MiB read.
      expect(stats.peakBufferBytes).toBeLessThanOrEqual(256 * 1024);
    });
  }

  it("reassembles a 200 KB block delivered in 1..17-byte chunks", async () => {
    const big = new Uint8Array(200_000).map((_, i) => i * 7);
    const bytes = emitCapture([
      { interfaceId: 0, linkType: 1, timestampNs: 9n, data: big, originalLength: big.length, comment: "big" },
      { interfaceId: 0, linkType: 1, timestampNs: 10n, data: Uint8Array.of(1), originalLength: 1 },
    ]);
    const sizes = Array.from({ length: 97 }, (_, k) => 1 + ((k * 5) % 17));
    const stats: ReadStats = { peakBufferBytes: 0, bytesRead: 0 };
    const got = await collect(readCapture(chunksOf(bytes, sizes), stats));
    expect(got.map((r) => [r.timestampNs, r.data.length, r.comment])).toEqual([
      [9n, 200_000, "big"],
      [10n, 1, undefined],
    ]);
    expect(hex(got[0].data)).toBe(hex(big));
    expect(stats.peakBufferBytes).toBeLessThan(2 * bytes.length);
  });

  it("yields records whose data survive later chunks (copies, not views of the reused buffer)", async () => {
    const records: CaptureRecord[] = Array.from({ length: 50 }, (_, i) => ({
      interfaceId: 0,
      linkType: 1,
      timestampNs: BigInt(i),
      data: packetBytes(i),
      originalLength: packetBytes(i).length,
    }));
    const got = await collect(readCapture(chunksOf(emitCapture(records), [3000, 1, 5000])));
    expect(got).toEqual(records);
  });

  it("throws a CaptureError with the offset for damaged or cut streams, and for an empty one", async () => {
    const bytes = emitCapture([
      { interfaceId: 0, linkType: 1, timestampNs: 1n, data: Uint8Array.of(1, 2, 3), originalLength: 3 },
    ]);
    const cut = await streamError(chunksOf(bytes.subarray(0, bytes.length - 2), [5]));
    expect(cut).toMatchObject({ code: "truncated", block: "EPB", offset: bytes.length - 36 });
    const damaged = bytes.slice();
    damaged[damaged.length - 1] ^= 0x40;
    expect(await streamError(chunksOf(damaged, [7]))).toMatchObject({ code: "bad-length", offset: bytes.length - 4 });
    expect(await streamError(chunksOf(new Uint8Array(0), [1]))).toMatchObject({ code: "truncated", offset: 0 });
  });

  it("openCapture streams a file with a small highWaterMark", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mallory-pcap-"));
    try {
      const path = join(dir, "many.pcapng");
      const records: CaptureRecord[] = Array.from({ length: 3000 }, (_, i) => ({
        interfaceId: 0,
        linkType: LinkType.RAW,
        timestampNs: packetTime(i),
        data: packetBytes(i),
        originalLength: packetBytes(i).length,
        ...(i % 7 === 0 ? { comment: `c${i}` } : {}),
      }));
      writeCaptureFile(path, records);
      const size = statSync(path).size;
      expect(size).toBeGreaterThan(2_000_000);
      const stats: ReadStats = { peakBufferBytes: 0, bytesRead: 0 };
      const got = await collect(openCapture(path, { highWaterMark: 4096, stats }));
      expect(got.map(summary)).toEqual(records.map(summary));
      expect(got.every((r, i) => bytesEqual(r.data, 0, records[i].data, 0, r.data.length))).toBe(true);
      expect(stats.bytesRead).toBe(size);
      expect(stats.peakBufferBytes).toBeLessThanOrEqual(64 * 1024);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Valid captures to mutate: a real text2pcap pcapng and pcap, and ones of our own with comments and two link types.
const TEXT2PCAP_PCAP =
  "d4c3b2a10200040000000000000000000000040001000000257d936540e20100140000001400000000112233445566778899aabb080045" +
  "0000140000267d936520a107000e0000000e000000ffffffffffff02000000000186dd";
const seedRecords: CaptureRecord[] = [
  {
    interfaceId: 0,
    linkType: 1,
    timestampNs: 123n,
    data: packetBytes(1).subarray(0, 30),
    originalLength: 40,
    comment: "a",
  },
  { interfaceId: 1, linkType: 101, timestampNs: 456n, data: packetBytes(2).subarray(0, 21), originalLength: 21 },
];
const validCaptures = [
  fromHex(TEXT2PCAP_PCAP),
  emitCapture(seedRecords),
  emitCapture(seedRecords, { section: { littleEndian: false } }),
  emitCapture(seedRecords.slice(0, 1), { format: "pcap", littleEndian: false }),
];

const mutatedCapture = fc
  .record({
    base: fc.constantFrom(...validCaptures),
    flips: fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 4 }),
    cut: fc.option(fc.nat(), { nil: undefined }),
  })
  .map(({ base, flips, cut }) => {
    const b = base.slice();
    for (const f of flips) b[f.at % b.length] = f.value;
    return cut === undefined ? b : b.subarray(0, cut % (b.length + 1));
  });

/** The contract of the sync reader on any input: no throw, and either records inside the input or a placed error. */
function checkContract(bytes: Uint8Array): void {
  const r = parseCapture(bytes);
  if (r.ok) {
    for (const rec of r.value.records) {
      expect(rec.data.buffer).toBe(bytes.buffer);
      expect(rec.data.byteOffset + rec.data.length).toBeLessThanOrEqual(bytes.byteOffset + bytes.length);
      expect(rec.data.length).toBeLessThanOrEqual(bytes.length);
    }
  } else {
    expect(r.error).toBeInstanceOf(CaptureError);
    expect(r.error.offset).toBeGreaterThanOrEqual(0);
    expect(r.error.offset).toBeLessThanOrEqual(bytes.length);
  }
}

describe("malformed input never crashes the sync reader", () => {
  it("arbitrary bytes (with a capture magic or not)", () => {
    const magic = fc.constantFrom(fromHex("0a0d0d0a"), fromHex("d4c3b2a1"), fromHex("a1b23c4d"), new Uint8Array(0));
    fc.assert(
      fc.property(magic, fc.uint8Array({ maxLength: 300 }), (m, tail) => {
        const b = new Uint8Array(m.length + tail.length);
        b.set(m);
        b.set(tail, m.length);
        checkContract(b);
      }),
      { numRuns: 10_000 },
    );
  });

  it("truncations and byte mutations of valid captures", () => {
    fc.assert(fc.property(mutatedCapture, checkContract), { numRuns: 10_000 });
  });

  it("the streaming reader agrees with the sync reader on mutated captures, however they are chunked", async () => {
    await fc.assert(
      fc.asyncProperty(
        mutatedCapture,
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 8 }),
        async (b, sizes) => {
          const sync = parseCapture(b);
          let streamed: CaptureRecord[] = [];
          let error: CaptureError | null = null;
          try {
            streamed = await collect(readCapture(chunksOf(b, sizes)));
          } catch (e) {
            if (!(e instanceof CaptureError)) throw e;
            error = e;
          }
          if (sync.ok) {
            expect(error).toBeNull();
            expect(streamed).toEqual(sync.value.records.map((r) => ({ ...r, data: r.data.slice() })));
          } else {
            expect(error && [error.code, error.offset, error.block]).toEqual([
              sync.error.code,
              sync.error.offset,
              sync.error.block,
            ]);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
