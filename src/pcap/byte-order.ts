// Capture files are written in the writer's host byte order (pcap's magic, pcapng's byte-order magic tell which),
// so unlike src/wire every read here takes the order as a flag. Callers check lengths first; nothing allocates.

export function readU16(b: Uint8Array, at: number, littleEndian: boolean): number {
  return littleEndian ? b[at] | (b[at + 1] << 8) : (b[at] << 8) | b[at + 1];
}

export function readU32(b: Uint8Array, at: number, littleEndian: boolean): number {
  return littleEndian
    ? (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0
    : ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

export function readI32(b: Uint8Array, at: number, littleEndian: boolean): number {
  return readU32(b, at, littleEndian) | 0;
}

/** A signed 64-bit integer (pcapng section length, if_tsoffset). */
export function readI64(b: Uint8Array, at: number, littleEndian: boolean): bigint {
  const first = BigInt(readU32(b, at, littleEndian));
  const second = BigInt(readU32(b, at + 4, littleEndian));
  return BigInt.asIntN(64, littleEndian ? (second << 32n) | first : (first << 32n) | second);
}

export function writeU16(b: Uint8Array, at: number, v: number, littleEndian: boolean): void {
  if (littleEndian) {
    b[at] = v & 0xff;
    b[at + 1] = (v >>> 8) & 0xff;
  } else {
    b[at] = (v >>> 8) & 0xff;
    b[at + 1] = v & 0xff;
  }
}

export function writeU32(b: Uint8Array, at: number, v: number, littleEndian: boolean): void {
  if (littleEndian) {
    b[at] = v & 0xff;
    b[at + 1] = (v >>> 8) & 0xff;
    b[at + 2] = (v >>> 16) & 0xff;
    b[at + 3] = (v >>> 24) & 0xff;
  } else {
    b[at] = (v >>> 24) & 0xff;
    b[at + 1] = (v >>> 16) & 0xff;
    b[at + 2] = (v >>> 8) & 0xff;
    b[at + 3] = v & 0xff;
  }
}
