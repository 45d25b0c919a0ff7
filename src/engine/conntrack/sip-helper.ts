// The SIP helper's conntrack half (net/netfilter/nf_conntrack_sip.c): sip_help_udp / sip_help_tcp split the
// payload into messages, process_sip_msg hands each to the request or response handler of its method (REGISTER
// sets up the signalling expectation its 2xx answer activates; INVITE, UPDATE, ACK, PRACK and their answers read
// SDP and expect the media; BYE and failed INVITEs flush the media), then, on a NATed connection, lets the NAT half
// (nat/helper-nat.ts) rewrite the message. Text is scanned where it lies in the packet (sip-scan.ts), so every
// offset is the kernel's. Parameters are the kernel's defaults: sip_direct_signalling and sip_direct_media on.
import type { Family, PacketMeta } from "../packet-meta.js";
import { CtState, CtStatus, Proto } from "../packet-meta.js";
import type { HelperHost, SipMaster } from "./alg-helper.js";
import {
  AnnounceFormat,
  EXPECT_NAT_SIP_EXPECTED,
  ExpectFail,
  ExpectFlag,
  HelperNatResult,
  NAT_MASK,
  expectOrNat,
  sameAddr,
} from "./alg-helper.js";
import {
  SdpLine,
  SipHeader,
  SipScan,
  caseEq,
  getHeader,
  getSdpHeader,
  isAlpha,
  parseHeaderUri,
  parseNumericalParam,
  parseTransport,
  sipBytes,
  sipStrtouint,
} from "./sip-scan.js";

/** sip_exp_policy: every class (signalling, audio, video, image) expires after 3 min unless refreshed. */
const SIP_EXPECT_TIMEOUT_MS = 3 * 60 * 1000;
const MS = 1000;
/** sip_timeout: how long a connection that carried SIP lives (3600 s). */
const SIP_TIMEOUT_MS = 3600 * MS;
/** A SIP message is at least `SIP/2.0 200` long. */
const MIN_MESSAGE = 11;
const SIP_VERSION_SP = sipBytes("SIP/2.0 ");
const END_OF_HEADERS = sipBytes("\r\n\r\n");
const EXPIRES_PARAM = sipBytes("expires=");
const MIN_MEDIA_PORT = 1024;
const MAX_PORT = 65535;
const SP = 0x20;

/** One message being processed: where it is (relative to the IP header, which a growing rewrite moves) and how long. */
class SipMessageAt {
  host!: HelperHost;
  meta!: PacketMeta;
  e = 0;
  dir = 0;
  family: Family = 4;
  proto = 0;
  now = 0;
  /** Offset of the message from meta.l3 (meta.bytes and meta.l3 change when a rewrite grows the packet). */
  rel = 0;
  len = 0;
  readonly s = new SipScan();
  readonly ownSrc = new Uint32Array(4);
  readonly otherSrc = new Uint32Array(4);
  readonly ownDst = new Uint32Array(4);
  readonly addr = new Uint32Array(4);
  /** The session-level c= address of the SDP being read. */
  readonly session = new Uint32Array(4);

  get base(): number {
    return this.meta.l3 + this.rel;
  }
  get bytes(): Uint8Array {
    return this.meta.bytes;
  }
  /** The entry is NATed and the node has the NAT half: its hooks run. */
  get natted(): boolean {
    return this.host.helperNat !== null && (this.host.status(this.e) & NAT_MASK) !== 0;
  }
}

const MSG = new SipMessageAt();

function drop(m: SipMessageAt, message: string): number {
  m.host.helperLog(message);
  return HelperNatResult.HELPER_DROP;
}

/**
 * process_register_request: a REGISTER naming its sender in the Contact gets a permanent, inactive expectation
 * for connections from the registrar to that Contact (its 2xx answer activates it); expires 0 (or none given)
 * releases instead of registering; a third party's or another transport's Contact is left alone.
 */
function registerRequest(m: SipMessageAt, sip: SipMaster, cseq: number): number {
  const { host, e, s, family } = m;
  if (host.status(e) & CtStatus.EXPECTED) return HelperNatResult.ACCEPT;
  const b = m.bytes;
  const base = m.base;
  let expires = 0;
  if (getHeader(b, base, 0, m.len, SipHeader.EXPIRES, family, s) > 0)
    expires = sipStrtouint(b, base + s.matchOff, m.len - s.matchOff, s);
  const r = parseHeaderUri(b, base, 0, m.len, SipHeader.CONTACT, family, s);
  if (r < 0) return drop(m, "cannot parse contact");
  if (r === 0) return HelperNatResult.ACCEPT;
  if (!sameAddr(family, s.addr, m.ownSrc)) return HelperNatResult.ACCEPT;
  m.addr.set(s.addr);
  const port = s.port;
  const contactAt = s.matchOff;
  const contactLen = s.matchLen;
  const proto = parseTransport(b, base, contactAt + contactLen, m.len, m.proto, s);
  if (proto === 0) return HelperNatResult.ACCEPT;
  const ex = parseNumericalParam(b, base, contactAt + contactLen, m.len, EXPIRES_PARAM, s);
  if (ex < 0) return drop(m, "cannot parse expires");
  if (ex > 0) expires = s.value;
  if (expires === 0) {
    sip.registerCseq = cseq;
    return HelperNatResult.ACCEPT;
  }
  // The NAT half may rewrite the Contact to another length: the message's length moves with the packet's.
  const before = m.meta.length;
  const res = expectOrNat(
    host,
    m.meta,
    e,
    m.dir,
    m.otherSrc,
    m.addr,
    port,
    proto,
    SIP_EXPECT_TIMEOUT_MS,
    ExpectFlag.PERMANENT | ExpectFlag.INACTIVE,
    EXPECT_NAT_SIP_EXPECTED,
    AnnounceFormat.SIP_ADDR_PORT,
    base + contactAt,
    contactLen,
    m.now,
    sip.forcedDport,
  );
  m.len += m.meta.length - before;
  if (res === HelperNatResult.ACCEPT) sip.registerCseq = cseq;
  return res;
}

/**
 * process_register_response: a 2xx to the REGISTER the helper last saw activates the signalling expectation of
 * the first Contact naming the (translated) registering address with a non-zero expiry, for that many seconds;
 * any other final answer, or no such Contact, flushes it.
 */
function registerResponse(m: SipMessageAt, sip: SipMaster, cseq: number, code: number): number {
  if (sip.registerCseq !== cseq) return HelperNatResult.ACCEPT;
  if (code >= 100 && code <= 199) return HelperNatResult.ACCEPT;
  const { host, e, s, family } = m;
  if (code >= 200 && code <= 299) {
    const b = m.bytes;
    const base = m.base;
    let expires = 0;
    if (getHeader(b, base, 0, m.len, SipHeader.EXPIRES, family, s) > 0)
      expires = sipStrtouint(b, base + s.matchOff, m.len - s.matchOff, s);
    s.inHeader = false;
    let off = 0;
    for (;;) {
      const r = parseHeaderUri(b, base, off, m.len, SipHeader.CONTACT, family, s, true);
      if (r < 0) return drop(m, "cannot parse contact");
      if (r === 0) break;
      off = s.next;
      if (!sameAddr(family, s.addr, m.ownDst)) continue;
      m.addr.set(s.addr);
      const port = s.port;
      const end = s.matchOff + s.matchLen;
      const proto = parseTransport(b, base, end, m.len, m.proto, s);
      if (proto === 0) continue;
      let cExpires = expires;
      const ex = parseNumericalParam(b, base, end, m.len, EXPIRES_PARAM, s);
      if (ex < 0) return drop(m, "cannot parse expires");
      if (ex > 0) cExpires = s.value;
      if (cExpires === 0) break;
      if (host.refreshSignalling(e, proto, m.addr, port, cExpires * MS, m.now)) return HelperNatResult.ACCEPT;
    }
  }
  host.flushExpectations(e, false);
  return HelperNatResult.ACCEPT;
}

/** sdp_media_types: the media the helper expects streams for (index + 1 is the ExpectClass). */
const MEDIA_TYPES = [sipBytes("audio "), sipBytes("video "), sipBytes("image ")];

function mediaType(b: Uint8Array, at: number, len: number): number {
  for (let i = 0; i < MEDIA_TYPES.length; i++) {
    const t = MEDIA_TYPES[i];
    if (len < t.length) continue;
    let same = true;
    for (let k = 0; k < t.length && same; k++) same = b[at + k] === t[k];
    if (same) return i;
  }
  return -1;
}

/**
 * set_expected_rtp_rtcp with sip_direct_media: a stream announced at the sender's own address (m.addr) is expected
 * from the peer on its even port (RTP) and the next (RTCP) — on a NATed connection by the NAT half, which moves
 * the pair to the translated address (m.addr becomes it) and rewrites the port it had to change. An expectation
 * another connection already holds counts as set up (-EALREADY with NF_CT_EXP_F_SKIP_MASTER). Not modelled: the
 * kernel's shortcut for media between two NATed connections of the same helper (direct_rtp).
 */
function expectMedia(m: SipMessageAt, port: number, cls: number, mediaOff: number, mediaLen: number): number {
  if (!sameAddr(m.family, m.addr, m.ownSrc)) return HelperNatResult.ACCEPT;
  const rtp = port & ~1;
  const { host, e, family } = m;
  const hooks = host.helperNat;
  if (hooks !== null && m.natted) {
    const len = hooks.sdpMedia(m.meta, e, m.dir, m.base, m.len, m.addr, rtp, mediaOff, mediaLen, cls, m.now);
    if (len < 0) return HelperNatResult.HELPER_DROP;
    m.len = len;
    return HelperNatResult.ACCEPT;
  }
  const a = host.expect(e, family, Proto.UDP, m.otherSrc, 0, m.addr, rtp, SIP_EXPECT_TIMEOUT_MS, m.now, 0, cls, true);
  if (a < 0 && a !== ExpectFail.ALREADY) return HelperNatResult.HELPER_DROP;
  const c = host.expect(
    e,
    family,
    Proto.UDP,
    m.otherSrc,
    0,
    m.addr,
    rtp + 1,
    SIP_EXPECT_TIMEOUT_MS,
    m.now,
    0,
    cls,
    true,
  );
  if (c < 0 && c !== ExpectFail.ALREADY) {
    if (a >= 0) host.unexpectRelated(a);
    return HelperNatResult.HELPER_DROP;
  }
  return HelperNatResult.ACCEPT;
}

/**
 * process_sdp: for every audio, video or image stream of the session description, the media expectations at the
 * stream's connection address (its own c= line, else the session's); on a NATed connection the stream's c= and
 * then the session's o= and c= are rewritten to where the media is expected. An unparsable port or address drops
 * the message. Offsets are not moved by rewrites before them, as in the kernel.
 */
function processSdp(m: SipMessageAt): number {
  const { s, family } = m;
  if (getSdpHeader(m.bytes, m.base, 0, m.len, SdpLine.VERSION, SdpLine.NONE, family, s) <= 0)
    return HelperNatResult.ACCEPT;
  const sdpoff = s.matchOff;
  let session = false;
  let haveAddr = false;
  if (getSdpHeader(m.bytes, m.base, sdpoff, m.len, SdpLine.CONNECTION, SdpLine.MEDIA, family, s) > 0) {
    m.session.set(s.addr);
    m.addr.set(s.addr);
    session = true;
    haveAddr = true;
  }
  const hooks = m.host.helperNat;
  let mediaoff = sdpoff;
  for (let streams = 0; streams < MEDIA_TYPES.length;) {
    if (getSdpHeader(m.bytes, m.base, mediaoff, m.len, SdpLine.MEDIA, SdpLine.NONE, family, s) <= 0) break;
    mediaoff = s.matchOff;
    const t = mediaType(m.bytes, m.base + mediaoff, s.matchLen);
    if (t < 0) {
      mediaoff += s.matchLen;
      continue;
    }
    const medialen = s.matchLen - MEDIA_TYPES[t].length;
    mediaoff += MEDIA_TYPES[t].length;
    const port = sipStrtouint(m.bytes, m.base + mediaoff, m.len - mediaoff, s);
    if (port === 0 || s.end === m.base + mediaoff) continue;
    if (port < MIN_MEDIA_PORT || port > MAX_PORT) return drop(m, `wrong port ${String(port)}`);
    // The media description's own c= overrides the session's.
    const own = getSdpHeader(m.bytes, m.base, mediaoff, m.len, SdpLine.CONNECTION, SdpLine.MEDIA, family, s) > 0;
    if (own) m.addr.set(s.addr);
    else if (session) m.addr.set(m.session);
    else return drop(m, "cannot parse SDP message");
    haveAddr = true;
    if (expectMedia(m, port, t + 1, mediaoff, medialen) !== HelperNatResult.ACCEPT)
      return drop(m, "cannot add expectation for voice");
    if (own && hooks !== null && m.natted) {
      const len = hooks.sdpAddr(m.meta, m.e, m.dir, m.base, m.len, mediaoff, m.addr);
      if (len < 0) return drop(m, "cannot mangle SDP");
      m.len = len;
    }
    streams++;
  }
  if (hooks !== null && m.natted && haveAddr) {
    const len = hooks.sdpSession(m.meta, m.e, m.dir, m.base, m.len, sdpoff, m.addr);
    if (len < 0) return drop(m, "cannot mangle SDP session");
    m.len = len;
  }
  return HelperNatResult.ACCEPT;
}

/** process_invite_response, process_update_response, process_prack_response. */
function sdpResponse(m: SipMessageAt, sip: SipMaster, cseq: number, code: number): number {
  if ((code >= 100 && code <= 199) || (code >= 200 && code <= 299)) return processSdp(m);
  if (sip.inviteCseq === cseq) m.host.flushExpectations(m.e, true);
  return HelperNatResult.ACCEPT;
}

interface SipHandler {
  readonly method: Uint8Array;
  readonly request: ((m: SipMessageAt, sip: SipMaster, cseq: number) => number) | null;
  readonly response: ((m: SipMessageAt, sip: SipMaster, cseq: number, code: number) => number) | null;
}

const sdpRequest = (m: SipMessageAt): number => processSdp(m);

/** sip_handlers[], in the kernel's order. */
const HANDLERS: readonly SipHandler[] = [
  {
    method: sipBytes("INVITE"),
    // process_invite_request: a new offer replaces the media expected so far.
    request: (m, sip, cseq) => {
      m.host.flushExpectations(m.e, true);
      const r = processSdp(m);
      if (r === HelperNatResult.ACCEPT) sip.inviteCseq = cseq;
      return r;
    },
    response: sdpResponse,
  },
  { method: sipBytes("UPDATE"), request: sdpRequest, response: sdpResponse },
  { method: sipBytes("ACK"), request: sdpRequest, response: null },
  { method: sipBytes("PRACK"), request: sdpRequest, response: sdpResponse },
  {
    method: sipBytes("BYE"),
    request: (m) => {
      m.host.flushExpectations(m.e, true);
      return HelperNatResult.ACCEPT;
    },
    response: null,
  },
  { method: sipBytes("REGISTER"), request: registerRequest, response: registerResponse },
];

/** The CSeq number (s.value), or a drop: requests and responses the helper handles must carry one. */
function cseqOf(m: SipMessageAt): number {
  const { s } = m;
  const b = m.bytes;
  const base = m.base;
  if (getHeader(b, base, 0, m.len, SipHeader.CSEQ, m.family, s) <= 0) return drop(m, "cannot parse cseq");
  const at = base + s.matchOff;
  sipStrtouint(b, at, m.len - s.matchOff, s);
  if (s.end === at) return drop(m, "cannot get cseq");
  return HelperNatResult.ACCEPT;
}

/** process_sip_request. */
function sipRequest(m: SipMessageAt, sip: SipMaster): number {
  const { s, family } = m;
  const b = m.bytes;
  const base = m.base;
  // A phone that sends from another port than its Via names (Cisco) gets its answers redirected there.
  if (
    parseHeaderUri(b, base, 0, m.len, SipHeader.VIA_UDP, family, s) > 0 &&
    s.port !== m.host.sport(m.e, m.dir) &&
    sameAddr(family, s.addr, m.ownSrc)
  )
    sip.forcedDport = s.port;
  for (const h of HANDLERS) {
    if (h.request === null) continue;
    const n = h.method.length;
    if (m.len < n + 2 || !caseEq(b, base, h.method)) continue;
    if (b[base + n] !== SP || !isAlpha(b[base + n + 1])) continue;
    if (cseqOf(m) !== HelperNatResult.ACCEPT) return HelperNatResult.HELPER_DROP;
    return h.request(m, sip, s.value);
  }
  return HelperNatResult.ACCEPT;
}

/** process_sip_response. */
function sipResponse(m: SipMessageAt, sip: SipMaster): number {
  const { s } = m;
  const b = m.bytes;
  const base = m.base;
  if (m.len < MIN_MESSAGE) return HelperNatResult.ACCEPT;
  const code = sipStrtouint(b, base + SIP_VERSION_SP.length, m.len - SIP_VERSION_SP.length, s);
  if (code === 0) return drop(m, "cannot get code");
  if (getHeader(b, base, 0, m.len, SipHeader.CSEQ, m.family, s) <= 0) return drop(m, "cannot parse cseq");
  const methodAt = s.matchOff + s.matchLen + 1;
  const numberAt = base + s.matchOff;
  const cseq = sipStrtouint(b, numberAt, m.len - s.matchOff, s);
  if (s.end === numberAt) return drop(m, "cannot get cseq");
  for (const h of HANDLERS) {
    if (h.response === null) continue;
    if (m.len < methodAt + h.method.length || !caseEq(b, base + methodAt, h.method)) continue;
    return h.response(m, sip, cseq, code);
  }
  return HelperNatResult.ACCEPT;
}

/** process_sip_msg: the handler, then the NAT half's rewrite of a NATed connection's message. */
function sipMessage(m: SipMessageAt, sip: SipMaster): number {
  const request = !caseEq(m.bytes, m.base, SIP_VERSION_SP);
  const r = request ? sipRequest(m, sip) : sipResponse(m, sip);
  if (r !== HelperNatResult.ACCEPT || !m.natted) return r;
  const hooks = m.host.helperNat;
  if (hooks === null) return r;
  const len = hooks.sipMessage(m.meta, m.e, m.dir, m.base, m.len, sip.forcedDport);
  if (len < 0) return drop(m, "cannot NAT SIP message");
  m.len = len;
  return HelperNatResult.ACCEPT;
}

/** The offset (absolute) just past the blank line ending a message's headers at or after `from`, or -1. */
function headersEnd(b: Uint8Array, from: number, limit: number): number {
  for (let p = from; p + END_OF_HEADERS.length <= limit; p++) {
    if (b[p] === END_OF_HEADERS[0] && b[p + 1] === END_OF_HEADERS[1] && b[p + 2] === END_OF_HEADERS[2]) {
      if (b[p + 3] === END_OF_HEADERS[3]) return p + END_OF_HEADERS.length;
    }
  }
  return -1;
}

/**
 * The SIP helper on the payload of the packet in `meta` (from byte `payloadAt`, travelling in `dir`) of entry
 * `e`: over UDP the datagram is one message (sip_help_udp); over TCP, on an established connection, every complete
 * message (headers, a blank line and Content-Length bytes of body) is processed in turn and, on a NATed
 * connection, the segment's total change of length becomes its sequence adjustment (sip_help_tcp). A
 * HelperNatResult: anything but ACCEPT drops the packet.
 */
export function sipHelp(
  host: HelperHost,
  e: number,
  dir: number,
  meta: PacketMeta,
  payloadAt: number,
  now: number,
): number {
  const m = MSG;
  m.host = host;
  m.meta = meta;
  m.e = e;
  m.dir = dir;
  m.family = host.family(e);
  m.proto = host.proto(e);
  m.now = now;
  host.src(e, dir, m.ownSrc);
  host.dst(e, dir, m.ownDst);
  host.src(e, 1 - dir, m.otherSrc);
  const sip = host.sipMaster(e);
  const end = Math.min(meta.l3 + meta.length, meta.bytes.length);
  let datalen = end - payloadAt;
  m.rel = payloadAt - meta.l3;
  const tcp = m.proto === Proto.TCP;
  // sip_help_tcp works only on IP_CT_ESTABLISHED and IP_CT_ESTABLISHED_REPLY packets.
  if (tcp && meta.ctState !== CtState.ESTABLISHED) return HelperNatResult.ACCEPT;
  // Any payload keeps the connection for sip_timeout, whatever the protocol's own timeout said.
  host.refreshTimeout(e, SIP_TIMEOUT_MS, now);
  if (datalen < MIN_MESSAGE) return HelperNatResult.ACCEPT;
  if (!tcp) {
    m.len = datalen;
    return sipMessage(m, sip);
  }
  const seq = meta.seq;
  const { s } = m;
  let tdiff = 0;
  let r: number = HelperNatResult.ACCEPT;
  for (;;) {
    const b = m.bytes;
    const base = m.base;
    if (getHeader(b, base, 0, datalen, SipHeader.CONTENT_LENGTH, m.family, s) <= 0) break;
    const clen = sipStrtouint(b, base + s.matchOff, datalen - s.matchOff, s);
    if (s.end === base + s.matchOff || clen > datalen) break;
    const headers = headersEnd(b, s.end, base + datalen);
    if (headers < 0) break;
    const origlen = headers + clen - base;
    if (origlen > datalen) return HelperNatResult.ACCEPT;
    m.len = origlen;
    r = sipMessage(m, sip);
    if (r !== HelperNatResult.ACCEPT) break;
    const diff = m.len - origlen;
    tdiff += diff;
    m.rel += m.len;
    datalen = datalen + diff - m.len;
  }
  if (r === HelperNatResult.ACCEPT && m.natted && tdiff !== 0) host.helperNat?.sipSeqAdjust(e, dir, seq, tdiff);
  return r;
}
