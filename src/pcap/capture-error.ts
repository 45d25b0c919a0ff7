// Errors are values inside the library (STYLE.md §3): the sync reader returns a CaptureError, the streaming
// reader throws one (an async iterator has no other way to stop with a reason), and both name the block and the
// absolute byte offset in the file where the problem sits.

export type CaptureErrorCode =
  /** The first four bytes are neither a pcap magic number nor a pcapng Section Header Block. */
  | "bad-magic"
  /** The file ends inside a header or block. */
  | "truncated"
  /** A length field is impossible: not a multiple of 4, smaller than the fixed part, or disagreeing with its copy. */
  | "bad-length"
  /** A length beyond what any real capture holds; refused so garbage cannot make the reader allocate gigabytes. */
  | "too-large"
  /** A major version this reader does not understand. */
  | "bad-version"
  /** A packet block names an interface no IDB described. */
  | "bad-interface"
  /** An option runs past the end of its block, or has an impossible value (e.g. if_tsresol 10^-20). */
  | "bad-option";

export class CaptureError extends Error {
  override readonly name = "CaptureError";

  constructor(
    readonly code: CaptureErrorCode,
    /** Absolute byte offset in the capture of the field that is wrong. */
    readonly offset: number,
    /** What was being read: "pcap header", "pcap record", "SHB", "IDB", "EPB", "SPB", "block 0x00000bad", ... */
    readonly block: string,
    readonly detail: string,
  ) {
    super(`${block} at byte ${offset}: ${detail}`);
  }
}

export function isCaptureError(x: unknown): x is CaptureError {
  return x instanceof CaptureError;
}
