// The shape every capture reader and writer shares: one record per packet, whatever the file format, with the
// timestamp as exact nanoseconds so a simulation's virtual clock survives a round trip through a file.

/** Link-layer header types (https://www.tcpdump.org/linktypes.html); an open set, other values pass through. */
export const LinkType = {
  /** LINKTYPE_NULL: BSD loopback, a 4-byte host-order address family before the packet. */
  NULL: 0,
  ETHERNET: 1,
  /** LINKTYPE_RAW: the packet starts with an IPv4 or IPv6 header (version nibble tells which). */
  RAW: 101,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

/** One captured packet. `data` holds the captured bytes (`data.length` is the caplen). */
export interface CaptureRecord {
  /** Index of the interface within its pcapng section; always 0 for classic pcap. */
  readonly interfaceId: number;
  readonly linkType: number;
  /** Nanoseconds since 1970-01-01T00:00:00Z. */
  readonly timestampNs: bigint;
  readonly data: Uint8Array;
  /** Length of the packet on the wire; larger than `data.length` when the capture truncated it (snaplen). */
  readonly originalLength: number;
  /** The packet's opt_comment (pcapng only); several comments are joined with "\n". */
  readonly comment?: string;
}

/** A capture interface as described by a pcapng IDB, or the single implicit interface of a classic pcap file. */
export interface CaptureInterface {
  readonly linkType: number;
  /** 0 means "no limit" in both formats. */
  readonly snaplen: number;
  readonly name?: string;
  readonly description?: string;
  /** Raw if_tsresol byte: bit 7 clear = 10^-n seconds, set = 2^-n seconds (RFC draft-ietf-opsawg-pcapng §4.2). */
  readonly tsresol: number;
  /** if_tsoffset: seconds added to every timestamp of this interface. */
  readonly tsoffsetSeconds: bigint;
}

export type CaptureFormat = "pcap" | "pcapng";

/** A capture read whole into memory (see `parseCapture`). */
export interface Capture {
  readonly format: CaptureFormat;
  /** Interfaces of the last section read (classic pcap: exactly one). */
  readonly interfaces: readonly CaptureInterface[];
  readonly records: readonly CaptureRecord[];
}

export const NANOS_PER_SECOND = 1_000_000_000n;
