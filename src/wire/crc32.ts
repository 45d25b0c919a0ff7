// CRC-32 as IEEE 802.3 defines it (reflected polynomial 0xEDB88320, init and final XOR 0xFFFFFFFF), the same
// function as zlib's crc32(); STUN's FINGERPRINT (RFC 8489 §14.7) and pcapng use it. Byte-at-a-time with one
// 256-entry table, built on first use so importing the module costs nothing.

const POLYNOMIAL_REFLECTED = 0xedb88320;
const ALL_ONES = 0xffffffff;
const TABLE_SIZE = 256;
const BITS_PER_BYTE = 8;

let table: Uint32Array | null = null;

function crcTable(): Uint32Array {
  if (table !== null) return table;
  const t = new Uint32Array(TABLE_SIZE);
  for (let n = 0; n < TABLE_SIZE; n++) {
    let c = n;
    for (let k = 0; k < BITS_PER_BYTE; k++) c = c & 1 ? POLYNOMIAL_REFLECTED ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  table = t;
  return t;
}

/**
 * CRC-32 of b[at..at+len), clamped to the array. `previous` continues a running CRC over split buffers, as zlib's
 * crc32(data, value) does: crc32(b, 0, n) === crc32(b, k, n - k, crc32(b, 0, k)).
 */
export function crc32(b: Uint8Array, at = 0, len = b.length - at, previous = 0): number {
  const t = crcTable();
  const start = Math.max(0, at);
  const end = Math.min(b.length, at + len);
  let c = (previous ^ ALL_ONES) >>> 0;
  for (let i = start; i < end; i++) c = t[(c ^ b[i]) & 0xff] ^ (c >>> BITS_PER_BYTE);
  return (c ^ ALL_ONES) >>> 0;
}
