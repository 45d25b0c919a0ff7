// Writing a list of records in either format, for callers that have records rather than a live stream
// (replay output, tests, format conversion).
import type { CaptureFormat, CaptureRecord } from "./capture.js";
import { PcapWriter } from "./pcap.js";
import type { TimestampPrecision } from "./pcap.js";
import { PcapngWriter } from "./pcapng.js";
import type { PcapngInterfaceOptions, PcapngWriterOptions } from "./pcapng.js";

export interface WriteCaptureOptions {
  /** Default "pcapng": the only format that keeps comments and several link types in one file. */
  readonly format?: CaptureFormat;
  /**
   * pcapng: the interfaces to describe, indexed by `CaptureRecord.interfaceId`. Default: one per distinct
   * interfaceId, in order of first appearance, with that record's link type.
   */
  readonly interfaces?: readonly PcapngInterfaceOptions[];
  readonly section?: PcapngWriterOptions;
  /** Classic pcap only: the file's link type; default: the first record's (so an empty file needs it). */
  readonly linkType?: number;
  /** Classic pcap only. */
  readonly precision?: TimestampPrecision;
  readonly littleEndian?: boolean;
}

/**
 * Writes `records` to `sink`. Classic pcap has one link type per file and no comments: records of another link
 * type are a RangeError, comments are dropped.
 */
export function writeCapture(
  sink: (chunk: Uint8Array) => void,
  records: Iterable<CaptureRecord>,
  options: WriteCaptureOptions = {},
): void {
  if (options.format === "pcap") {
    let writer: PcapWriter | null = null;
    let linkType = options.linkType ?? -1;
    const open = (lt: number): PcapWriter =>
      new PcapWriter(sink, {
        linkType: lt,
        ...(options.precision === undefined ? {} : { precision: options.precision }),
        ...(options.littleEndian === undefined ? {} : { littleEndian: options.littleEndian }),
      });
    if (options.linkType !== undefined) writer = open(options.linkType);
    for (const r of records) {
      if (writer === null) {
        linkType = r.linkType;
        writer = open(linkType);
      } else if (r.linkType !== linkType) {
        throw new RangeError(`classic pcap holds one link type: ${r.linkType} after ${linkType}; write pcapng`);
      }
      writer.writePacket(r);
    }
    if (writer === null) throw new RangeError("classic pcap needs a link type: give options.linkType or a record");
    return;
  }
  const writer = new PcapngWriter(sink, options.section);
  const given = options.interfaces;
  const ids = new Map<number, number>();
  if (given !== undefined) for (let i = 0; i < given.length; i++) ids.set(i, writer.addInterface(given[i]));
  for (const r of records) {
    let id = ids.get(r.interfaceId);
    if (id === undefined) {
      if (given !== undefined) throw new RangeError(`record names interface ${r.interfaceId}; ${given.length} given`);
      id = writer.addInterface({ linkType: r.linkType });
      ids.set(r.interfaceId, id);
    }
    writer.writePacket({ ...r, interfaceId: id });
  }
}

/** The bytes of a capture holding `records` (see `writeCapture`). */
export function emitCapture(records: Iterable<CaptureRecord>, options: WriteCaptureOptions = {}): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  writeCapture(
    (c) => {
      chunks.push(c);
      total += c.length;
    },
    records,
    options,
  );
  const out = new Uint8Array(total);
  let p = 0;
  for (const c of chunks) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}
