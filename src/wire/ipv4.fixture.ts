// For tests: an IPv4 packet around a payload, with the header fields tests rarely care about fixed (identification
// 1, DF set, TTL 64, no options) and the header checksum computed by `emit`.
import { emit } from "./ipv4.js";

const FIXED_TTL = 64;

/** `src` and `dst` as unsigned 32-bit integers; `protocol` the IP protocol number of `payload`. */
export function ipv4Packet(src: number, dst: number, protocol: number, payload: Uint8Array): Uint8Array {
  return emit({
    dscp: 0,
    ecn: 0,
    ident: 1,
    reservedFlag: false,
    dontFragment: true,
    moreFragments: false,
    fragmentOffset: 0,
    ttl: FIXED_TTL,
    protocol,
    checksum: 0,
    src,
    dst,
    options: new Uint8Array(0),
    payload,
  });
}
