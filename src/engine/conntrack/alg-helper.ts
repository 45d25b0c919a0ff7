// Application-level gateway helpers: what the FTP and SIP helpers (nf_conntrack_ftp.c here, nf_conntrack_sip.c in
// sip-helper.ts) share, and the FTP helper itself (its reading of a segment: ftp-scan.ts). They read the payload
// of a helped connection and create expectations for the connections it announces. Off unless `ct helper set`
// attached them (automatic assignment is gone since Linux 4.7, SEMANTICS.md §2.11).
import type { Family, PacketMeta } from "../packet-meta.js";
import { CtState, CtStatus, Proto } from "../packet-meta.js";
import { FtpKind, FtpMatch, findFtp } from "./ftp-scan.js";

export const CtHelper = { NONE: 0, FTP: 1, SIP: 2 } as const;

/** How an announced endpoint is written in the payload, so the NAT half can write its replacement the same way. */
export const AnnounceFormat = {
  /** SIP URI host and port, `addr:port` (`[v6]:port`), nf_nat_sip.c sip_sprintf_addr_port. */
  SIP_ADDR_PORT: 0,
  /** RFC 959 PORT and 227: `h1,h2,h3,h4,p1,p2`. */
  FTP_PORT: 1,
  /** RFC 2428 EPRT: `|1|addr|port|` or `|2|addr|port|`. */
  FTP_EPRT: 2,
  /** RFC 2428 229: `|||port|`. */
  FTP_EPSV: 3,
} as const;

/** Why `expect` registered nothing (nf_ct_expect_related's errors); ids are >= 0. */
/** Expectation flags (NF_CT_EXPECT_*). */
export const ExpectFlag = { PERMANENT: 1, INACTIVE: 2 } as const;

export const ExpectFail = { FULL: -1, BUSY: -2, ALREADY: -3 } as const;

/**
 * Expectation classes (nf_conntrack_expect_policy per helper): FTP has one; SIP's are signalling, audio, video and
 * image. Each helper allows a master so many expectations of a class at once (max_expected): the oldest goes.
 */
export const ExpectClass = { SIGNALLING: 0, AUDIO: 1, VIDEO: 2, IMAGE: 3 } as const;

/** The NAT half's expectfn for the connection a helper expects (conntrack.ts ExpectNat, same values). */
const EXPECT_NAT_FOLLOW_MASTER = 1;
export const EXPECT_NAT_SIP_EXPECTED = 2;

/**
 * An expectation the conntrack half built but did not register because the master is NATed
 * (nf_conntrack_sip/ftp hand `exp` to nf_nat_sip_hooks->expect / nf_nat_ftp_hook). One scratch instance.
 */
export interface PendingExpectation {
  family: Family;
  proto: number;
  /** Any source when `srcAny`. */
  readonly src: Uint32Array;
  srcAny: boolean;
  sport: number;
  readonly dst: Uint32Array;
  dport: number;
  timeoutMs: number;
  flags: number;
  /** ExpectNat: nf_nat_follow_master (FTP) or nf_nat_sip_expected (SIP). */
  nat: number;
  /** AnnounceFormat of the announcement at bytes [matchAt, matchAt + matchLen) of the packet. */
  format: number;
  matchAt: number;
  matchLen: number;
  /** SIP: the phone's forced port (nf_ct_sip_master.forced_dport), which stands for its source port; else 0. */
  forcedDport: number;
}

/**
 * What a helper answers: the kernel's NF_ACCEPT, or NF_DROP with its reason — the NAT half found no port or could
 * not rewrite the payload, or the conntrack half refused the message (HELPER_DROP: its nf_ct_helper_log line is in
 * `HelperHost.helperLog`).
 */
export const HelperNatResult = { ACCEPT: 0, NO_PORT: 1, CANNOT_MANGLE: 2, HELPER_DROP: 3 } as const;

/** nf_nat_sip_hooks and nf_nat_ftp_hook, provided by src/engine/nat/helper-nat.ts. */
export interface HelperNat {
  /**
   * Moves `pending` to the master's translated address, registers it and rewrites the packet; a HelperNatResult.
   * For FTP a resized TCP segment gets its sequence adjustment here; SIP sets it once per segment (sipSeqAdjust).
   */
  expect(meta: PacketMeta, master: number, dir: number, pending: PendingExpectation, now: number): number;
  /**
   * nf_nat_sip (hooks->msg): rewrites the SIP message of `length` bytes at `base` in meta.bytes — Request-URI, top
   * Via with its maddr/received/rport, every Contact, From and To — where they name an end of the master as this
   * side sees it. The message's new length, or -1 when a rewrite failed (NF_DROP).
   */
  sipMessage(meta: PacketMeta, master: number, dir: number, base: number, length: number, forcedDport: number): number;
  /** nf_nat_sip_seq_adjust: a TCP segment of `dir` starting at `seq` grew or shrank by `off` bytes in total. */
  sipSeqAdjust(master: number, dir: number, seq: number, off: number): void;
  /**
   * nf_nat_sdp_media: the RTP and RTCP expectations of a stream announced at `addr`:`port` move to where the
   * master's packets appear to come from (`addr` is overwritten with it), on the first free even/odd pair from
   * `port`; a port that changed is written over the m= line's port at message offset `mediaOff` (`mediaLen`
   * digits), and Content-Length follows. `cls`: the stream's ExpectClass. The message's new length, or -1 (NF_DROP).
   */
  sdpMedia(
    meta: PacketMeta,
    master: number,
    dir: number,
    base: number,
    length: number,
    addr: Uint32Array,
    port: number,
    mediaOff: number,
    mediaLen: number,
    cls: number,
    now: number,
  ): number;
  /** nf_nat_sdp_addr: the stream's own c= address (after `mediaOff`, before the next m=) becomes `addr`. */
  sdpAddr(
    meta: PacketMeta,
    master: number,
    dir: number,
    base: number,
    length: number,
    mediaOff: number,
    addr: Uint32Array,
  ): number;
  /** nf_nat_sdp_session: the session's o= and c= addresses (from `sdpOff`, before the first m=) become `addr`. */
  sdpSession(
    meta: PacketMeta,
    master: number,
    dir: number,
    base: number,
    length: number,
    sdpOff: number,
    addr: Uint32Array,
  ): number;
}

/** struct nf_ct_sip_master: what the SIP helper remembers of one connection. */
export interface SipMaster {
  /** CSeq of the last REGISTER that set up (or released) a signalling expectation; its answer is the one read. */
  registerCseq: number;
  /** CSeq of the last INVITE whose SDP was processed; a failure answer to it flushes the media expectations. */
  inviteCseq: number;
  /** The Via port of a phone that sends from another port than it listens on (Cisco), 0 without one. */
  forcedDport: number;
}

/** The line end nf_conntrack_ftp.c looks for at the end of a segment. */
const NEWLINE = 0x0a;

/** What the helpers need from the conntrack table. */
export interface HelperHost {
  /** The NAT half, when the node does NAT (null: expectations keep the announced endpoint). */
  readonly helperNat: HelperNat | null;
  family(e: number): Family;
  proto(e: number): number;
  status(e: number): number;
  src(e: number, dir: number, out: Uint32Array): void;
  dst(e: number, dir: number, out: Uint32Array): void;
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
  refreshSignalling(
    master: number,
    proto: number,
    dst: Uint32Array,
    dport: number,
    timeoutMs: number,
    now: number,
  ): boolean;
  /** nf_conntrack_sip.c flush_expectations: the master's media expectations, or (not `media`) its signalling one. */
  flushExpectations(master: number, media: boolean): void;
  sport(e: number, dir: number): number;
  /** nf_ct_unexpect_related: withdraw expectation `x`. */
  unexpectRelated(x: number): void;
  /** nf_ct_refresh: entry `e` now expires `ms` after `now`. */
  refreshTimeout(e: number, ms: number, now: number): void;
  /** The SIP helper's state of connection `master`. */
  sipMaster(master: number): SipMaster;
  /** nf_ct_helper_log: why the helper is about to drop the packet. */
  helperLog(message: string): void;
  /** nf_conntrack_ftp.c find_nl_seq: does a segment of `dir` starting at `seq` start right after a line end? */
  ftpLineStart(master: number, dir: number, seq: number): boolean;
  /** update_nl_seq: a segment of `dir` ended a line just before `seq`. */
  noteFtpLineEnd(master: number, dir: number, seq: number): void;
}

const FTP_EXPECT_TIMEOUT_MS = 5 * 60 * 1000;

/** Two addresses of `family` as the engine stores them (four words, IPv4 in word 0) are the same. */
export function sameAddr(family: Family, a: Uint32Array, b: Uint32Array): boolean {
  if (a[0] !== b[0]) return false;
  return family === 4 || (a[1] === b[1] && a[2] === b[2] && a[3] === b[3]);
}

const OTHER_SRC = new Uint32Array(4);
const OTHER_DST = new Uint32Array(4);
const OWN_SRC = new Uint32Array(4);
export const NAT_MASK = CtStatus.SRC_NAT | CtStatus.DST_NAT;

const PENDING: PendingExpectation = {
  family: 4,
  proto: 0,
  src: new Uint32Array(4),
  srcAny: false,
  sport: 0,
  dst: new Uint32Array(4),
  dport: 0,
  timeoutMs: 0,
  flags: 0,
  nat: 0,
  format: 0,
  matchAt: 0,
  matchLen: 0,
  forcedDport: 0,
};

/**
 * nf_ct_expect_related, or — when the master is NATed and the node has the NAT half — the NAT hook, which moves
 * the expectation to the translated address and rewrites the announcement (`if (hooks && ct->status &
 * IPS_NAT_MASK)` in nf_conntrack_sip.c / nf_conntrack_ftp.c). Returns a HelperNatResult; an expectation that
 * cannot be added drops the packet ("Can't expect this? Best to drop packet now.").
 */
export function expectOrNat(
  host: HelperHost,
  meta: PacketMeta,
  e: number,
  dir: number,
  src: Uint32Array,
  dst: Uint32Array,
  dport: number,
  proto: number,
  timeoutMs: number,
  flags: number,
  nat: number,
  format: number,
  matchAt: number,
  matchLen: number,
  now: number,
  forcedDport = 0,
): number {
  const family = host.family(e);
  const hooks = host.helperNat;
  if (hooks === null || (host.status(e) & NAT_MASK) === 0) {
    if (host.expect(e, family, proto, src, 0, dst, dport, timeoutMs, now, flags) >= 0) return HelperNatResult.ACCEPT;
    host.helperLog("cannot add expectation");
    return HelperNatResult.HELPER_DROP;
  }
  const p = PENDING;
  p.family = family;
  p.proto = proto;
  p.src.set(src);
  p.srcAny = false;
  p.sport = 0;
  p.dst.set(dst);
  p.dport = dport;
  p.timeoutMs = timeoutMs;
  p.flags = flags;
  p.nat = nat;
  p.format = format;
  p.matchAt = matchAt;
  p.matchLen = matchLen;
  p.forcedDport = forcedDport;
  return hooks.expect(meta, e, dir, p, now);
}

const FTP = new FtpMatch();

/**
 * nf_conntrack_ftp.c help() from the segment's reading on: what was announced is expected from the other end of the
 * control connection — at the announcing side's address unless the announcement names another host, which the
 * kernel (loose=0) does not expect at all ("DMZ machines opening holes to internal networks") — or, on a NATed
 * connection, handed to the NAT half. A segment that begins an announcement it does not complete is dropped.
 * Returns a HelperNatResult, or FTP_PARTIAL after a partial match.
 */
function ftpCommand(
  host: HelperHost,
  meta: PacketMeta,
  e: number,
  dir: number,
  payloadAt: number,
  end: number,
  now: number,
): number {
  const family = host.family(e);
  const found = findFtp(meta.bytes, payloadAt, end - payloadAt, dir === 1, family, OWN_SRC, FTP);
  if (found === 0) return HelperNatResult.ACCEPT;
  if (found < 0) {
    host.helperLog(`partial matching of \`${FTP.pattern}'`);
    return FTP_PARTIAL;
  }
  if (!sameAddr(family, FTP.addr, OWN_SRC)) return HelperNatResult.ACCEPT;
  const format =
    FTP.kind === FtpKind.EPRT
      ? AnnounceFormat.FTP_EPRT
      : FTP.kind === FtpKind.EPSV
        ? AnnounceFormat.FTP_EPSV
        : AnnounceFormat.FTP_PORT;
  return expectOrNat(
    host,
    meta,
    e,
    dir,
    OTHER_SRC,
    OTHER_DST,
    FTP.port,
    Proto.TCP,
    FTP_EXPECT_TIMEOUT_MS,
    0,
    EXPECT_NAT_FOLLOW_MASTER,
    format,
    payloadAt + FTP.matchOff,
    FTP.matchLen,
    now,
  );
}

/** ftpCommand's drop after a partial match: like HELPER_DROP, but the segment's line end is not noted. */
const FTP_PARTIAL = -1;

/**
 * The FTP helper (nf_conntrack_ftp.c help()) on the payload of the packet in `meta` (from byte `payloadAt`,
 * travelling in `dir`) of entry `e`. Returns a HelperNatResult: anything but ACCEPT means the packet must be
 * dropped (NF_DROP).
 */
export function ftpHelp(
  host: HelperHost,
  e: number,
  dir: number,
  meta: PacketMeta,
  payloadAt: number,
  now: number,
): number {
  // The expected connection travels in the other direction: "we refer to the reverse direction tuples here".
  host.src(e, 1 - dir, OTHER_SRC);
  host.dst(e, 1 - dir, OTHER_DST);
  host.src(e, dir, OWN_SRC);
  const end = Math.min(meta.l3 + meta.length, meta.bytes.length);
  // "Until there's been traffic both ways, don't look in packets."
  if (meta.ctState !== CtState.ESTABLISHED) return HelperNatResult.ACCEPT;
  // Only a segment that starts where a line ended in this direction is read (the first one of each direction never
  // is), and a segment ending in \n marks where the next line starts — in the sender's own numbering, whatever the
  // NAT half then does to the segment.
  const seq = meta.seq >>> 0;
  const endsInNl = meta.bytes[end - 1] === NEWLINE;
  const lineEnd = (seq + (end - payloadAt)) >>> 0;
  const r = host.ftpLineStart(e, dir, seq)
    ? ftpCommand(host, meta, e, dir, payloadAt, end, now)
    : HelperNatResult.ACCEPT;
  if (r === FTP_PARTIAL) return HelperNatResult.HELPER_DROP;
  if (endsInNl) host.noteFtpLineEnd(e, dir, lineEnd);
  return r;
}
