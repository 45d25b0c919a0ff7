// The pseudo-header that TCP, UDP and ICMPv6 checksums cover (RFC 768, RFC 9293 §3.1, RFC 8200 §8.1). The L4
// modules take it as an argument so they never need to know where (or whether) an IP header sits in the buffer.

import { pseudoHeaderSumV4, pseudoHeaderSumV6 } from "./checksum.js";

/** IPv4 addresses as unsigned 32-bit integers; IPv6 addresses as 16-byte arrays. */
export type PseudoHeader =
  | { readonly family: 4; readonly src: number; readonly dst: number }
  | { readonly family: 6; readonly src: Uint8Array; readonly dst: Uint8Array };

/** Unfolded one's-complement sum of the pseudo-header for `protocol` and upper-layer `length`. */
export function pseudoSum(p: PseudoHeader, protocol: number, length: number): number {
  return p.family === 4
    ? pseudoHeaderSumV4(p.src, p.dst, protocol, length)
    : pseudoHeaderSumV6(p.src, 0, p.dst, 0, protocol, length);
}
