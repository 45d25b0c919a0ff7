// The one file-system edge of src/sim: each segment's capture as a pcapng file (LINKTYPE_RAW: packets start with
// their IP header), every packet commented with what the nodes at both ends did with it.

import { join } from "node:path";
import { FileSink, LinkType, PcapngWriter } from "../pcap/index.js";
import type { CaptureRecord, Segment } from "./segment.js";

const NS_PER_MS = 1e6;

/** Virtual milliseconds as integer nanoseconds since the epoch of the capture (time 0 of the simulation). */
function timestampNs(timeMs: number): bigint {
  return BigInt(Math.round(timeMs * NS_PER_MS));
}

/** Encodes one segment's capture as pcapng into `sink`. */
export function writeSegmentCapture(
  sink: (chunk: Uint8Array) => void,
  segmentName: string,
  records: readonly CaptureRecord[],
): void {
  const writer = new PcapngWriter(sink, { application: "mallory simulate" });
  const id = writer.addInterface({ linkType: LinkType.RAW, name: segmentName });
  for (const r of records)
    writer.writePacket({ interfaceId: id, timestampNs: timestampNs(r.timeMs), data: r.bytes, comment: r.comment });
}

/** Writes `<dir>/<segment>.pcapng` for every segment; returns the paths written. */
export function writePcaps(dir: string, segments: Iterable<Segment>): string[] {
  const paths: string[] = [];
  for (const s of segments) {
    const path = join(dir, `${s.name}.pcapng`);
    const file = new FileSink(path);
    try {
      writeSegmentCapture(file.write, s.name, s.captures);
    } finally {
      file.close();
    }
    paths.push(path);
  }
  return paths;
}
