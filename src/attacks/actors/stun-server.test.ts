import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import type { UdpDatagram } from "../../sim/index.js";
import { fromHex, hex } from "../../wire/bytes.js";
import * as stun from "../../wire/stun.js";
import { StunServer } from "./stun-server.js";

/** A socket table that only records what the server binds and sends. */
function fakeStack() {
  const sent: { dst: number; dport: number; sport: number; payload: Uint8Array }[] = [];
  let bound = -1;
  return {
    sent,
    get bound() {
      return bound;
    },
    bindUdp(port: number) {
      bound = port;
    },
    sendUdp(_family: 4 | 6, dst: Uint32Array, dport: number, sport: number, payload: Uint8Array) {
      sent.push({ dst: dst[0], dport, sport, payload });
      return true;
    },
  };
}

const datagram = (src: number, sport: number, payload: Uint8Array): UdpDatagram => ({
  family: 4,
  src: Uint32Array.of(src, 0, 0, 0),
  sport,
  dst: Uint32Array.of(0xcb007142, 0, 0, 0),
  dport: 3478,
  payload,
});

// RFC 5769 §2.1's sample request header and transaction ID, with no attributes.
const REQUEST = fromHex("000100002112a442b7e7a701bc34d686fa87dfae");
const TXID = fromHex("b7e7a701bc34d686fa87dfae");

describe("StunServer", () => {
  it("binds port 3478 and answers a Binding request with the source in XOR-MAPPED-ADDRESS (RFC 8489 §14.2)", () => {
    const stack = fakeStack();
    const server = new StunServer(stack, () => 12);
    expect(stack.bound).toBe(3478);
    // 198.51.100.2:41641, the router's WAN mapping.
    const answer = server.handle(datagram(0xc6336402, 41641, REQUEST));
    // Success 0x0101, length 12, the same transaction ID; XOR-MAPPED-ADDRESS (0x0020, 8 bytes, family 1): port
    // 0xa2a9 ^ 0x2112 = 0x83bb, address c6.33.64.02 ^ 21.12.a4.42 = e7.21.c0.40.
    expect(hex(answer!)).toBe("0101000c2112a442b7e7a701bc34d686fa87dfae002000080001" + "83bb" + "e721c040");
    expect(server.bindings).toEqual([
      { from: "198.51.100.2", sport: 41641, mapped: { family: 4, port: 41641, address: 0xc6336402 }, at: 12 },
    ]);
    expect(server.other).toEqual([]);
  });

  it("ignores STUN responses and indications, and keeps non-STUN datagrams for the attack", () => {
    const server = new StunServer(fakeStack(), () => 0);
    const indication = stun.emit({ class: stun.StunClass.INDICATION, method: 1, transactionId: TXID, attributes: [] });
    expect(server.handle(datagram(1, 2, indication))).toBeNull();
    const text = new TextEncoder().encode("candidate srflx 198.51.100.2:41641\n");
    expect(server.handle(datagram(0xc6336402, 41641, text))).toBeNull();
    expect(server.bindings).toEqual([]);
    expect(server.other.map((d) => [d.from, d.sport, new TextDecoder().decode(d.payload)])).toEqual([
      ["198.51.100.2", 41641, "candidate srflx 198.51.100.2:41641\n"],
    ]);
  });

  it("sends from its own port", () => {
    const stack = fakeStack();
    const server = new StunServer(stack, () => 0);
    server.send(Uint32Array.of(0xc6336402, 0, 0, 0), 41641, Uint8Array.of(1));
    expect(stack.sent).toEqual([{ dst: 0xc6336402, dport: 41641, sport: 3478, payload: Uint8Array.of(1) }]);
  });

  test.prop([
    fc.integer({ min: 0, max: 0xffffffff }),
    fc.integer({ min: 1, max: 65535 }),
    fc.uint8Array({ minLength: 12, maxLength: 12 }),
  ])("every Binding request's answer parses back to the request's source and transaction ID", (src, sport, txid) => {
    const server = new StunServer(fakeStack(), () => 0);
    const answer = server.handle(datagram(src, sport, stun.emit(stun.bindingRequest(txid))));
    const parsed = stun.parse(answer!);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value.class).toBe(stun.StunClass.SUCCESS);
    expect(parsed.value.transactionId).toEqual(txid);
    expect(stun.mappedAddress(parsed.value)).toEqual({ family: 4, port: sport, address: src });
  });

  test.prop([fc.uint8Array({ maxLength: 200 })])(
    "any bytes: answered only if they parse as a Binding request",
    (bytes) => {
      const server = new StunServer(fakeStack(), () => 0);
      const answer = server.handle(datagram(0x01020304, 5, bytes));
      const parsed = stun.parse(bytes);
      const isBindingRequest =
        parsed.ok && parsed.value.class === stun.StunClass.REQUEST && parsed.value.method === stun.StunMethod.BINDING;
      expect(answer !== null).toBe(isBindingRequest);
      expect(server.bindings.length + server.other.length).toBe(parsed.ok && !isBindingRequest ? 0 : 1);
    },
  );
});
