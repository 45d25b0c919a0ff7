// The file-system edge of src/pcap: everything else here is pure byte work and can run anywhere.
import { closeSync, createReadStream, openSync, writeSync } from "node:fs";
import type { CaptureRecord } from "./capture.js";
import { readCapture } from "./reader.js";
import type { ReadStats } from "./reader.js";
import { writeCapture } from "./writer.js";
import type { WriteCaptureOptions } from "./writer.js";

export interface OpenCaptureOptions {
  /** Read-stream chunk size; default 64 KiB, so memory stays near one block plus one chunk. */
  readonly highWaterMark?: number;
  readonly stats?: ReadStats;
}

/** Streams the records of a pcap or pcapng file. Throws CaptureError on a damaged file, fs errors as they are. */
export function openCapture(
  path: string,
  options: OpenCaptureOptions = {},
): AsyncGenerator<CaptureRecord, void, undefined> {
  const stream = createReadStream(path, { highWaterMark: options.highWaterMark ?? 64 * 1024 });
  return readCapture(stream as AsyncIterable<Uint8Array>, options.stats);
}

/** A sink for PcapWriter/PcapngWriter that writes each chunk to a file as it comes (synchronously, in order). */
export class FileSink {
  private fd: number | null;

  constructor(readonly path: string) {
    this.fd = openSync(path, "w");
  }

  /** Bound, so it can be passed as the writer's sink: `new PcapngWriter(file.write)`. */
  readonly write = (chunk: Uint8Array): void => {
    if (this.fd === null) throw new Error(`${this.path} is already closed`);
    let done = 0;
    while (done < chunk.length) done += writeSync(this.fd, chunk, done, chunk.length - done);
  };

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** Writes `records` to a capture file (pcapng unless options.format is "pcap"). */
export function writeCaptureFile(
  path: string,
  records: Iterable<CaptureRecord>,
  options: WriteCaptureOptions = {},
): void {
  const file = new FileSink(path);
  try {
    writeCapture(file.write, records, options);
  } finally {
    file.close();
  }
}
