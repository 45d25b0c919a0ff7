// Readers that detect the format from the first four bytes and drive a decoder (decode-step.ts): a sync one for
// captures already in memory, and a streaming one that holds only the current block plus the latest chunk, so a
// capture of any size is read in bounded memory.
import { readU32 } from "./byte-order.js";
import { CaptureError } from "./capture-error.js";
import type { Capture, CaptureRecord } from "./capture.js";
import type { CaptureDecoder } from "./decode-step.js";
import { classifyMagic, PcapDecoder } from "./pcap.js";
import { BlockType, PcapngDecoder } from "./pcapng.js";
import type { Result } from "../wire/result.js";

const MAGIC_LEN = 4;

/** The decoder for a capture whose first four bytes are given, or the reason none fits. */
export function detectFormat(bytes: Uint8Array, at = 0): CaptureDecoder | CaptureError {
  if (bytes.length - at < MAGIC_LEN) {
    return new CaptureError("truncated", 0, "file", "fewer than 4 bytes: not a capture file");
  }
  const magic = readU32(bytes, at, false);
  if (magic === BlockType.SHB) return new PcapngDecoder();
  if (classifyMagic(magic) !== null) return new PcapDecoder();
  return new CaptureError(
    "bad-magic",
    0,
    "file",
    `magic 0x${magic.toString(16).padStart(8, "0")} is neither pcap (a1b2c3d4, a1b23c4d, either order) nor pcapng (0a0d0d0a)`,
  );
}

/**
 * Reads a whole capture held in memory. Records' `data` are subarrays of `bytes` (zero-copy). Never throws and
 * never reads outside `bytes`: a damaged capture gives a CaptureError naming the block and byte offset.
 */
export function parseCapture(bytes: Uint8Array): Result<Capture, CaptureError> {
  const decoder = detectFormat(bytes);
  if (decoder instanceof CaptureError) return { ok: false, error: decoder };
  const records: CaptureRecord[] = [];
  let p = 0;
  while (p < bytes.length) {
    const step = decoder.step(bytes, p, bytes.length - p, p);
    switch (step.kind) {
      case "need":
        return {
          ok: false,
          error: new CaptureError(
            "truncated",
            p,
            step.block,
            `needs ${step.bytes} bytes, the file has ${bytes.length - p} left`,
          ),
        };
      case "error":
        return { ok: false, error: step.error };
      case "record":
        records.push(step.record);
        p += step.consumed;
        break;
      case "skip":
        p += step.consumed;
        break;
    }
  }
  return { ok: true, value: { format: decoder.format, interfaces: decoder.interfaces, records } };
}

/** Filled in by `readCapture` as it goes, for callers (and tests) that watch its memory use. */
export interface ReadStats {
  /** Largest size the reader's buffer reached, in bytes. */
  peakBufferBytes: number;
  /** Bytes consumed from the source so far. */
  bytesRead: number;
}

const INITIAL_BUFFER = 64 * 1024;

/**
 * Streams records out of a capture arriving in chunks of any size (blocks may be split across chunks).
 * Memory stays at about one block plus one chunk. Each record's `data` is its own copy. Throws a CaptureError
 * (the edge of the library: an async iterator has no other way to stop with a reason) on damaged input.
 */
export async function* readCapture(
  source: AsyncIterable<Uint8Array>,
  stats: ReadStats = { peakBufferBytes: 0, bytesRead: 0 },
): AsyncGenerator<CaptureRecord, void, undefined> {
  let buf = new Uint8Array(INITIAL_BUFFER);
  let start = 0;
  let end = 0;
  /** Absolute file offset of buf[start]. */
  let fileOffset = 0;
  let decoder: CaptureDecoder | null = null;
  /** Bytes the decoder asked for at buf[start]; no point stepping again before they are here. */
  let needed = MAGIC_LEN;
  let needBlock = "file";
  stats.peakBufferBytes = buf.length;

  for await (const chunk of source) {
    stats.bytesRead += chunk.length;
    if (end + chunk.length > buf.length) {
      // Move the unread tail to the front; grow only when one block plus this chunk do not fit.
      buf.copyWithin(0, start, end);
      end -= start;
      start = 0;
      if (end + chunk.length > buf.length) {
        const grown = new Uint8Array(
          Math.max(end + chunk.length, Math.min(buf.length * 2, end + chunk.length + INITIAL_BUFFER)),
        );
        grown.set(buf.subarray(0, end));
        buf = grown;
        stats.peakBufferBytes = Math.max(stats.peakBufferBytes, buf.length);
      }
    }
    buf.set(chunk, end);
    end += chunk.length;

    while (end - start >= needed) {
      if (decoder === null) {
        const detected = detectFormat(buf.subarray(start, end));
        if (detected instanceof CaptureError) throw detected;
        decoder = detected;
      }
      const step = decoder.step(buf, start, end - start, fileOffset);
      if (step.kind === "error") throw step.error;
      if (step.kind === "need") {
        needed = step.bytes;
        needBlock = step.block;
        continue;
      }
      needed = 0;
      start += step.consumed;
      fileOffset += step.consumed;
      if (step.kind === "record") yield { ...step.record, data: step.record.data.slice() };
    }
    if (start === end) {
      start = 0;
      end = 0;
    }
  }
  if (end > start || decoder === null) {
    throw new CaptureError(
      "truncated",
      fileOffset,
      needBlock,
      decoder === null ? "the capture is empty" : `needs ${needed} bytes, the file has ${end - start} left`,
    );
  }
}
