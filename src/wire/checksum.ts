// The Internet checksum (RFC 1071), the IPv4/IPv6 pseudo-headers (RFC 768, RFC 793 §3.1, RFC 8200 §8.1) and
// the incremental update of RFC 1624 used when NAT rewrites an address or port in place.

/** Adds the 16-bit big-endian words of b[at..at+len) to `sum` (unfolded; an odd tail byte is padded with zero). */
export function sumWords(b: Uint8Array, at: number, len: number, sum = 0): number {
  const end = at + len;
  let i = at;
  for (; i + 1 < end; i += 2) sum += (b[i] << 8) | b[i + 1];
  if (i < end) sum += b[i] << 8;
  // Fold now and then so the sum stays a small integer even for jumbo buffers.
  return sum > 0x3fffffff ? foldSum(sum) : sum;
}

/** Folds carries into 16 bits (one's-complement addition), without complementing. */
export function foldSum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** The checksum field value: the complement of the folded sum. */
export function finishChecksum(sum: number): number {
  return ~foldSum(sum) & 0xffff;
}

/** The Internet checksum of b[at..at+len). */
export function internetChecksum(b: Uint8Array, at: number, len: number): number {
  return finishChecksum(sumWords(b, at, len));
}

/** Sum of the IPv4 pseudo-header (src, dst, zero, protocol, upper-layer length); addresses as integers. */
export function pseudoHeaderSumV4(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
}

/** Sum of the IPv6 pseudo-header; src and dst are the 16 address bytes at the given offsets (RFC 8200 §8.1). */
export function pseudoHeaderSumV6(
  srcBytes: Uint8Array,
  srcAt: number,
  dstBytes: Uint8Array,
  dstAt: number,
  nextHeader: number,
  length: number,
): number {
  let sum = sumWords(srcBytes, srcAt, 16);
  sum = sumWords(dstBytes, dstAt, 16, sum);
  return sum + Math.floor(length / 0x10000) + (length & 0xffff) + nextHeader;
}

/**
 * RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for a 16-bit field changing from m to m'. Equals the full computation
 * whenever the covered data cannot sum to zero (any TCP/UDP segment, whose pseudo-header holds a non-zero
 * protocol; any IPv4 header, whose version is 4). Only for all-zero data (an ICMP echo reply with id 0, seq 0 and
 * no data) does it give 0x0000 where the full computation gives 0xffff (RFC 1624 §3 / RFC 1071 §2(A)).
 * For UDP use `updateUdpChecksum16`.
 */
export function updateChecksum16(checksum: number, oldWord: number, newWord: number): number {
  const sum = (~checksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  return ~foldSum(sum) & 0xffff;
}

/** RFC 1624 for a 32-bit field (an IPv4 address) as two 16-bit words. */
export function updateChecksum32(checksum: number, oldValue: number, newValue: number): number {
  const sum =
    (~checksum & 0xffff) +
    (~(oldValue >>> 16) & 0xffff) +
    (~oldValue & 0xffff) +
    ((newValue >>> 16) & 0xffff) +
    (newValue & 0xffff);
  return ~foldSum(sum) & 0xffff;
}

/**
 * RFC 1624 for a field of `len` bytes (an IPv6 address) changing from old[oldAt..) to new[newAt..); len is even.
 * Same result as applying `updateChecksum16` word by word.
 */
export function updateChecksumBytes(
  checksum: number,
  oldBytes: Uint8Array,
  oldAt: number,
  newBytes: Uint8Array,
  newAt: number,
  len: number,
): number {
  const sum =
    (~checksum & 0xffff) +
    (~foldSum(sumWords(oldBytes, oldAt, len)) & 0xffff) +
    foldSum(sumWords(newBytes, newAt, len));
  return ~foldSum(sum) & 0xffff;
}

// UDP's checksum field differs from every other (RFC 768): 0 means "none computed" (IPv4) and must stay 0 through a
// rewrite, and a computed 0 is sent as 0xffff. The plain RFC 1624 update gets both wrong, so NAT uses these.

/** `updateChecksum16` for a UDP checksum field. */
export function updateUdpChecksum16(checksum: number, oldWord: number, newWord: number): number {
  if (checksum === 0) return 0;
  return updateChecksum16(checksum, oldWord, newWord) || 0xffff;
}

/** `updateChecksum32` for a UDP checksum field. */
export function updateUdpChecksum32(checksum: number, oldValue: number, newValue: number): number {
  if (checksum === 0) return 0;
  return updateChecksum32(checksum, oldValue, newValue) || 0xffff;
}

/** `updateChecksumBytes` for a UDP checksum field. */
export function updateUdpChecksumBytes(
  checksum: number,
  oldBytes: Uint8Array,
  oldAt: number,
  newBytes: Uint8Array,
  newAt: number,
  len: number,
): number {
  if (checksum === 0) return 0;
  return updateChecksumBytes(checksum, oldBytes, oldAt, newBytes, newAt, len) || 0xffff;
}
