// src/pcap: reading and writing capture files (classic pcap and pcapng) with exact nanosecond timestamps and
// per-packet comments. Import from here, not from the files behind it (STYLE.md §7).
export { LinkType, NANOS_PER_SECOND } from "./capture.js";
export type { Capture, CaptureFormat, CaptureInterface, CaptureRecord } from "./capture.js";
export { CaptureError, isCaptureError } from "./capture-error.js";
export type { CaptureErrorCode } from "./capture-error.js";
export type { CaptureDecoder, DecodeStep } from "./decode-step.js";
export * as pcap from "./pcap.js";
export { PcapWriter } from "./pcap.js";
export type { PcapPacket, PcapWriterOptions, TimestampPrecision } from "./pcap.js";
export * as pcapng from "./pcapng.js";
export { PcapngWriter } from "./pcapng.js";
export type { PcapngInterfaceOptions, PcapngPacket, PcapngWriterOptions } from "./pcapng.js";
export { detectFormat, parseCapture, readCapture } from "./reader.js";
export type { ReadStats } from "./reader.js";
export { emitCapture, writeCapture } from "./writer.js";
export type { WriteCaptureOptions } from "./writer.js";
export { FileSink, openCapture, writeCaptureFile } from "./file.js";
export type { OpenCaptureOptions } from "./file.js";
