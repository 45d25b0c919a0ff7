// The SIP helper's conntrack half (nf_conntrack_sip.c) through a whole router: REGISTER and its answer set up and
// activate the signalling expectation the kernel's way (expiry from the Expires header or the Contact's expires=,
// none given meaning release; the answer read only for the REGISTER last seen), SDP offers and answers expect the
// media, BYE and failed INVITEs flush it, messages without a CSeq are dropped with the kernel's log line, TCP
// messages are framed by Content-Length, and a connection that carried SIP lives sip_timeout. Routers with and
// without NAT; the NAT half's rewrites are helper-nat.test.ts's, and the kernel referees both in
// src/lab/differential/sip-nat.test.ts.
import { describe, expect, it } from "vitest";
import { fc, test } from "@fast-check/vitest";
import type { Datapath } from "../datapath.js";
import type { Ruleset } from "../filter/index.js";
import {
  ACCEPT,
  LAN,
  RecordingSink,
  WAN,
  baseChain,
  int,
  match,
  rule,
  seedRouter,
  seedRuleset,
  badChecksums,
  tcpPacket,
  udpPacket,
} from "../datapath.fixture.js";
import { readU16 } from "../../wire/bytes.js";
import { TcpFlag } from "../packet-meta.js";
import { ExpectFlag } from "./conntrack.js";

const PHONE = "192.168.1.20";
const REGISTRAR = "203.0.113.66";
const WAN_IP = "198.51.100.2";
const SIP = 5060;
const enc = new TextEncoder();
const CRLF = "\r\n";
const S = 1000;

const helpers = (proto: "udp" | "tcp") =>
  baseChain("helpers", 200, "filter", "prerouting", 0, "accept", [
    rule(201, match({ kind: "payload", protocol: proto, field: "dport" }, int(SIP)), {
      kind: "ct-helper-set",
      name: "sip",
    }),
    rule(202, match({ kind: "payload", protocol: proto, field: "sport" }, int(SIP)), {
      kind: "ct-helper-set",
      name: "sip",
    }),
  ]);

/** A router that forwards everything and translates nothing, with the SIP helper on port 5060. */
function plainRouter(proto: "udp" | "tcp" = "udp"): Datapath {
  const ruleset: Ruleset = {
    tables: [
      {
        family: "inet",
        name: "fw",
        origin: { source: "plain.nft", line: 1, column: 1 },
        chains: [helpers(proto), baseChain("forward", 300, "filter", "forward", 0, "accept", [rule(301, ACCEPT)])],
      },
    ],
  };
  return seedRouter(ruleset);
}

/** seed-home (masquerade) with the SIP helper on port 5060. */
const natRouter = (proto: "udp" | "tcp" = "udp"): Datapath => seedRouter(seedRuleset({ chains: [helpers(proto)] }));

/** The phone opens TCP to the registrar through masquerade (which keeps port 40000). */
function connectFrom(dp: Datapath): void {
  const { SYN, ACK } = TcpFlag;
  send(dp, LAN, tcpPacket(PHONE, 40000, REGISTRAR, SIP, { flags: SYN, seq: 100 }), 0);
  send(dp, WAN, tcpPacket(REGISTRAR, SIP, WAN_IP, 40000, { flags: SYN | ACK, seq: 900, ack: 101 }), 0);
  send(dp, LAN, tcpPacket(PHONE, 40000, REGISTRAR, SIP, { flags: ACK, seq: 101, ack: 901 }), 0);
}

const message = (lines: readonly string[], body = ""): string =>
  [...lines, `Content-Length: ${String(body.length)}`, ""].join(CRLF) + CRLF + body;

function register(extra: readonly string[], contact = `<sip:alice@${PHONE}:${String(SIP)}>`): string {
  return message([
    `REGISTER sip:${REGISTRAR} SIP/2.0`,
    `Via: SIP/2.0/UDP ${PHONE}:${String(SIP)};branch=z9hG4bK1`,
    `To: <sip:alice@${REGISTRAR}>`,
    "CSeq: 7 REGISTER",
    `Contact: ${contact}`,
    ...extra,
  ]);
}

function send(dp: Datapath, iif: number, packet: Uint8Array, now: number) {
  const sink = new RecordingSink();
  const d = dp.receive(packet, 0, packet.length, iif, now, sink);
  return { d, out: sink.transmitted.at(0)?.bytes ?? null };
}

const fromPhone = (dp: Datapath, text: string, now: number) =>
  send(dp, LAN, udpPacket(PHONE, SIP, REGISTRAR, SIP, enc.encode(text)), now);
const toPhone = (dp: Datapath, text: string, now: number, to = PHONE) =>
  send(dp, WAN, udpPacket(REGISTRAR, SIP, to, SIP, enc.encode(text)), now);

const answer = (code: string, cseq: number, contact: string) =>
  message([`SIP/2.0 ${code}`, `CSeq: ${String(cseq)} REGISTER`, `Contact: ${contact}`]);

describe("REGISTER and its answer (process_register_request/response)", () => {
  it("registers only with an expiry: none given releases, as expires 0 does", () => {
    for (const extra of [[], ["Expires: 0"]]) {
      const dp = plainRouter();
      expect(fromPhone(dp, register(extra), 0).d.kind).toBe("forwarded");
      expect(dp.conntrack.listExpectations()).toEqual([]);
    }
  });

  it("expects the registrar at the Contact for the policy's 3 minutes, inactive until a 2xx", () => {
    const dp = plainRouter();
    fromPhone(dp, register(["Expires: 3600"]), 0);
    expect(dp.conntrack.listExpectations()).toMatchObject([
      {
        proto: 17,
        src: REGISTRAR,
        sport: 0,
        dst: PHONE,
        dport: SIP,
        flags: ExpectFlag.PERMANENT | ExpectFlag.INACTIVE,
        timeoutAt: 180 * S,
      },
    ]);
    // The Contact's own expires= wins over the header; the 200 OK activates it for what the registrar granted.
    toPhone(dp, answer("200 OK", 7, `<sip:alice@${PHONE}:${String(SIP)}>;expires=600`), 10 * S);
    expect(dp.conntrack.listExpectations()).toMatchObject([{ flags: ExpectFlag.PERMANENT, timeoutAt: 610 * S }]);
  });

  it("reads only the answer to the REGISTER it saw; a failure answer flushes the registration", () => {
    const dp = plainRouter();
    fromPhone(dp, register([], `<sip:alice@${PHONE}:${String(SIP)}>;expires=300`), 0);
    toPhone(dp, answer("200 OK", 6, `<sip:alice@${PHONE}>;expires=300`), S);
    expect(dp.conntrack.listExpectations()[0]?.flags).toBe(ExpectFlag.PERMANENT | ExpectFlag.INACTIVE);
    toPhone(dp, answer("403 Forbidden", 7, `<sip:alice@${PHONE}>`), 2 * S);
    expect(dp.conntrack.listExpectations()).toEqual([]);
  });

  it("does not register a third party's Contact, nor one on another transport", () => {
    for (const contact of [
      "<sip:alice@192.168.1.99:5060>;expires=300",
      `<sip:alice@${PHONE}:5060;transport=tcp>;expires=300`,
    ]) {
      const dp = plainRouter();
      fromPhone(dp, register([], contact), 0);
      expect(dp.conntrack.listExpectations()).toEqual([]);
    }
  });

  it("drops a request without a CSeq, naming the kernel's reason", () => {
    const dp = plainRouter();
    const text = message([`REGISTER sip:${REGISTRAR} SIP/2.0`, `Contact: <sip:alice@${PHONE}>;expires=60`]);
    const r = fromPhone(dp, text, 0);
    expect(r.d).toMatchObject({
      kind: "dropped",
      reason: { kind: "helper", helper: "sip", message: "cannot parse cseq" },
    });
    expect(r.out).toBeNull();
  });

  it("keeps a connection that carried SIP for sip_timeout (3600 s), not UDP's 30 s", () => {
    const dp = plainRouter();
    fromPhone(dp, register(["Expires: 60"]), 5 * S);
    expect(dp.conntrack.list()[0]?.timeoutAt).toBe(3605 * S);
  });
});

const sdp = (addr: string, ports: readonly number[]) =>
  ["v=0", `o=- 1 1 IN IP4 ${addr}`, "s=-", `c=IN IP4 ${addr}`, "t=0 0"]
    .concat(ports.map((p, i) => `m=${i === 1 ? "video" : "audio"} ${String(p)} RTP/AVP 0`))
    .join(CRLF) + CRLF;

function invite(body: string, cseq = 20): string {
  return message(
    [
      `INVITE sip:bob@${REGISTRAR} SIP/2.0`,
      `Via: SIP/2.0/UDP ${PHONE}:${String(SIP)};branch=z9hG4bKi`,
      `CSeq: ${String(cseq)} INVITE`,
      "Content-Type: application/sdp",
    ],
    body,
  );
}

describe("SDP media (process_sdp, set_expected_rtp_rtcp)", () => {
  it("expects RTP on the even port and RTCP on the next for each stream at the sender's address", () => {
    const dp = plainRouter();
    fromPhone(dp, invite(sdp(PHONE, [49171, 51372])), 0);
    const media = dp.conntrack
      .listExpectations()
      .map((x) => `${x.src ?? "*"} > ${x.dst}:${String(x.dport)}`)
      .sort();
    expect(media).toEqual([
      `${REGISTRAR} > ${PHONE}:49170`,
      `${REGISTRAR} > ${PHONE}:49171`,
      `${REGISTRAR} > ${PHONE}:51372`,
      `${REGISTRAR} > ${PHONE}:51373`,
    ]);
  });

  it("expects nothing for media announced at another address (sip_direct_media)", () => {
    const dp = plainRouter();
    fromPhone(dp, invite(sdp("192.168.1.99", [49170])), 0);
    expect(dp.conntrack.listExpectations()).toEqual([]);
  });

  it("BYE, and a failure answer to the INVITE, flush the media expectations", () => {
    const bye = message([`BYE sip:bob@${REGISTRAR} SIP/2.0`, "CSeq: 21 BYE"]);
    const dp = plainRouter();
    fromPhone(dp, invite(sdp(PHONE, [49170])), 0);
    expect(dp.conntrack.listExpectations()).toHaveLength(2);
    fromPhone(dp, bye, S);
    expect(dp.conntrack.listExpectations()).toEqual([]);
    fromPhone(dp, invite(sdp(PHONE, [49170]), 22), 2 * S);
    toPhone(dp, message(["SIP/2.0 486 Busy Here", "CSeq: 22 INVITE"]), 3 * S);
    expect(dp.conntrack.listExpectations()).toEqual([]);
  });

  it("drops a message announcing a port below 1024", () => {
    const dp = plainRouter();
    const r = fromPhone(dp, invite(sdp(PHONE, [80])), 0);
    expect(r.d).toMatchObject({ kind: "dropped", reason: { kind: "helper", message: "wrong port 80" } });
  });
});

describe("SIP over TCP (sip_help_tcp)", () => {
  /** The phone connects to the registrar (through masquerade, the answer goes to `to`, where the SYN left from). */
  function connect(dp: Datapath, to = PHONE): void {
    const { SYN, ACK } = TcpFlag;
    send(dp, LAN, tcpPacket(PHONE, 40000, REGISTRAR, SIP, { flags: SYN, seq: 100 }), 0);
    send(dp, WAN, tcpPacket(REGISTRAR, SIP, to, 40000, { flags: SYN | ACK, seq: 900, ack: 101 }), 0);
    send(dp, LAN, tcpPacket(PHONE, 40000, REGISTRAR, SIP, { flags: ACK, seq: 101, ack: 901 }), 0);
  }
  const segment = (text: string) =>
    tcpPacket(PHONE, 40000, REGISTRAR, SIP, {
      flags: TcpFlag.ACK | TcpFlag.PSH,
      seq: 101,
      ack: 901,
      payload: enc.encode(text),
    });
  const tcpRegister = register([], `<sip:alice@${PHONE}:40000;transport=tcp>;expires=300`);

  it("reads a message only once it is framed by Content-Length", () => {
    const dp = plainRouter("tcp");
    connect(dp);
    send(dp, LAN, segment(tcpRegister.replace(`Content-Length: 0${CRLF}`, "")), S);
    expect(dp.conntrack.listExpectations()).toEqual([]);
    const again = plainRouter("tcp");
    connect(again);
    send(again, LAN, segment(tcpRegister), S);
    expect(again.conntrack.listExpectations()).toMatchObject([{ proto: 6, dst: PHONE, dport: 40000 }]);
  });

  it("on a NATed connection every message of the segment is rewritten", () => {
    const dp = natRouter("tcp");
    connect(dp, WAN_IP);
    const tcpVia = tcpRegister.replace("SIP/2.0/UDP", "SIP/2.0/TCP").replace(`${PHONE}:5060`, `${PHONE}:40000`);
    const out = send(dp, LAN, segment(tcpVia + tcpVia.replace("CSeq: 7", "CSeq: 8")), S).out!;
    const text = new TextDecoder("latin1").decode(out.subarray(40));
    expect(text.split(`<sip:alice@${WAN_IP}:40000;transport=tcp>`)).toHaveLength(3);
    expect(text.split(`Via: SIP/2.0/TCP ${WAN_IP}:40000;`)).toHaveLength(3);
    expect(text).not.toContain(PHONE);
  });
});

describe("robustness", () => {
  // Valid messages of every kind the helper handles, then cut, spliced and corrupted at random.
  const seeds = [
    register(["Expires: 60"]),
    answer("200 OK", 7, `<sip:alice@${PHONE}:${String(SIP)}>;expires=60`),
    invite(sdp(PHONE, [49170, 49172])),
    message(["SIP/2.0 180 Ringing", "CSeq: 20 INVITE"], sdp(REGISTRAR, [40000])),
    message([`BYE sip:bob@${REGISTRAR} SIP/2.0`, "CSeq: 21 BYE"]),
  ];
  const mutated = fc
    .tuple(
      fc.constantFrom(...seeds),
      fc.array(fc.tuple(fc.nat(600), fc.nat(40), fc.string({ maxLength: 12 })), { maxLength: 4 }),
    )
    .map(([text, edits]) => {
      let t = text;
      for (const [at, cut, insert] of edits) {
        const i = at % (t.length + 1);
        t = t.slice(0, i) + insert + t.slice(i + cut);
      }
      return t;
    });

  test.prop([fc.array(fc.tuple(fc.boolean(), mutated), { minLength: 1, maxLength: 6 }), fc.boolean()])(
    "mangled SIP through a NATing router never throws, and whatever leaves has valid lengths and checksums",
    (messages, tcp) => {
      const dp = natRouter(tcp ? "tcp" : "udp");
      const natPort = 40000;
      let seqOut = 101;
      let seqIn = 901;
      if (tcp) connectFrom(dp);
      messages.forEach(([out, text], k) => {
        const payload = enc.encode(text);
        const packet = tcp
          ? out
            ? tcpPacket(PHONE, 40000, REGISTRAR, SIP, {
                flags: TcpFlag.ACK | TcpFlag.PSH,
                seq: seqOut,
                ack: seqIn,
                payload,
              })
            : tcpPacket(REGISTRAR, SIP, WAN_IP, natPort, {
                flags: TcpFlag.ACK | TcpFlag.PSH,
                seq: seqIn,
                ack: seqOut,
                payload,
              })
          : out
            ? udpPacket(PHONE, SIP, REGISTRAR, SIP, payload)
            : udpPacket(REGISTRAR, SIP, WAN_IP, SIP, payload);
        if (out) seqOut += payload.length;
        else seqIn += payload.length;
        const sink = new RecordingSink();
        dp.receive(packet, 0, packet.length, out ? LAN : WAN, k * S, sink);
        for (const t of sink.transmitted) {
          const b = t.bytes;
          expect(readU16(b, 2)).toBe(b.length);
          expect(badChecksums(b)).toEqual([]);
        }
      });
    },
  );
});
