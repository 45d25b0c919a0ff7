// The contract between a format decoder and the readers that drive it (reader.ts): a decoder looks at a window
// of bytes and either asks for more, consumes a unit, or fails. It never reads past the window, so the streaming
// reader can hold just the current block and the sync reader can hand it the whole file.
import type { CaptureError } from "./capture-error.js";
import type { CaptureFormat, CaptureInterface, CaptureRecord } from "./capture.js";

export type DecodeStep =
  /** The next unit needs `bytes` bytes from the window start; call again with at least that many. */
  | { readonly kind: "need"; readonly bytes: number; readonly block: string }
  /** A packet; `record.data` is a subarray of the window (copy it before the window's bytes are reused). */
  | { readonly kind: "record"; readonly consumed: number; readonly record: CaptureRecord }
  /** A header, interface description or ignored block: consumed, nothing to yield. */
  | { readonly kind: "skip"; readonly consumed: number }
  | { readonly kind: "error"; readonly error: CaptureError };

export interface CaptureDecoder {
  readonly format: CaptureFormat;
  readonly interfaces: readonly CaptureInterface[];
  /**
   * Decodes the unit at bytes[at..at+len). `fileOffset` is the absolute position of bytes[at] in the capture,
   * used only to place errors.
   */
  step(bytes: Uint8Array, at: number, len: number, fileOffset: number): DecodeStep;
}
