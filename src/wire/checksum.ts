// The Internet checksum (RFC 1071), the IPv4/IPv6 pseudo-headers (RFC 768, RFC 793 §3.1, RFC 8200 §8.1) and
// the incremental update of RFC 1624 used when NAT rewrites an address or port in place.

/** Below this many bytes the byte loop wins even over an already bound DataView. */
const WIDE_MIN_LEN = 64;
/**
 * Binding a DataView to another array costs about as much as summing a few hundred bytes (more for a small
 * array V8 keeps on its heap, whose `buffer` must first be moved off it), so only long spans pay for it.
 */
const WIDE_REBIND_MIN_LEN = 512;
/** Bytes summed between folds of the wide accumulator: 2^20 / 4 words of < 2^32 stay far below 2^53. */
const WIDE_CHUNK = 1 << 20;
const WIDE_STEP = 16;
const U32 = 4;
const U16 = 2;
const TWO_POW_16 = 0x10000;
const TWO_POW_32 = 0x100000000;
const U32_MAX = 0xffffffff;
/** The weight of a word's high byte. */
const BYTE_WEIGHT = 0x100;

// The array the cached DataView covers, exactly bytes.byteOffset .. + byteLength (STYLE.md §15).
let wideOf: Uint8Array = new Uint8Array(0);
let wide: DataView = new DataView(wideOf.buffer, wideOf.byteOffset, wideOf.byteLength);
let wideLen = 0;

/** Adds the 16-bit big-endian words of b[at..at+len) to `sum` (unfolded; an odd tail byte is padded with zero). */
export function sumWords(b: Uint8Array, at: number, len: number, sum = 0): number {
  const end = at + len;
  // Long in-bounds spans take the wide path; anything else (short, or a span the byte loop reads past) keeps the
  // byte loop's exact behaviour.
  if (
    len >= WIDE_MIN_LEN &&
    (b === wideOf || len >= WIDE_REBIND_MIN_LEN) &&
    (at | 0) === at &&
    (len | 0) === len &&
    at >= 0 &&
    end <= b.length
  ) {
    return sumWordsWide(b, at, end, sum);
  }
  let i = at;
  if ((at | 0) === at && (len | 0) === len && at >= 0 && end <= b.length) {
    // Σ(b[i] << 8 | b[i+1]) = 2^8·Σ b[even] + Σ b[odd]: two adds per word instead of shift, or and add. In bounds
    // only: the loop below reads a byte past the array as 0, this one would read NaN.
    let even = 0;
    let odd = 0;
    for (; i + 1 < end; i += 2) {
      even += b[i];
      odd += b[i + 1];
    }
    if (i < end) even += b[i];
    sum += even * BYTE_WEIGHT + odd;
    return sum > 0x3fffffff ? foldSum(sum) : sum;
  }
  for (; i + 1 < end; i += 2) sum += (b[i] << 8) | b[i + 1];
  if (i < end) sum += b[i] << 8;
  // Fold now and then so the sum stays a small integer even for jumbo buffers.
  return sum > 0x3fffffff ? foldSum(sum) : sum;
}

/**
 * Four big-endian 32-bit reads per step instead of eight 16-bit words (RFC 1071 §2(C): sum in wider words, fold
 * at the end). A 32-bit word is two 16-bit words side by side, so the wide sum folds to the same 16-bit sum.
 */
function sumWordsWide(b: Uint8Array, at: number, end: number, sum: number): number {
  // Also rebind when the length changed: a length-tracking array over a resizable ArrayBuffer keeps its identity.
  if (b !== wideOf || b.byteLength !== wideLen) {
    wideOf = b;
    wideLen = b.byteLength;
    wide = new DataView(b.buffer, b.byteOffset, wideLen);
  }
  const d = wide;
  let i = at;
  while (end - i >= U32) {
    const stop = Math.min(end, i + WIDE_CHUNK);
    let acc = 0;
    for (; i + WIDE_STEP <= stop; i += WIDE_STEP) {
      acc += d.getUint32(i) + d.getUint32(i + U32) + d.getUint32(i + 2 * U32) + d.getUint32(i + 3 * U32);
    }
    for (; i + U32 <= stop; i += U32) acc += d.getUint32(i);
    // acc < 2^50 is exact; modulo 2^16 - 1 (one's-complement addition) 2^16 ≡ 1 and 2^32 ≡ 1, so its three
    // 16-bit pieces add up to the same sum as the 16-bit words did.
    const low32 = acc % TWO_POW_32;
    sum += Math.floor(acc / TWO_POW_32) + Math.floor(low32 / TWO_POW_16) + (low32 % TWO_POW_16);
    if (sum > 0x3fffffff) sum = foldSum(sum);
  }
  if (end - i >= U16) {
    sum += d.getUint16(i);
    i += U16;
  }
  if (i < end) sum += d.getUint8(i) << 8;
  return sum > 0x3fffffff ? foldSum(sum) : sum;
}

/** Folds carries into 16 bits (one's-complement addition), without complementing. */
export function foldSum(sum: number): number {
  if (sum <= 0xffff) return sum;
  if (sum <= U32_MAX) {
    // Below 2^32 `>>> 16` is the exact quotient; two folds reach 16 bits: 0xffff + 0xffff = 0x1fffe folds to 0xffff.
    const once = (sum & 0xffff) + (sum >>> 16);
    return (once & 0xffff) + (once >>> 16);
  }
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
