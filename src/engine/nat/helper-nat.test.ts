// The helpers' NAT half through a whole masquerading router (seed-home's ruleset plus `ct helper set`): an outbound
// SIP REGISTER publishes the LAN Contact on the WAN address, and the registrar side's SYN to it is RELATED, DNATed
// to the LAN host and accepted by `ct state related accept` (nf_nat_sip.c); FTP PORT likewise (nf_nat_ftp.c).
import { describe, expect, it } from "vitest";
import { fc, test } from "@fast-check/vitest";
import type { Datapath } from "../datapath.js";
import type { Expr, Rule } from "../filter/index.js";
import {
  DROP,
  LAN,
  RecordingSink,
  WAN,
  baseChain,
  ctState,
  int,
  match,
  rule,
  seedRouter,
  seedRuleset,
  str,
  badChecksums,
  tcpPacket,
  udpPacket,
  words,
} from "../datapath.fixture.js";
import { CtStatus, TcpFlag } from "../packet-meta.js";
import { PacketMeta } from "../packet-meta.js";
import { fillPacketMeta } from "../packet-parse.js";
import { ExpectNat } from "../conntrack/index.js";
import { AnnounceFormat } from "../conntrack/index.js";
import { internetChecksum, pseudoHeaderSumV4, sumWords, foldSum } from "../../wire/checksum.js";
import { readU16, readU32 } from "../../wire/bytes.js";
import { formatAnnouncement, manglePayload } from "./helper-nat.js";

const U = "192.168.1.10";
const WAN_IP = "198.51.100.2";
const REGISTRAR = "203.0.113.66";
const { SYN, ACK, PSH } = TcpFlag;
const enc = new TextEncoder();
const dec = new TextDecoder("latin1");
const IP_HEADER = 20;

/** seed-home plus a prerouting chain assigning `helper` to TCP port `port` (SEMANTICS §2.11: explicit only). */
function router(helper: "sip" | "ftp" | null, port: number): Datapath {
  const chains =
    helper === null
      ? []
      : [
          baseChain("helpers", 200, "filter", "prerouting", 0, "accept", [
            rule(201, match({ kind: "payload", protocol: "tcp", field: "dport" }, int(port)), {
              kind: "ct-helper-set",
              name: helper,
            }),
          ]),
        ];
  return seedRouter(seedRuleset({ chains }));
}

function send(dp: Datapath, iif: number, bytes: Uint8Array, now: number) {
  const sink = new RecordingSink();
  const d = dp.receive(bytes, 0, bytes.length, iif, now, sink);
  return { d, out: sink.transmitted.at(0)?.bytes ?? null };
}

/** TCP payload of an IPv4 packet as text. */
function payloadOf(b: Uint8Array): string {
  const l4 = (b[0] & 0xf) * 4;
  return dec.decode(b.subarray(l4 + (b[l4 + 12] >> 4) * 4));
}

function tcpChecksumOk(b: Uint8Array): boolean {
  const l4 = (b[0] & 0xf) * 4;
  const len = readU16(b, 2) - l4;
  return foldSum(sumWords(b, l4, len, pseudoHeaderSumV4(readU32(b, 12), readU32(b, 16), 6, len))) === 0xffff;
}

/** `client` (U) opens TCP to `server`:`port` through the router; returns the masqueraded source port. */
function handshake(dp: Datapath, server: string, port: number, client = U): number {
  const syn = send(dp, LAN, tcpPacket(client, 40000, server, port, { flags: SYN, seq: 100 }), 0);
  expect(syn.d.kind).toBe("forwarded");
  const natPort = readU16(syn.out!, IP_HEADER);
  expect(
    send(dp, WAN, tcpPacket(server, port, WAN_IP, natPort, { flags: SYN | ACK, seq: 900, ack: 101 }), 1).d.kind,
  ).toBe("forwarded");
  send(dp, LAN, tcpPacket(client, 40000, server, port, { flags: ACK, seq: 101, ack: 901 }), 2);
  return natPort;
}

/** Where the next line of each side starts after `ftpSession`'s greeting and USER line. */
const FTP_CLIENT_LINE = 101 + "USER anonymous\r\n".length;
const FTP_SERVER_LINE = 901 + "220 ready\r\n".length;

/**
 * `client` opens an FTP control connection to `server`:21 and the two exchange their first lines (the helper parses
 * only segments that start where a line of the same direction ended: never the first); returns the NAT port.
 */
function ftpSession(dp: Datapath, server: string, client = U): number {
  const natPort = handshake(dp, server, 21, client);
  send(
    dp,
    WAN,
    tcpPacket(server, 21, WAN_IP, natPort, {
      flags: ACK | PSH,
      seq: 901,
      ack: 101,
      payload: enc.encode("220 ready\r\n"),
    }),
    2,
  );
  send(
    dp,
    LAN,
    tcpPacket(client, 40000, server, 21, {
      flags: ACK | PSH,
      seq: 101,
      ack: FTP_SERVER_LINE,
      payload: enc.encode("USER anonymous\r\n"),
    }),
    2,
  );
  return natPort;
}

/** A line of the FTP client `client` to the server at `seq` (default: where the next line starts), ACKing the
 *  server's greeting. */
function clientLine(dp: Datapath, client: string, text: string, now: number, seq = FTP_CLIENT_LINE) {
  return send(
    dp,
    LAN,
    tcpPacket(client, 40000, REGISTRAR, 21, { flags: ACK | PSH, seq, ack: FTP_SERVER_LINE, payload: enc.encode(text) }),
    now,
  );
}

const REGISTER =
  `REGISTER sip:${REGISTRAR};transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP ${U}:3389\r\nCSeq: 1 REGISTER\r\n` +
  `Contact: <sip:u@${U}:3389;transport=tcp>;expires=3600\r\nContent-Length: 0\r\n\r\n`;

function sipThroughRouter(helper: boolean) {
  const dp = router(helper ? "sip" : null, 5060);
  const natPort = handshake(dp, REGISTRAR, 5060);
  const reg = send(
    dp,
    LAN,
    tcpPacket(U, 40000, REGISTRAR, 5060, { flags: ACK | PSH, seq: 101, ack: 901, payload: enc.encode(REGISTER) }),
    3,
  );
  const sent = reg.out!;
  const ok = enc.encode(
    `SIP/2.0 200 OK\r\nCSeq: 1 REGISTER\r\nContact: ${/Contact: ([^\r]*)/.exec(payloadOf(sent))![1]}\r\nContent-Length: 0\r\n\r\n`,
  );
  send(
    dp,
    WAN,
    tcpPacket(REGISTRAR, 5060, WAN_IP, natPort, {
      flags: ACK | PSH,
      seq: 901,
      ack: 101 + REGISTER.length,
      payload: ok,
    }),
    4,
  );
  return { dp, sent };
}

describe("SIP REGISTER through a masquerading router (nf_nat_sip)", () => {
  it("publishes the Contact on the WAN address, bytes exact, and expects the registrar there", () => {
    const { dp, sent } = sipThroughRouter(true);
    expect(payloadOf(sent)).toBe(REGISTER.replace(`<sip:u@${U}:3389`, `<sip:u@${WAN_IP}:3389`));
    expect(sent.length).toBe(IP_HEADER + 20 + REGISTER.length);
    expect(tcpChecksumOk(sent)).toBe(true);
    expect(internetChecksum(sent, 0, IP_HEADER)).toBe(0);
    expect(dp.conntrack.listExpectations()).toMatchObject([
      { src: REGISTRAR, sport: 0, dst: WAN_IP, dport: 3389, nat: ExpectNat.SIP_EXPECTED, saved: U, savedPort: 3389 },
    ]);
    // The 200 OK (Contact on the WAN address) activated it.
    expect(dp.conntrack.listExpectations()[0].flags & 2).toBe(0);
  });

  it("an inbound SYN to WAN:3389 is RELATED, DNATed to U:3389 and forwarded by `ct state related accept`", () => {
    const { dp } = sipThroughRouter(true);
    const events: string[] = [];
    dp.trace = (e) => {
      if (e.kind === "conntrack") events.push(e.state);
    };
    const r = send(dp, WAN, tcpPacket(REGISTRAR, 61000, WAN_IP, 3389, { flags: SYN, seq: 5 }), 5);
    expect(r.d).toEqual({ kind: "forwarded", oif: LAN });
    expect(events).toEqual(["related"]);
    const out = r.out!;
    expect(readU32(out, 16)).toBe(words(U)[0]);
    expect(readU16(out, IP_HEADER + 2)).toBe(3389);
    expect(readU32(out, 12)).toBe(words(REGISTRAR)[0]);
    expect(tcpChecksumOk(out)).toBe(true);
    // U's SYN/ACK goes back out translated to WAN:3389.
    const back = send(dp, LAN, tcpPacket(U, 3389, REGISTRAR, 61000, { flags: SYN | ACK, seq: 77, ack: 6 }), 6);
    expect(back.d).toEqual({ kind: "forwarded", oif: WAN });
    expect(readU32(back.out!, 12)).toBe(words(WAN_IP)[0]);
    expect(readU16(back.out!, IP_HEADER)).toBe(3389);
  });

  it("without the helper the Contact leaves unchanged and the SYN to WAN:3389 is dropped", () => {
    const { dp, sent } = sipThroughRouter(false);
    expect(payloadOf(sent)).toBe(REGISTER);
    expect(dp.conntrack.listExpectations()).toEqual([]);
    const r = send(dp, WAN, tcpPacket(REGISTRAR, 61000, WAN_IP, 3389, { flags: SYN }), 5);
    expect(r.d.kind).toBe("dropped");
    expect(r.out).toBeNull();
  });

  /** The REGISTER's expectation on WAN:3389 is already held by another master (entry 9999) for `src`. */
  function registerAgainst(src: string | null) {
    const dp = router("sip", 5060);
    handshake(dp, REGISTRAR, 5060);
    dp.conntrack.expect(9999, 4, 6, src === null ? null : words(src), 0, words(WAN_IP), 3389, 60_000, 3);
    const reg = send(
      dp,
      LAN,
      tcpPacket(U, 40000, REGISTRAR, 5060, { flags: ACK | PSH, seq: 101, ack: 901, payload: enc.encode(REGISTER) }),
      3,
    );
    return { dp, reg };
  }

  it("drops the REGISTER when another master already expects the same (NF_CT_EXP_F_SKIP_MASTER: -EALREADY)", () => {
    const { dp, reg } = registerAgainst(REGISTRAR);
    expect(reg.d).toMatchObject({ kind: "dropped", reason: { kind: "nat", reason: "helper-no-port" } });
    expect(dp.conntrack.listExpectations().map((x) => x.master)).toEqual([9999]);
  });

  it("moves to the next port when another master's expectation would also match (any source: -EBUSY)", () => {
    const { dp, reg } = registerAgainst(null);
    expect(payloadOf(reg.out!)).toContain(`<sip:u@${WAN_IP}:3390;transport=tcp>`);
    expect(
      dp.conntrack
        .listExpectations()
        .map((x) => x.dport)
        .sort(),
    ).toEqual([3389, 3390]);
  });
});

/** seed-home with the SIP helper on UDP port 5060, both ways. */
function udpSipRouter(): Datapath {
  const chains = [
    baseChain("helpers", 200, "filter", "prerouting", 0, "accept", [
      rule(201, match({ kind: "payload", protocol: "udp", field: "dport" }, int(5060)), {
        kind: "ct-helper-set",
        name: "sip",
      }),
    ]),
  ];
  return seedRouter(seedRuleset({ chains }));
}

const udpPayloadOf = (b: Uint8Array): string => dec.decode(b.subarray(IP_HEADER + 8));

function udpChecksumOk(b: Uint8Array): boolean {
  const len = readU16(b, 2) - IP_HEADER;
  return foldSum(sumWords(b, IP_HEADER, len, pseudoHeaderSumV4(readU32(b, 12), readU32(b, 16), 17, len))) === 0xffff;
}

describe("SIP messages through a masquerading router (nf_nat_sip)", () => {
  const lines = (from: string, port: number) =>
    [
      `REGISTER sip:${REGISTRAR} SIP/2.0`,
      `Via: SIP/2.0/UDP ${from}:5060;branch=z9hG4bK1;rport`,
      `From: <sip:alice@${from}>;tag=1`,
      `To: <sip:alice@${REGISTRAR}>`,
      "CSeq: 1 REGISTER",
      `Contact: <sip:alice@${from}:5060>, <sip:alice@${from}:5062>;expires=60`,
      "Content-Length: 0",
      "",
      "",
    ]
      .join("\r\n")
      .replace(`${from}:5060;branch`, `${from}:${String(port)};branch`);

  it("rewrites the sender's Via, From and every Contact naming its source port, and nothing else", () => {
    const dp = udpSipRouter();
    const r = send(dp, LAN, udpPacket(U, 5060, REGISTRAR, 5060, enc.encode(lines(U, 5060))), 0);
    // From names no port, so the default 5060 — the source port — and it gains the mapped one. The second Contact
    // names another port: it is not this connection's and stays.
    expect(udpPayloadOf(r.out!)).toBe(
      lines(WAN_IP, 5060)
        .replace(`From: <sip:alice@${WAN_IP}>`, `From: <sip:alice@${WAN_IP}:5060>`)
        .replace(`${WAN_IP}:5062`, `${U}:5062`),
    );
    expect(udpChecksumOk(r.out!)).toBe(true);
    expect(internetChecksum(r.out!, 0, IP_HEADER)).toBe(0);
  });

  it("sends the answers to a phone that sends from another port to the port its Via names", () => {
    const dp = udpSipRouter();
    send(dp, LAN, udpPacket(U, 5062, REGISTRAR, 5060, enc.encode(lines(U, 5060))), 0);
    const ok = ["SIP/2.0 200 OK", `Via: SIP/2.0/UDP ${WAN_IP}:5062;received=${WAN_IP}`, "CSeq: 1 REGISTER", "", ""];
    const r = send(dp, WAN, udpPacket(REGISTRAR, 5060, WAN_IP, 5062, enc.encode(ok.join("\r\n"))), 1);
    expect(r.d).toEqual({ kind: "forwarded", oif: LAN });
    expect(readU16(r.out!, IP_HEADER + 2)).toBe(5060);
    expect(udpPayloadOf(r.out!)).toContain(`Via: SIP/2.0/UDP ${U}:5060;received=${U}\r\n`);
    expect(udpChecksumOk(r.out!)).toBe(true);
  });
});

describe("SDP through a masquerading router (nf_nat_sdp_*)", () => {
  const PHONE = "192.168.1.5";
  const body = [
    "v=0",
    `o=- 1 1 IN IP4 ${PHONE}`,
    "s=-",
    `c=IN IP4 ${PHONE}`,
    "t=0 0",
    "m=audio 49170 RTP/AVP 0",
    "",
  ].join("\r\n");
  const invite = [
    `INVITE sip:bob@${REGISTRAR} SIP/2.0`,
    `Via: SIP/2.0/UDP ${PHONE}:5060;branch=z9hG4bK1`,
    "CSeq: 1 INVITE",
    "Content-Type: application/sdp",
    `Content-Length: ${String(body.length)}`,
    "",
    body,
  ].join("\r\n");

  it("moves the session and the media expectation to the WAN address and fixes Content-Length", () => {
    const dp = udpSipRouter();
    const r = send(dp, LAN, udpPacket(PHONE, 5060, REGISTRAR, 5060, enc.encode(invite)), 0);
    const text = udpPayloadOf(r.out!);
    const sdp = body.replaceAll(PHONE, WAN_IP);
    expect(text.endsWith(`Content-Length: ${String(sdp.length)}\r\n\r\n${sdp}`)).toBe(true);
    expect(udpChecksumOk(r.out!)).toBe(true);
    expect(dp.conntrack.listExpectations().map((x) => `${x.dst}:${String(x.dport)} <- ${x.saved ?? ""}`)).toEqual([
      `${WAN_IP}:49170 <- ${PHONE}`,
      `${WAN_IP}:49171 <- ${PHONE}`,
    ]);
    // The callee's RTP to the WAN address is RELATED and reaches the phone.
    const rtp = send(dp, WAN, udpPacket(REGISTRAR, 40000, WAN_IP, 49170), 1);
    expect(rtp.d).toEqual({ kind: "forwarded", oif: LAN });
    expect(readU32(rtp.out!, 16)).toBe(words(PHONE)[0]);
    expect(readU16(rtp.out!, IP_HEADER + 2)).toBe(49170);
  });

  it("drops an offer whose media port another call already expects, as Linux does (-EALREADY)", () => {
    const dp = udpSipRouter();
    send(dp, LAN, udpPacket(PHONE, 5060, REGISTRAR, 5060, enc.encode(invite)), 0);
    const second = invite.replaceAll(PHONE, "192.168.1.6");
    const r = send(dp, LAN, udpPacket("192.168.1.6", 5060, REGISTRAR, 5060, enc.encode(second)), 1);
    expect(r.d).toMatchObject({
      kind: "dropped",
      reason: { kind: "helper", helper: "sip", message: "cannot add expectation for voice" },
    });
  });
});

describe("FTP PORT through a masquerading router (nf_nat_ftp)", () => {
  it("rewrites PORT to the WAN address and DNATs the server's data connection to the client", () => {
    const dp = router("ftp", 21);
    ftpSession(dp, REGISTRAR);
    const cmd = "PORT 192,168,1,10,4,1\r\n";
    const r = clientLine(dp, U, cmd, 3);
    expect(payloadOf(r.out!)).toBe("PORT 198,51,100,2,4,1\r\n");
    expect(tcpChecksumOk(r.out!)).toBe(true);
    const data = send(dp, WAN, tcpPacket(REGISTRAR, 20, WAN_IP, 1025, { flags: SYN }), 4);
    expect(data.d).toEqual({ kind: "forwarded", oif: LAN });
    expect(readU32(data.out!, 16)).toBe(words(U)[0]);
    expect(readU16(data.out!, IP_HEADER + 2)).toBe(1025);
  });

  // A client whose address is written one character shorter than the WAN address ("192,168,1,5" / "198,51,100,2").
  const C = "192.168.1.5";
  const SHORT_PORT = "PORT 192,168,1,5,4,1\r\n";

  it("rewrites a PORT of another length and shifts the connection's later sequence numbers both ways (seqadj)", () => {
    const dp = router("ftp", 21);
    const natPort = ftpSession(dp, REGISTRAR, C);
    const r = clientLine(dp, C, SHORT_PORT, 3);
    expect(r.d).toEqual({ kind: "forwarded", oif: WAN });
    const out = r.out!;
    expect(payloadOf(out)).toBe("PORT 198,51,100,2,4,1\r\n");
    expect(readU16(out, 2)).toBe(IP_HEADER + 20 + SHORT_PORT.length + 1);
    expect(internetChecksum(out, 0, IP_HEADER)).toBe(0);
    expect(tcpChecksumOk(out)).toBe(true);
    // The rewritten segment keeps its sequence number; the connection now carries IPS_SEQ_ADJUST.
    expect(readU32(out, IP_HEADER + 4)).toBe(FTP_CLIENT_LINE);
    const e = dp.conntrack.list().find((v) => v.original.dport === 21)!;
    expect(e.status & CtStatus.SEQ_ADJUST).toBe(CtStatus.SEQ_ADJUST);
    // The server acknowledges what it received (one byte more); the client is told what it sent.
    const end = FTP_CLIENT_LINE + SHORT_PORT.length;
    const ack = send(
      dp,
      WAN,
      tcpPacket(REGISTRAR, 21, WAN_IP, natPort, { flags: ACK, seq: FTP_SERVER_LINE, ack: end + 1 }),
      4,
    );
    expect(ack.d).toEqual({ kind: "forwarded", oif: LAN });
    expect(readU32(ack.out!, IP_HEADER + 8)).toBe(end);
    expect(tcpChecksumOk(ack.out!)).toBe(true);
    // The client's next segment, in its own numbering, reaches the server one byte later in the server's.
    const noop = clientLine(dp, C, "NOOP\r\n", 5, end);
    expect(noop.d).toEqual({ kind: "forwarded", oif: WAN });
    expect(readU32(noop.out!, IP_HEADER + 4)).toBe(end + 1);
    expect(tcpChecksumOk(noop.out!)).toBe(true);
    // conntrack followed (nothing out of window), and the server's data connection reaches the client.
    expect(dp.conntrack.list().find((v) => v.original.dport === 21)?.state).toBe("ESTABLISHED");
    const data = send(dp, WAN, tcpPacket(REGISTRAR, 20, WAN_IP, 1025, { flags: SYN }), 6);
    expect(data.d).toEqual({ kind: "forwarded", oif: LAN });
    expect(readU32(data.out!, 16)).toBe(words(C)[0]);
  });

  it("conntrack checks the server's acknowledgement in the client's numbering: one byte past it is INVALID", () => {
    const dp = router("ftp", 21);
    const natPort = ftpSession(dp, REGISTRAR, C);
    clientLine(dp, C, SHORT_PORT, 3);
    const end = FTP_CLIENT_LINE + SHORT_PORT.length;
    // An ack past what the server was sent (end + 2 in its numbering, end + 1 in the client's) is past td_end.
    const events: string[] = [];
    dp.trace = (ev) => {
      if (ev.kind === "conntrack") events.push(ev.state);
    };
    send(dp, WAN, tcpPacket(REGISTRAR, 21, WAN_IP, natPort, { flags: ACK, seq: FTP_SERVER_LINE, ack: end + 2 }), 4);
    expect(events).toEqual(["invalid"]);
  });

  it("a retransmission of the rewritten segment is rewritten again without shifting twice", () => {
    const dp = router("ftp", 21);
    const natPort = ftpSession(dp, REGISTRAR, C);
    for (let i = 0; i < 2; i++) {
      const r = clientLine(dp, C, SHORT_PORT, 3);
      expect(readU32(r.out!, IP_HEADER + 4)).toBe(FTP_CLIENT_LINE);
      expect(payloadOf(r.out!)).toBe("PORT 198,51,100,2,4,1\r\n");
    }
    const end = FTP_CLIENT_LINE + SHORT_PORT.length;
    const ack = send(
      dp,
      WAN,
      tcpPacket(REGISTRAR, 21, WAN_IP, natPort, { flags: ACK, seq: FTP_SERVER_LINE, ack: end + 1 }),
      4,
    );
    expect(readU32(ack.out!, IP_HEADER + 8)).toBe(end);
  });
});

describe("ct helper objects (nft_ct_helper_obj_eval)", () => {
  /**
   * seed-home with a `ct helper ftp-standard` object of `protocol`, set on port 21 by a rule that also needs `when`
   * and is followed by the rules `after`.
   */
  function objectRouter(protocol: "tcp" | "udp", when: Expr[] = [], after: Rule[] = []): Datapath {
    const base = seedRuleset({
      chains: [
        baseChain("helpers", 200, "filter", "prerouting", 0, "accept", [
          rule(201, ...when, match({ kind: "payload", protocol: "tcp", field: "dport" }, int(21)), {
            kind: "ct-helper-set",
            name: "ftp-standard",
          }),
          ...after,
        ]),
      ],
    });
    const table = {
      ...base.tables[0],
      ctHelpers: [{ name: "ftp-standard", origin: base.tables[0].origin, type: "ftp", protocol }],
    };
    return seedRouter({ tables: [table] });
  }

  function portThrough(dp: Datapath): string {
    ftpSession(dp, REGISTRAR);
    return payloadOf(clientLine(dp, U, "PORT 192,168,1,10,4,1\r\n", 3).out!);
  }

  it("attaches the object's type, whatever the object is called", () => {
    const dp = objectRouter("tcp");
    expect(portThrough(dp)).toBe("PORT 198,51,100,2,4,1\r\n");
    expect(dp.conntrack.listExpectations()).toHaveLength(1);
  });

  it("attaches nothing to a connection of another protocol", () => {
    const dp = objectRouter("udp");
    expect(portThrough(dp)).toBe("PORT 192,168,1,10,4,1\r\n");
    expect(dp.conntrack.listExpectations()).toEqual([]);
  });

  it("a later rule's `ct helper` match sees the object's type only where it attached", () => {
    const dropFtp = rule(202, match({ kind: "ct", key: "helper" }, str("ftp")), DROP);
    for (const [protocol, outcome] of [
      ["tcp", "dropped"],
      ["udp", "forwarded"],
    ] as const) {
      const dp = objectRouter(protocol, [], [dropFtp]);
      expect(send(dp, LAN, tcpPacket(U, 40000, REGISTRAR, 21, { flags: SYN, seq: 100 }), 0).d.kind).toBe(outcome);
    }
  });

  it("attaches only while the connection is new: a rule matching established packets attaches nothing", () => {
    const dp = objectRouter("tcp", [ctState("established")]);
    expect(portThrough(dp)).toBe("PORT 192,168,1,10,4,1\r\n");
    expect(dp.conntrack.listExpectations()).toEqual([]);
  });
});

describe("formatAnnouncement", () => {
  it("writes each announcement the way its protocol does", () => {
    const a = words(WAN_IP);
    expect(formatAnnouncement(AnnounceFormat.SIP_ADDR_PORT, 4, a, 3389)).toBe("198.51.100.2:3389");
    expect(formatAnnouncement(AnnounceFormat.SIP_ADDR_PORT, 6, words("2001:db8::5"), 5070)).toBe("[2001:db8::5]:5070");
    expect(formatAnnouncement(AnnounceFormat.FTP_PORT, 4, a, 1025)).toBe("198,51,100,2,4,1");
    expect(formatAnnouncement(AnnounceFormat.FTP_EPRT, 4, a, 6275)).toBe("|1|198.51.100.2|6275|");
    expect(formatAnnouncement(AnnounceFormat.FTP_EPSV, 4, a, 6446)).toBe("|||6446|");
  });
});

describe("manglePayload", () => {
  test.prop([
    fc.string({ minLength: 0, maxLength: 40 }),
    fc.nat({ max: 200 }),
    fc.nat({ max: 30 }),
    fc.constantFrom("tcp", "udp", "udp-no-checksum"),
  ])(
    "any replacement length: the payload, the IP and UDP lengths and every checksum come out right",
    (text, pad, oldLen, kind) => {
      const ascii = text.replace(/[^\x20-\x7e]/g, "?");
      const body = "x".repeat(pad) + "A".repeat(oldLen) + "\r\n";
      const payload = enc.encode(body);
      const bytes =
        kind === "tcp"
          ? tcpPacket(U, 40000, REGISTRAR, 5060, { flags: ACK, payload })
          : udpPacket(U, 5060, REGISTRAR, 5060, payload, kind === "udp-no-checksum");
      const meta = new PacketMeta();
      expect(fillPacketMeta(bytes, 0, bytes.length, meta)).toBeNull();
      const headers = kind === "tcp" ? IP_HEADER + 20 : IP_HEADER + 8;
      const delta = manglePayload(meta, headers + pad, oldLen, ascii);
      expect(delta).toBe(ascii.length - oldLen);
      const out = meta.bytes.slice(meta.l3, meta.l3 + meta.length);
      expect(out.length).toBe(bytes.length + ascii.length - oldLen);
      expect(dec.decode(out.subarray(headers))).toBe("x".repeat(pad) + ascii + "\r\n");
      expect(readU16(out, 2)).toBe(out.length);
      expect(badChecksums(out)).toEqual([]);
      if (kind !== "tcp") expect(readU16(out, IP_HEADER + 4)).toBe(out.length - IP_HEADER);
      if (kind === "udp-no-checksum") expect(readU16(out, IP_HEADER + 6)).toBe(0);
      // A grown packet is a new array; a shrunk or equal one stays where it was.
      expect(meta.bytes === bytes).toBe(ascii.length <= oldLen);
    },
  );

  it("refuses a span outside the payload and a packet that would outgrow 65,535 bytes", () => {
    const bytes = tcpPacket(U, 40000, REGISTRAR, 5060, { flags: ACK, payload: enc.encode("hello") });
    const meta = new PacketMeta();
    expect(fillPacketMeta(bytes, 0, bytes.length, meta)).toBeNull();
    expect(manglePayload(meta, IP_HEADER + 10, 2, "xy")).toBeNull();
    expect(manglePayload(meta, IP_HEADER + 20 + 3, 5, "xy")).toBeNull();
    expect(manglePayload(meta, IP_HEADER + 20, 1, "y".repeat(0x10000))).toBeNull();
    expect(meta.bytes).toBe(bytes);
  });
});
