// Ethernet II frames (IEEE 802.3 clause 3.2.6 type field) with at most one IEEE 802.1Q tag, without FCS: what
// pcap's LINKTYPE_ETHERNET carries. A second tag (QinQ) is not unwrapped: its TPID stays the repr's ether type and
// the inner tag stays in the payload, so round trips are still exact.

import { readU16, writeU16 } from "./bytes.js";
import { err, ok } from "./result.js";
import type { Result, WireError } from "./result.js";

export const EthernetField = {
  DST: 0,
  SRC: 6,
  ETHERTYPE: 12,
  /** With a VLAN tag: the TCI (PCP 3 bits, DEI 1 bit, VID 12 bits) and the inner ether type. */
  VLAN_TCI: 14,
  VLAN_ETHERTYPE: 16,
} as const;
const F = EthernetField;

// The views read these module-private names; the exported ones are live ESM bindings other modules import.
const HEADER_LEN = 14;
const TAG_LEN = 4;
const TAGGED_HEADER_LEN = HEADER_LEN + TAG_LEN;

export const ETHERNET_HEADER_LEN = HEADER_LEN;
export const VLAN_TAG_LEN = TAG_LEN;
export const MAC_LEN = 6;

/** IEEE ether types; an open set (STYLE.md §10): any other value is carried as is. */
export const EtherType = {
  IPV4: 0x0800,
  ARP: 0x0806,
  VLAN: 0x8100,
  IPV6: 0x86dd,
} as const;

const TCI_PCP_SHIFT = 13;
const TCI_DEI = 0x1000;
const TCI_VID = 0x0fff;

export interface VlanTag {
  /** Priority code point, 0..7. */
  readonly pcp: number;
  /** Drop eligible indicator. */
  readonly dei: boolean;
  /** VLAN identifier, 0..4095. */
  readonly vid: number;
}

export interface EthernetRepr {
  readonly dst: Uint8Array;
  readonly src: Uint8Array;
  /** The 802.1Q tag when the outer ether type is 0x8100, else null. */
  readonly vlan: VlanTag | null;
  /** The ether type of the payload (the inner one when tagged). */
  readonly etherType: number;
  readonly payload: Uint8Array;
}

function badSpan(bytes: Uint8Array, at: number, len: number): boolean {
  return !(Number.isInteger(at) && Number.isInteger(len) && at >= 0 && len >= 0 && at + len <= bytes.length);
}

const TPID_VLAN = EtherType.VLAN;
const NO_BYTES = new Uint8Array(0);

export class EthernetView {
  // Fields are created here, in this order and with these kinds (array, small integers), so every view shares
  // one hidden class and the datapath's property accesses stay monomorphic.
  bytes: Uint8Array = NO_BYTES;
  at = 0;
  len = 0;

  constructor(bytes: Uint8Array = NO_BYTES, at = 0, len: number = bytes.length - at) {
    this.bytes = bytes;
    this.at = at;
    this.len = len;
  }

  wrap(bytes: Uint8Array, at = 0, len: number = bytes.length - at): this {
    this.bytes = bytes;
    this.at = at;
    this.len = len;
    return this;
  }

  /** Validates the header length (and the tag when present) once; afterwards no getter reads out of bounds. */
  check(): WireError | null {
    const b = this.bytes;
    const at = this.at;
    const len = this.len;
    // Success path first, without allocating: an in-bounds integer span holding the header, and the tag too
    // when the frame is tagged. Anything else is diagnosed by `checkFrame`, which decides exactly as before.
    if (
      (at | 0) === at &&
      (len | 0) === len &&
      at >= 0 &&
      len >= HEADER_LEN &&
      at + len <= b.length &&
      (len >= TAGGED_HEADER_LEN || ((b[at + F.ETHERTYPE] << 8) | b[at + F.ETHERTYPE + 1]) !== TPID_VLAN)
    ) {
      return null;
    }
    return checkFrame(b, at, len);
  }

  get dstOffset(): number {
    return this.at + F.DST;
  }
  get srcOffset(): number {
    return this.at + F.SRC;
  }
  /** Subarray over the destination MAC (writes go to the frame). */
  get dst(): Uint8Array {
    return this.bytes.subarray(this.at + F.DST, this.at + F.DST + MAC_LEN);
  }
  set dst(mac: Uint8Array) {
    this.bytes.set(mac.subarray(0, MAC_LEN), this.at + F.DST);
  }
  get src(): Uint8Array {
    return this.bytes.subarray(this.at + F.SRC, this.at + F.SRC + MAC_LEN);
  }
  set src(mac: Uint8Array) {
    this.bytes.set(mac.subarray(0, MAC_LEN), this.at + F.SRC);
  }

  /** The outer ether type (0x8100 for a tagged frame). */
  get outerEtherType(): number {
    const b = this.bytes;
    const i = this.at + F.ETHERTYPE;
    return (b[i] << 8) | b[i + 1];
  }
  get hasVlan(): boolean {
    return this.outerEtherType === TPID_VLAN;
  }
  /** The payload's ether type: the inner one when tagged. Writing it keeps the tag. */
  get etherType(): number {
    const b = this.bytes;
    const i = this.at + F.ETHERTYPE;
    const outer = (b[i] << 8) | b[i + 1];
    if (outer !== TPID_VLAN) return outer;
    const j = this.at + F.VLAN_ETHERTYPE;
    return (b[j] << 8) | b[j + 1];
  }
  set etherType(t: number) {
    writeU16(this.bytes, this.at + (this.hasVlan ? F.VLAN_ETHERTYPE : F.ETHERTYPE), t);
  }

  /** Tag control information; only meaningful when `hasVlan`. */
  get vlanTci(): number {
    return readU16(this.bytes, this.at + F.VLAN_TCI);
  }
  set vlanTci(tci: number) {
    writeU16(this.bytes, this.at + F.VLAN_TCI, tci);
  }
  get vid(): number {
    return this.vlanTci & TCI_VID;
  }
  set vid(vid: number) {
    this.vlanTci = (this.vlanTci & ~TCI_VID) | (vid & TCI_VID);
  }
  get pcp(): number {
    return this.vlanTci >>> TCI_PCP_SHIFT;
  }
  set pcp(pcp: number) {
    this.vlanTci = (this.vlanTci & ~(7 << TCI_PCP_SHIFT)) | ((pcp & 7) << TCI_PCP_SHIFT);
  }
  get dei(): boolean {
    return (this.vlanTci & TCI_DEI) !== 0;
  }
  set dei(d: boolean) {
    this.vlanTci = d ? this.vlanTci | TCI_DEI : this.vlanTci & ~TCI_DEI;
  }

  get headerLength(): number {
    return this.outerEtherType === TPID_VLAN ? TAGGED_HEADER_LEN : HEADER_LEN;
  }
  get payloadOffset(): number {
    return this.at + this.headerLength;
  }
  get payload(): Uint8Array {
    return this.bytes.subarray(this.payloadOffset, this.at + this.len);
  }
}

/** The full diagnosis behind `EthernetView.check` (off the success path, so the check itself stays small). */
function checkFrame(bytes: Uint8Array, at: number, len: number): WireError | null {
  if (badSpan(bytes, at, len)) return err("ethernet", "buffer", at, "span outside the buffer").error;
  if (len < ETHERNET_HEADER_LEN) return truncated(at, len, ETHERNET_HEADER_LEN).error;
  if (readU16(bytes, at + F.ETHERTYPE) === EtherType.VLAN && len < ETHERNET_HEADER_LEN + VLAN_TAG_LEN) {
    return truncated(at, len, ETHERNET_HEADER_LEN + VLAN_TAG_LEN).error;
  }
  return null;
}

function truncated(at: number, len: number, need: number): { readonly ok: false; readonly error: WireError } {
  // Name the first field the frame ends inside of.
  const field = len < F.SRC ? "dst" : len < F.ETHERTYPE ? "src" : len < ETHERNET_HEADER_LEN ? "ethertype" : "vlan-tag";
  const offset =
    field === "dst"
      ? at + F.DST
      : field === "src"
        ? at + F.SRC
        : field === "ethertype"
          ? at + F.ETHERTYPE
          : at + F.VLAN_TCI;
  return err("ethernet", field, offset, `frame of ${len} bytes is shorter than the ${need}-byte header`);
}

const view = new EthernetView();

/** Frame bytes → repr. MACs and payload are subarrays of `bytes` (zero-copy). */
export function parse(bytes: Uint8Array, at = 0, len: number = bytes.length - at): Result<EthernetRepr> {
  const e = view.wrap(bytes, at, len).check();
  if (e !== null) return { ok: false, error: e };
  const vlan = view.hasVlan ? { pcp: view.pcp, dei: view.dei, vid: view.vid } : null;
  return ok({ dst: view.dst, src: view.src, vlan, etherType: view.etherType, payload: view.payload });
}

export function bufferLen(repr: EthernetRepr): number {
  return (repr.vlan ? ETHERNET_HEADER_LEN + VLAN_TAG_LEN : ETHERNET_HEADER_LEN) + repr.payload.length;
}

/** Writes the frame at buf[at..]; the caller provides `bufferLen(repr)` bytes of room. Returns bytes written. */
export function emitInto(repr: EthernetRepr, buf: Uint8Array, at: number): number {
  buf.set(repr.dst.subarray(0, MAC_LEN), at + F.DST);
  buf.set(repr.src.subarray(0, MAC_LEN), at + F.SRC);
  let p = at + ETHERNET_HEADER_LEN;
  if (repr.vlan) {
    writeU16(buf, at + F.ETHERTYPE, EtherType.VLAN);
    const { pcp, dei, vid } = repr.vlan;
    writeU16(buf, at + F.VLAN_TCI, ((pcp & 7) << TCI_PCP_SHIFT) | (dei ? TCI_DEI : 0) | (vid & TCI_VID));
    writeU16(buf, at + F.VLAN_ETHERTYPE, repr.etherType);
    p += VLAN_TAG_LEN;
  } else {
    writeU16(buf, at + F.ETHERTYPE, repr.etherType);
  }
  buf.set(repr.payload, p);
  return p + repr.payload.length - at;
}

export function emit(repr: EthernetRepr): Uint8Array {
  const out = new Uint8Array(bufferLen(repr));
  emitInto(repr, out, 0);
  return out;
}
