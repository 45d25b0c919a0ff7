// The NAT half of the FTP and SIP helpers (net/netfilter/nf_nat_ftp.c, nf_nat_sip.c, nf_nat_helper.c), SEMANTICS.md
// §2.11 and §6.4. When a helped master connection is NATed, the conntrack half (conntrack/alg-helper.ts) hands the
// expectation it built to `expect` instead of registering it: the expectation moves to the master's translated
// address (the reply tuple's destination, e.g. the router's WAN address) on the announced port if free, else the
// next free one; the original endpoint is saved in the expectation; and the announcement in the payload (SIP
// Contact, FTP PORT/EPRT/227/229 argument) is rewritten to the external endpoint. When the expected connection
// arrives, `expected` (conntrack's onExpected, the kernel's expectfn) binds its new entry: DNAT to the saved
// endpoint, plus the SNAT nf_nat_follow_master / nf_nat_sip_expected add.
//
// A replacement of another length resizes the packet (nf_nat_mangle_tcp_packet / nf_nat_mangle_udp_packet); for
// TCP the connection then gets sequence adjustment (conntrack/seqadj.ts), as nf_nat_ftp and nf_nat_sip ask for.
import type { HelperNat, PendingExpectation } from "../conntrack/alg-helper.js";
import { AnnounceFormat, HelperNatResult, sameAddr } from "../conntrack/alg-helper.js";
import { ExpectFail, ExpectNat } from "../conntrack/conntrack.js";
import type { Family, PacketMeta } from "../packet-meta.js";
import { CtDir, CtStatus, Proto } from "../packet-meta.js";
import { formatIpv4, formatIpv6, wordsToIpv6 } from "../../wire/address.js";
import { readU32, writeU16 } from "../../wire/bytes.js";
import {
  finishChecksum,
  internetChecksum,
  pseudoHeaderSumV4,
  pseudoHeaderSumV6,
  sumWords,
} from "../../wire/checksum.js";
import { Ipv4Field } from "../../wire/ipv4.js";
import { IPV6_HEADER_LEN, Ipv6Field } from "../../wire/ipv6.js";
import { TcpField } from "../../wire/tcp.js";
import {
  SdpLine,
  SipHeader,
  SipScan,
  caseEq,
  getHeader,
  getSdpHeader,
  parseAddressParam,
  parseHeaderUri,
  parseNumericalParam,
  parseRequest,
  sipBytes,
} from "../conntrack/sip-scan.js";
import { UDP_HEADER_LEN, UDP_NO_CHECKSUM, UdpField } from "../../wire/udp.js";

/** What the NAT half needs of conntrack (src/engine/conntrack/conntrack.ts `Conntrack` satisfies it). */
export interface HelperNatConntrack {
  family(e: number): Family;
  status(e: number): number;
  setStatus(e: number, bits: number): void;
  src(e: number, dir: number, out: Uint32Array): void;
  dst(e: number, dir: number, out: Uint32Array): void;
  sport(e: number, dir: number): number;
  dport(e: number, dir: number): number;
  proto(e: number): number;
  setReplyTuple(e: number, src: Uint32Array, sport: number, dst: Uint32Array, dport: number): void;
  expect(
    master: number,
    family: Family,
    proto: number,
    src: Uint32Array | null,
    sport: number,
    dst: Uint32Array,
    dport: number,
    timeoutMs: number,
    now: number,
    flags?: number,
    cls?: number,
    skipMaster?: boolean,
  ): number;
  setExpectationNat(x: number, nat: number, saved: Uint32Array | null, savedPort: number, dir: number): void;
  unexpectRelated(x: number): void;
  expectationNat(x: number): number;
  expectationMaster(x: number): number;
  expectationSaved(x: number, out: Uint32Array): void;
  expectationSavedPort(x: number): number;
  expectationDir(x: number): number;
  setSeqAdjust(e: number, dir: number, seq: number, off: number): void;
}

const MAX_PORT = 0xffff;
const IHL_MASK = 0x0f;
const IHL_UNIT = 4;
const BYTE = 0xff;
/** RFC 768: a computed UDP checksum of 0 is sent as all ones (0 means "no checksum"). */
const UDP_ZERO_SUM = 0xffff;

function addressText(family: Family, w: Uint32Array, scratch: Uint8Array): string {
  if (family === 4) return formatIpv4(w[0]);
  wordsToIpv6(w, scratch, 0);
  return formatIpv6(scratch);
}

/** nf_nat_sip.c sip_sprintf_addr_port and nf_nat_ftp.c nf_nat_ftp_fmt_cmd: the announcement as the peer reads it. */
export function formatAnnouncement(format: number, family: Family, addr: Uint32Array, port: number): string {
  const text = addressText(family, addr, new Uint8Array(16));
  switch (format) {
    case AnnounceFormat.SIP_ADDR_PORT:
      return family === 4 ? `${text}:${port}` : `[${text}]:${port}`;
    case AnnounceFormat.FTP_PORT: {
      const a = addr[0];
      return `${a >>> 24},${(a >>> 16) & BYTE},${(a >>> 8) & BYTE},${a & BYTE},${port >>> 8},${port & BYTE}`;
    }
    case AnnounceFormat.FTP_EPRT:
      return `|${family === 4 ? 1 : 2}|${text}|${port}|`;
    default:
      return `|||${port}|`;
  }
}

/** The largest IP packet: a rewrite that would grow one past it fails, as enlarge_skb does. */
const MAX_PACKET = 0xffff;

/**
 * nf_nat_mangle_tcp_packet / nf_nat_mangle_udp_packet: replaces bytes [at, at + len) of the payload with `text`.
 * When the lengths differ the packet is resized (mangle_contents: the rest of the payload moves, the IPv4 total
 * length and header checksum or the IPv6 payload length follow, and the UDP length); a packet that grows is copied
 * into a new array (meta.bytes, meta.l3 = 0, meta.l4 moved with it), one that shrinks moves in place. The transport
 * checksum is recomputed (an IPv4 UDP checksum of 0 stays 0). Returns the change in length, or null when the span
 * is outside the payload or the packet would outgrow 65,535 bytes.
 */
export function manglePayload(meta: PacketMeta, at: number, len: number, text: string): number | null {
  const l3 = meta.l3;
  const end = l3 + meta.length;
  // mangle_contents works on the payload only: after the TCP header (with options) or the UDP header.
  const payload =
    meta.proto === Proto.TCP ? meta.l4 + (meta.bytes[meta.l4 + TcpField.DATA_OFF] >>> 4) * 4 : meta.l4 + UDP_HEADER_LEN;
  if (at < payload || at + len > end || len < 0) return null;
  const delta = text.length - len;
  const length = meta.length + delta;
  if (length > MAX_PACKET) return null;
  let b = meta.bytes;
  let to = at;
  if (delta > 0) {
    const grown = new Uint8Array(length);
    grown.set(b.subarray(l3, at), 0);
    grown.set(b.subarray(at + len, end), at - l3 + text.length);
    b = grown;
    to = at - l3;
    meta.bytes = grown;
    meta.l4 -= l3;
    meta.l3 = 0;
  } else if (delta < 0) {
    b.copyWithin(at + text.length, at + len, end);
  }
  for (let i = 0; i < text.length; i++) b[to + i] = text.charCodeAt(i) & BYTE;
  meta.length = length;
  const ip = meta.l3;
  const l4 = meta.l4;
  const l4len = length - (l4 - ip);
  if (delta !== 0) {
    if (meta.family === 4) {
      writeU16(b, ip + Ipv4Field.LENGTH, length);
      writeU16(b, ip + Ipv4Field.CHECKSUM, 0);
      writeU16(b, ip + Ipv4Field.CHECKSUM, internetChecksum(b, ip, (b[ip] & IHL_MASK) * IHL_UNIT));
    } else {
      writeU16(b, ip + Ipv6Field.PAYLOAD_LEN, length - IPV6_HEADER_LEN);
    }
    if (meta.proto === Proto.UDP) writeU16(b, l4 + UdpField.LENGTH, l4len);
  }
  const field = meta.proto === Proto.TCP ? l4 + TcpField.CHECKSUM : l4 + UdpField.CHECKSUM;
  if (meta.proto === Proto.UDP && meta.family === 4 && b[field] === 0 && b[field + 1] === 0) return delta;
  writeU16(b, field, 0);
  const pseudo =
    meta.family === 4
      ? pseudoHeaderSumV4(readU32(b, ip + Ipv4Field.SRC), readU32(b, ip + Ipv4Field.DST), meta.proto, l4len)
      : pseudoHeaderSumV6(b, ip + Ipv6Field.SRC, b, ip + Ipv6Field.DST, meta.proto, l4len);
  let sum = finishChecksum(sumWords(b, l4, l4len, pseudo));
  if (meta.proto === Proto.UDP && sum === UDP_NO_CHECKSUM) sum = UDP_ZERO_SUM;
  writeU16(b, field, sum);
  return delta;
}

const SIP_VERSION = sipBytes("SIP/2.0");
const SDP_VERSION_LINE = sipBytes("v=");
/** sip_exp_policy: media expectations live 3 min. */
const SIP_MEDIA_TIMEOUT_MS = 3 * 60 * 1000;
const MADDR = sipBytes("maddr=");
const RECEIVED = sipBytes("received=");
const RPORT = sipBytes("rport=");

/** sip_sprintf_addr: an address as SIP writes it (IPv6 in brackets where `delim`). */
function sipAddressText(family: Family, w: Uint32Array, delim: boolean): string {
  const text = addressText(family, w, new Uint8Array(16));
  return family === 6 && delim ? `[${text}]` : text;
}

/** The message nf_nat_sip is rewriting, with the master's tuples as this packet's direction sees them. */
class SipRewrite {
  readonly s = new SipScan();
  meta!: PacketMeta;
  family: Family = 4;
  /** The message's offset from meta.l3 (a growing rewrite moves meta.bytes and meta.l3) and its length. */
  private rel = 0;
  len = 0;
  private forcedDport = 0;
  readonly ownSrc = new Uint32Array(4);
  readonly ownDst = new Uint32Array(4);
  readonly otherSrc = new Uint32Array(4);
  readonly otherDst = new Uint32Array(4);
  ownSport = 0;
  ownDport = 0;
  otherSport = 0;
  otherDport = 0;

  constructor(private readonly ct: HelperNatConntrack) {}

  begin(meta: PacketMeta, e: number, dir: number, base: number, length: number, forcedDport: number): void {
    const ct = this.ct;
    this.meta = meta;
    this.family = ct.family(e);
    this.rel = base - meta.l3;
    this.len = length;
    this.forcedDport = forcedDport;
    ct.src(e, dir, this.ownSrc);
    ct.dst(e, dir, this.ownDst);
    ct.src(e, 1 - dir, this.otherSrc);
    ct.dst(e, 1 - dir, this.otherDst);
    this.ownSport = ct.sport(e, dir);
    this.ownDport = ct.dport(e, dir);
    this.otherSport = ct.sport(e, 1 - dir);
    this.otherDport = ct.dport(e, 1 - dir);
  }

  get base(): number {
    return this.meta.l3 + this.rel;
  }

  /** mangle_packet: the message's bytes [off, off + len) become `text`. False when the packet cannot be rewritten. */
  mangle(off: number, len: number, text: string): boolean {
    const delta = manglePayload(this.meta, this.base + off, len, text);
    if (delta === null) return false;
    this.len += delta;
    return true;
  }

  /** mangle_content_len: Content-Length becomes the SDP's length (from its v= line to the message's end). */
  contentLength(): boolean {
    const s = this.s;
    const b = this.meta.bytes;
    if (getSdpHeader(b, this.base, 0, this.len, SdpLine.VERSION, SdpLine.NONE, this.family, s) <= 0) return false;
    const sdpLength = this.len - s.matchOff + SDP_VERSION_LINE.length;
    if (getHeader(b, this.base, 0, this.len, SipHeader.CONTENT_LENGTH, this.family, s) <= 0) return false;
    return this.mangle(s.matchOff, s.matchLen, String(sdpLength));
  }

  /** mangle_sdp_packet: the address of SDP line `type` after `from` (stopping at `term`) becomes `text`; false if none. */
  sdpLine(from: number, type: SdpLine, term: SdpLine, text: string): boolean {
    const s = this.s;
    if (getSdpHeader(this.meta.bytes, this.base, from, this.len, type, term, this.family, s) <= 0) return false;
    return this.mangle(s.matchOff, s.matchLen, text);
  }

  /**
   * map_addr: `addr:port` at [off, off + len) names this direction's source (or destination): it becomes the other
   * direction's destination (or source, or the phone's forced port), unless that is what it already says.
   */
  mapAddr(off: number, len: number, addr: Uint32Array, port: number): boolean {
    const family = this.family;
    let to: Uint32Array;
    let toPort: number;
    if (sameAddr(family, addr, this.ownSrc) && port === this.ownSport) {
      to = this.otherDst;
      toPort = this.otherDport;
    } else if (sameAddr(family, addr, this.ownDst) && port === this.ownDport) {
      to = this.otherSrc;
      toPort = this.forcedDport !== 0 ? this.forcedDport : this.otherSport;
    } else return true;
    if (sameAddr(family, to, addr) && toPort === port) return true;
    return this.mangle(off, len, formatAnnouncement(AnnounceFormat.SIP_ADDR_PORT, family, to, toPort));
  }
}

/** The helpers' NAT half of one node: install as `conntrack.helperNat` and wire `expected` to `onExpected`. */
export class HelperNatHooks implements HelperNat {
  private readonly ct: HelperNatConntrack;
  private readonly ownSrc = new Uint32Array(4);
  private readonly otherDst = new Uint32Array(4);
  private readonly newAddr = new Uint32Array(4);
  private readonly a = new Uint32Array(4);
  private readonly b = new Uint32Array(4);
  private readonly c = new Uint32Array(4);
  private readonly sip: SipRewrite;

  constructor(ct: HelperNatConntrack) {
    this.ct = ct;
    this.sip = new SipRewrite(ct);
  }

  /** nf_nat_sip_expect (SIP) and nf_nat_ftp (FTP); a HelperNatResult. */
  expect(meta: PacketMeta, e: number, dir: number, p: PendingExpectation, now: number): number {
    const ct = this.ct;
    const family = p.family;
    ct.src(e, dir, this.ownSrc);
    ct.dst(e, 1 - dir, this.otherDst);
    const sip = p.nat === ExpectNat.SIP_EXPECTED;
    let port: number;
    let expDst: Uint32Array;
    if (sip) {
      // "Connection will come from reply": to where the master's packets appear to come from, unless untranslated.
      this.newAddr.set(sameAddr(family, this.ownSrc, this.otherDst) ? p.dst : this.otherDst);
      // A Contact on the signalling source port (or the phone's forced port) maps to that port's translation.
      const srcport = p.forcedDport !== 0 ? p.forcedDport : ct.sport(e, dir);
      port = p.dport === srcport ? ct.dport(e, 1 - dir) : p.dport;
      expDst = this.newAddr;
    } else {
      // nf_nat_ftp: "connection will come from wherever this packet goes, hence !dir".
      this.newAddr.set(this.otherDst);
      port = p.dport;
      expDst = p.dst;
    }
    // nf_nat_sip_expect's search: the port, then upwards until an expectation slot is not busy.
    let x: number = ExpectFail.BUSY;
    for (; port <= MAX_PORT && port !== 0; port++) {
      // nf_nat_sip_expect asks with NF_CT_EXP_F_SKIP_MASTER: another master's identical expectation ends the
      // search (-EALREADY) instead of moving on; nf_nat_ftp asks plainly.
      x = ct.expect(
        e,
        family,
        p.proto,
        p.srcAny ? null : p.src,
        p.sport,
        expDst,
        port,
        p.timeoutMs,
        now,
        p.flags,
        0,
        sip,
      );
      if (x !== ExpectFail.BUSY) break;
    }
    if (x < 0) return HelperNatResult.NO_PORT;
    ct.setExpectationNat(x, p.nat, sip ? p.dst : null, p.dport, 1 - dir);
    // nf_nat_sip_expect mangles only when the endpoint changed; nf_nat_ftp always writes its command.
    if (!sip || !sameAddr(family, this.newAddr, p.dst) || port !== p.dport) {
      const text = formatAnnouncement(p.format, family, this.newAddr, port);
      const seq = meta.seq;
      const delta = manglePayload(meta, p.matchAt, p.matchLen, text);
      if (delta === null) {
        ct.unexpectRelated(x);
        return HelperNatResult.CANNOT_MANGLE;
      }
      // nf_nat_mangle_tcp_packet: the segment as it came in, shifted by what came before, then this change. SIP
      // mangles without adjusting and sets the segment's whole change once (sipSeqAdjust).
      if (!sip && delta !== 0 && meta.proto === Proto.TCP) ct.setSeqAdjust(e, dir, seq, delta);
    }
    return HelperNatResult.ACCEPT;
  }

  sdpMedia(
    meta: PacketMeta,
    e: number,
    dir: number,
    base: number,
    length: number,
    addr: Uint32Array,
    port: number,
    mediaOff: number,
    mediaLen: number,
    cls: number,
    now: number,
  ): number {
    const ct = this.ct;
    const m = this.sip;
    m.begin(meta, e, dir, base, length, 0);
    const family = m.family;
    this.newAddr.set(addr);
    // "Connection will come from reply": where this side's packets appear to come from, unless untranslated.
    const to = sameAddr(family, m.ownSrc, m.otherDst) ? this.newAddr : m.otherDst;
    // "Try to get same pair of ports: if not, try to change them."
    let p = port;
    for (; p !== 0 && p < MAX_PORT; p += 2) {
      const rtp = ct.expect(e, family, Proto.UDP, m.otherSrc, 0, to, p, SIP_MEDIA_TIMEOUT_MS, now, 0, cls, true);
      if (rtp === ExpectFail.BUSY) continue;
      if (rtp < 0) return -1;
      const rtcp = ct.expect(e, family, Proto.UDP, m.otherSrc, 0, to, p + 1, SIP_MEDIA_TIMEOUT_MS, now, 0, cls, true);
      if (rtcp >= 0) {
        ct.setExpectationNat(rtp, ExpectNat.SIP_EXPECTED, this.newAddr, port, 1 - dir);
        ct.setExpectationNat(rtcp, ExpectNat.SIP_EXPECTED, this.newAddr, port + 1, 1 - dir);
        break;
      }
      ct.unexpectRelated(rtp);
      if (rtcp !== ExpectFail.BUSY) return -1;
    }
    if (p === 0 || p >= MAX_PORT) return -1;
    addr.set(to);
    if (p !== port && !(m.mangle(mediaOff, mediaLen, String(p)) && m.contentLength())) return -1;
    return m.len;
  }

  sdpAddr(
    meta: PacketMeta,
    e: number,
    dir: number,
    base: number,
    length: number,
    mediaOff: number,
    addr: Uint32Array,
  ): number {
    const m = this.sip;
    m.begin(meta, e, dir, base, length, 0);
    const text = sipAddressText(m.family, addr, false);
    if (!m.sdpLine(mediaOff, SdpLine.CONNECTION, SdpLine.MEDIA, text) || !m.contentLength()) return -1;
    return m.len;
  }

  sdpSession(
    meta: PacketMeta,
    e: number,
    dir: number,
    base: number,
    length: number,
    sdpOff: number,
    addr: Uint32Array,
  ): number {
    const m = this.sip;
    m.begin(meta, e, dir, base, length, 0);
    const text = sipAddressText(m.family, addr, false);
    if (!m.sdpLine(sdpOff, SdpLine.OWNER, SdpLine.MEDIA, text)) return -1;
    // RFC 2327: the session's c= may be left to every medium; a session without one keeps none.
    const s = m.s;
    const c = getSdpHeader(meta.bytes, m.base, sdpOff, m.len, SdpLine.CONNECTION, SdpLine.MEDIA, m.family, s);
    if (c > 0 && !m.mangle(s.matchOff, s.matchLen, text)) return -1;
    return m.contentLength() ? m.len : -1;
  }

  /** nf_nat_sip_seq_adjust. */
  sipSeqAdjust(e: number, dir: number, seq: number, off: number): void {
    if (this.ct.proto(e) === Proto.TCP && off !== 0) this.ct.setSeqAdjust(e, dir, seq, off);
  }

  /**
   * nf_nat_sip: rewrites the message of `length` bytes at `base` (Request-URI, the top Via with its maddr=,
   * received= and rport= parameters, each Contact, From, To) where it names an end of the master as seen from
   * this side, to that end's translation; then, for a reply on a phone's forced port, the UDP destination port.
   * The message's new length, or -1 (NF_DROP) when a rewrite failed.
   */
  sipMessage(meta: PacketMeta, e: number, dir: number, base: number, length: number, forcedDport: number): number {
    const m = this.sip;
    m.begin(meta, e, dir, base, length, forcedDport);
    const s = m.s;
    const family = m.family;
    let request = false;
    if (!caseEq(meta.bytes, base, SIP_VERSION)) {
      request = true;
      if (parseRequest(meta.bytes, m.base, m.len, family, s) > 0 && !m.mapAddr(s.matchOff, s.matchLen, s.addr, s.port))
        return -1;
    }
    // The topmost Via, if it names this side's sender (a request's source, a response's destination).
    const via = this.ct.proto(e) === Proto.TCP ? SipHeader.VIA_TCP : SipHeader.VIA_UDP;
    if (parseHeaderUri(meta.bytes, m.base, 0, m.len, via, family, s) > 0) {
      const end = request ? m.ownSrc : m.ownDst;
      const endPort = request ? m.ownSport : m.ownDport;
      if (sameAddr(family, s.addr, end) && s.port === endPort) {
        const olen = m.len;
        const matchEnd = s.matchOff + s.matchLen;
        if (!m.mapAddr(s.matchOff, s.matchLen, s.addr, s.port)) return -1;
        const paramsAt = matchEnd + m.len - olen;
        // maddr= (RFC 3261 §18.2.1: where to send the reply), received= and rport= (RFC 3581) name this side.
        if (
          parseAddressParam(meta.bytes, m.base, paramsAt, m.len, MADDR, family, true, s) > 0 &&
          sameAddr(family, s.addr, m.ownSrc) &&
          !sameAddr(family, s.addr, m.otherDst) &&
          !m.mangle(s.matchOff, s.matchLen, sipAddressText(family, m.otherDst, true))
        )
          return -1;
        if (
          parseAddressParam(meta.bytes, m.base, paramsAt, m.len, RECEIVED, family, false, s) > 0 &&
          sameAddr(family, s.addr, m.ownDst) &&
          !sameAddr(family, s.addr, m.otherSrc) &&
          !m.mangle(s.matchOff, s.matchLen, sipAddressText(family, m.otherSrc, false))
        )
          return -1;
        if (
          parseNumericalParam(meta.bytes, m.base, paramsAt, m.len, RPORT, s) > 0 &&
          s.value === m.ownDport &&
          s.value !== m.otherSport &&
          !m.mangle(s.matchOff, s.matchLen, String(m.otherSport))
        )
          return -1;
      }
    }
    // Every Contact. Kept from the kernel: the walk resumes where the previous address ended before its rewrite.
    s.inHeader = false;
    let off = 0;
    while (parseHeaderUri(meta.bytes, m.base, off, m.len, SipHeader.CONTACT, family, s, true) > 0) {
      off = s.next;
      if (!m.mapAddr(s.matchOff, s.matchLen, s.addr, s.port)) return -1;
    }
    for (const h of [SipHeader.FROM, SipHeader.TO]) {
      if (parseHeaderUri(meta.bytes, m.base, 0, m.len, h, family, s) <= 0) continue;
      if (!m.mapAddr(s.matchOff, s.matchLen, s.addr, s.port)) return -1;
    }
    // Cisco phones: the reply goes to the port the phone's Via named.
    if (dir === CtDir.REPLY && forcedDport !== 0 && meta.proto === Proto.UDP) {
      writeU16(meta.bytes, meta.l4 + UdpField.DST_PORT, forcedDport);
      meta.dport = forcedDport;
      if (manglePayload(meta, m.base + m.len, 0, "") === null) return -1;
    }
    return m.len;
  }

  /**
   * The expectfn, for new entry `e` (UNCONFIRMED, at conntrack time) that matched expectation `x`:
   * nf_nat_follow_master (FTP: SNAT to where the master sends, DNAT to the master's endpoint on the saved port) or
   * nf_nat_sip_expected (DNAT to the saved Contact; SNAT only when the connection comes from the master's peer).
   */
  expected(e: number, x: number): void {
    const ct = this.ct;
    const nat = ct.expectationNat(x);
    if (nat === ExpectNat.NONE) return;
    const m = ct.expectationMaster(x);
    const expDir = ct.expectationDir(x);
    const family = ct.family(e);
    const dnat = this.a;
    const snat = this.b;
    const dnatPort = ct.expectationSavedPort(x);
    let withSrc: boolean;
    if (nat === ExpectNat.FOLLOW_MASTER) {
      ct.dst(m, 1 - expDir, snat);
      ct.src(m, 1 - expDir, dnat);
      withSrc = true;
    } else {
      ct.expectationSaved(x, dnat);
      ct.src(e, CtDir.ORIGINAL, this.c);
      ct.src(m, expDir, snat);
      withSrc = sameAddr(family, this.c, snat);
      if (withSrc) ct.dst(m, 1 - expDir, snat);
    }
    // nf_nat_setup_info for each manip: the reply tuple's source is the DNAT target, its destination the SNAT one
    // (ports: DST takes the saved port, SRC keeps the port: NF_NAT_RANGE_MAP_IPS only).
    const rSrc = this.c;
    const rDst = this.newAddr;
    ct.src(e, CtDir.REPLY, rSrc);
    ct.dst(e, CtDir.REPLY, rDst);
    const rSport = ct.sport(e, CtDir.REPLY);
    const rDport = ct.dport(e, CtDir.REPLY);
    let status: number = CtStatus.DST_NAT_DONE;
    if (!sameAddr(family, rSrc, dnat) || rSport !== dnatPort) status |= CtStatus.DST_NAT;
    if (withSrc) {
      status |= CtStatus.SRC_NAT_DONE;
      if (!sameAddr(family, rDst, snat)) status |= CtStatus.SRC_NAT;
    }
    ct.setReplyTuple(e, dnat, dnatPort, withSrc ? snat : rDst, rDport);
    ct.setStatus(e, status);
  }
}
