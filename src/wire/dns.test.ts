import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { fromHex, hex } from "./bytes.js";
import * as dns from "./dns.js";
import { DnsClass, DnsRcode, DnsType, DnsView } from "./dns.js";
import type { DnsQuestion, DnsRdata, DnsRecord, DnsRepr } from "./dns.js";

// Fixtures are written out field by field in the layout dnsmasq and BIND produce (no capture tool is installed
// here): header, question, then records whose names point back at the question (0xc00c).

// dig example.com A (RD + AD, EDNS0 with a COOKIE option), id 0x1a2b.
const QUERY = fromHex(`
  1a2b 0120 0001 0000 0000 0001
  07 6578616d706c65 03 636f6d 00 0001 0001
  00 0029 04d0 00000000 000c 000a 0008 0102030405060708`);

// dnsmasq's answer: QR RD RA, the answer name is a pointer to the question, TTL 3600, 93.184.216.34, OPT echoed.
const DNSMASQ_ANSWER = fromHex(`
  1a2b 8180 0001 0001 0000 0001
  07 6578616d706c65 03 636f6d 00 0001 0001
  c00c 0001 0001 00000e10 0004 5db8d822
  00 0029 04d0 00000000 0000`);

// www.example.com → CNAME example.com (rdata is a pointer to offset 16, "example" inside the question) → A.
const CNAME_CHAIN = fromHex(`
  0001 8180 0001 0002 0000 0000
  03 777777 07 6578616d706c65 03 636f6d 00 0001 0001
  c00c 0005 0001 0000012c 0002 c010
  c010 0001 0001 0000012c 0004 5db8d822`);

// The same answer with no compression at all (as some embedded servers send).
const UNCOMPRESSED = fromHex(`
  1a2b 8180 0001 0001 0000 0000
  07 6578616d706c65 03 636f6d 00 0001 0001
  07 6578616d706c65 03 636f6d 00 0001 0001 00000e10 0004 5db8d822`);

// Two answers; the second name points at the first answer's pointer (a two-hop chain our emitter would not choose).
const POINTER_TO_POINTER = fromHex(`
  0002 8180 0001 0002 0000 0000
  07 6578616d706c65 03 636f6d 00 001c 0001
  c00c 001c 0001 00000e10 0010 20010db8000000000000000000000001
  c01d 001c 0001 00000e10 0010 20010db8000000000000000000000002`);

function parseOk(b: Uint8Array): DnsRepr {
  const r = dns.parse(b);
  if (!r.ok) throw new Error(`expected a DNS message: ${r.error.field} at ${r.error.offset}: ${r.error.message}`);
  return r.value;
}

function unwrap<T>(r: { ok: true; value: T } | { ok: false; error: { message: string } }): T {
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

function parseErr(b: Uint8Array): { field: string; offset: number } {
  const r = dns.parse(b);
  if (r.ok) throw new Error("expected a parse error");
  return r.error;
}

const header = (qd: number, an = 0): string =>
  "abcd 0100 " + [qd, an, 0, 0].map((n) => n.toString(16).padStart(4, "0")).join(" ");

describe("dns.parse", () => {
  it("reads a dig query with EDNS0", () => {
    const q = parseOk(QUERY);
    expect(q).toMatchObject({ id: 0x1a2b, qr: false, opcode: 0, rd: true, ad: true, cd: false, z: false, rcode: 0 });
    expect(q.questions).toEqual([
      { name: "example.com", type: DnsType.A, class: DnsClass.IN, nameWire: { inlineLabels: 2, pointer: -1 } },
    ]);
    expect(q.additionals[0]).toMatchObject({ name: ".", type: DnsType.OPT, class: 1232, ttl: 0 });
    expect(hex((q.additionals[0].data as { bytes: Uint8Array }).bytes)).toBe("000a00080102030405060708");
  });

  it("reads dnsmasq's answer: the answer name is the pointer 0xc00c", () => {
    const m = parseOk(DNSMASQ_ANSWER);
    expect(m).toMatchObject({ qr: true, rd: true, ra: true, aa: false, rcode: DnsRcode.NOERROR });
    expect(m.answers).toEqual([
      {
        name: "example.com",
        type: DnsType.A,
        class: DnsClass.IN,
        ttl: 3600,
        data: { kind: "a", address: 0x5db8d822 },
        nameWire: { inlineLabels: 0, pointer: 12 },
      },
    ]);
  });

  it("follows pointers in CNAME rdata into the middle of the question name", () => {
    const m = parseOk(CNAME_CHAIN);
    expect(m.answers[0].data).toEqual({
      kind: "cname",
      name: "example.com",
      nameWire: { inlineLabels: 0, pointer: 16 },
    });
    expect(m.answers[1]).toMatchObject({ name: "example.com", data: { kind: "a", address: 0x5db8d822 } });
  });

  it("follows a pointer to a pointer", () => {
    const m = parseOk(POINTER_TO_POINTER);
    expect(m.answers.map((r) => r.name)).toEqual(["example.com", "example.com"]);
    expect(hex((m.answers[1].data as { address: Uint8Array }).address)).toBe("20010db8000000000000000000000002");
  });

  it("keeps case and escapes label bytes that are not printable, dots and backslashes", () => {
    const b = fromHex(header(1) + " 05 41622e5c20 03 00ff43 00 0010 0003");
    const m = parseOk(b);
    expect(m.questions[0]).toMatchObject({ name: "Ab\\.\\\\\\032.\\000\\255C", type: DnsType.TXT, class: DnsClass.CH });
    expect(hex(dns.emit(m))).toBe(hex(b));
  });

  it("keeps unknown types and A records outside class IN raw", () => {
    const b = fromHex(header(0, 2) + " 00 0001 0003 00000000 0005 0102030405  00 fff0 0001 00000001 0001 ff");
    const m = parseOk(b);
    expect(m.answers.map((r) => r.data.kind)).toEqual(["raw", "raw"]);
    expect(dns.typeName(m.answers[1].type)).toBe("TYPE65520");
    expect(dns.typeName(m.answers[0].type)).toBe("A");
  });
});

describe("dns.parse rejects malformed and adversarial input with offsets", () => {
  it("rejects a pointer to itself, a forward pointer and a pointer past the end", () => {
    expect(parseErr(fromHex(header(1) + " c00c 0001 0001"))).toMatchObject({
      field: "compression pointer",
      offset: 12,
    });
    expect(parseErr(fromHex(header(1) + " c00e 00 0001 0001"))).toMatchObject({
      field: "compression pointer",
      offset: 12,
    });
    expect(parseErr(fromHex(header(1) + " c3ff 0001 0001"))).toMatchObject({
      field: "compression pointer",
      offset: 12,
    });
  });

  it("rejects the loop that a 'pointer before itself' rule would follow forever", () => {
    // 12: label of 5 bytes (13..17) that swallows bytes, then at 18 a pointer back to 12: backwards from 18, but
    // not below the name's start, so RFC 9267's rule stops it.
    const b = fromHex(header(1) + " 05 6162c00c63 c00c 0001 0001");
    expect(parseErr(b)).toMatchObject({ field: "compression pointer", offset: 18 });
  });

  it("rejects a cycle between two names in different records", () => {
    // Answer name at 17 points to 23; the name at 23 points back to 17.
    const b = fromHex(header(1, 1) + " 00 0001 0001  c017 0001 0001 00000000 0002 c011");
    expect(parseErr(b).field).toBe("compression pointer");
  });

  it("rejects extended label types, names over 255 bytes, truncations and trailing bytes", () => {
    expect(parseErr(fromHex(header(1) + " 41 00 0001 0001"))).toMatchObject({ field: "label type", offset: 12 });
    const label63 = "3f" + "61".repeat(63);
    expect(parseErr(fromHex(header(1) + " " + label63.repeat(4) + " 00 0001 0001"))).toMatchObject({ field: "name" });
    expect(parseErr(DNSMASQ_ANSWER.subarray(0, 43))).toMatchObject({ field: "rdlength", offset: 39 });
    expect(parseErr(DNSMASQ_ANSWER.subarray(0, 40))).toMatchObject({ field: "record", offset: 31 });
    expect(parseErr(DNSMASQ_ANSWER.subarray(0, 30))).toMatchObject({ field: "compression pointer", offset: 29 });
    expect(parseErr(DNSMASQ_ANSWER.subarray(0, 27))).toMatchObject({ field: "question", offset: 25 });
    expect(parseErr(DNSMASQ_ANSWER.subarray(0, 11))).toMatchObject({ field: "header", offset: 11 });
    const extra = new Uint8Array(DNSMASQ_ANSWER.length + 1);
    extra.set(DNSMASQ_ANSWER);
    expect(parseErr(extra)).toMatchObject({ field: "message", offset: DNSMASQ_ANSWER.length });
  });

  it("rejects A/AAAA data of the wrong size and CNAME data that does not hold exactly one name", () => {
    expect(parseErr(fromHex(header(0, 1) + " 00 0001 0001 00000000 0003 010203"))).toMatchObject({
      field: "rdlength",
      offset: 21,
    });
    expect(parseErr(fromHex(header(0, 1) + " 00 001c 0001 00000000 0004 01020304"))).toMatchObject({
      field: "rdlength",
    });
    expect(parseErr(fromHex(header(0, 1) + " 00 0005 0001 00000000 0003 00 0000"))).toMatchObject({
      field: "rdlength",
    });
  });
});

describe("dns.emit", () => {
  it("re-emits every fixture byte for byte, compressed or not", () => {
    for (const b of [QUERY, DNSMASQ_ANSWER, CNAME_CHAIN, UNCOMPRESSED, POINTER_TO_POINTER]) {
      expect(hex(dns.emit(parseOk(b)))).toBe(hex(b));
    }
  });

  it("builds dnsmasq's answer byte for byte from the parsed query", () => {
    const q = parseOk(QUERY);
    const opt: DnsRecord = {
      name: ".",
      type: DnsType.OPT,
      class: 1232,
      ttl: 0,
      data: { kind: "raw", bytes: new Uint8Array(0) },
    };
    const r = unwrap(
      dns.answer({ ...q, ad: false }, [dns.aRecord("example.com", 0x5db8d822, 3600)], { additionals: [opt] }),
    );
    expect(hex(dns.emit(r))).toBe(hex(DNSMASQ_ANSWER));
  });

  it("compresses a CNAME chain the standard way", () => {
    const q = unwrap(dns.query(1, "www.example.com", DnsType.A));
    const r = unwrap(
      dns.answer(q, [
        dns.cnameRecord("www.example.com", "example.com", 300),
        dns.aRecord("example.com", 0x5db8d822, 300),
      ]),
    );
    expect(hex(dns.emit(r))).toBe(hex(CNAME_CHAIN));
  });

  it("compresses suffixes case-sensitively so that case survives", () => {
    const q = unwrap(dns.query(7, "Example.COM", DnsType.A));
    const r = unwrap(dns.answer(q, [dns.aRecord("example.com", 1, 1), dns.aRecord("Example.COM", 2, 1)]));
    const b = dns.emit(r);
    const back = parseOk(b);
    expect(back.answers.map((a) => a.name)).toEqual(["example.com", "Example.COM"]);
    expect(back.answers[1].nameWire).toEqual({ inlineLabels: 0, pointer: 12 });
  });

  it("falls back to standard compression when an edited repr moves a recorded pointer's target", () => {
    const m = parseOk(DNSMASQ_ANSWER);
    const edited: DnsRepr = { ...m, questions: [{ ...m.questions[0], name: "www.example.com" }] };
    const back = parseOk(dns.emit(edited));
    expect(back.questions[0].name).toBe("www.example.com");
    expect(back.answers[0].name).toBe("example.com");
    expect(back.answers[0].nameWire).toEqual({ inlineLabels: 0, pointer: 16 });
  });

  it("writes AAAA records and sizes emitInto/bufferLen exactly", () => {
    const addr = fromHex("20010db8000000000000000000000001");
    const r = unwrap(
      dns.answer(unwrap(dns.query(2, "example.com", DnsType.AAAA)), [dns.aaaaRecord("example.com", addr, 3600)]),
    );
    const b = dns.emit(r);
    expect(hex(b.subarray(b.length - 16))).toBe(hex(addr));
    expect(dns.bufferLen(r)).toBe(b.length);
    const out = new Uint8Array(b.length + 5);
    expect(dns.emitInto(r, out, 5)).toBe(b.length);
    expect(hex(out.subarray(5))).toBe(hex(b));
    expect(() => dns.emitInto(r, new Uint8Array(b.length), 1)).toThrow(RangeError);
  });
});

describe("names", () => {
  it("encodes and reports bad names with character offsets", () => {
    expect(unwrap(dns.encodeName("example.com.")).map(hex)).toEqual(["6578616d706c65", "636f6d"]);
    expect(unwrap(dns.encodeName("."))).toEqual([]);
    expect(unwrap(dns.encodeName("a\\.b\\\\.c")).map(hex)).toEqual(["612e625c", "63"]);
    expect(dns.encodeName("a..b")).toMatchObject({ ok: false, error: { offset: 2 } });
    expect(dns.encodeName("")).toMatchObject({ ok: false });
    expect(dns.encodeName("a".repeat(64))).toMatchObject({ ok: false, error: { offset: 64 } });
    expect(dns.encodeName("bücher.de")).toMatchObject({ ok: false, error: { offset: 1 } });
    expect(dns.encodeName("a\\256")).toMatchObject({ ok: false });
    expect(dns.encodeName(Array(5).fill("a".repeat(63)).join("."))).toMatchObject({ ok: false });
  });

  it("makes the builders return errors instead of throwing", () => {
    expect(dns.query(1, "bad..name", DnsType.A).ok).toBe(false);
    const q = unwrap(dns.query(1, "ok.example", DnsType.A));
    expect(dns.answer(q, [dns.aRecord("x".repeat(70), 1, 1)]).ok).toBe(false);
    expect(() => dns.emit({ ...q, questions: [{ name: "a..b", type: 1, class: 1 }] })).toThrow(RangeError);
  });

  test.prop([fc.array(fc.uint8Array({ minLength: 1, maxLength: 63 }), { maxLength: 3 })])(
    "nameFromLabels and encodeName are inverse",
    (labels) => {
      expect(unwrap(dns.encodeName(dns.nameFromLabels(labels)))).toEqual(labels);
    },
  );

  test.prop([fc.string({ maxLength: 40 })], { numRuns: 2000 })("encodeName never throws", (s) => {
    const r = dns.encodeName(s);
    if (r.ok) expect(dns.encodeName(dns.nameFromLabels(r.value))).toEqual(r);
  });
});

describe("DnsView", () => {
  it("reads and rewrites header fields in place", () => {
    const b = Uint8Array.from(DNSMASQ_ANSWER);
    const v = new DnsView().wrap(b);
    expect(v.check()).toBeNull();
    expect([v.id, v.qr, v.opcode, v.aa, v.tc, v.rd, v.ra, v.rcode]).toEqual([
      0x1a2b,
      true,
      0,
      false,
      false,
      true,
      true,
      0,
    ]);
    expect([v.qdcount, v.ancount, v.nscount, v.arcount]).toEqual([1, 1, 0, 1]);
    v.id = 0xbeef;
    v.rcode = DnsRcode.NXDOMAIN;
    expect(hex(b.subarray(0, 4))).toBe("beef8183");
    expect(v.payloadOffset).toBe(12);
    expect(new DnsView(b, 0, 11).check()?.field).toBe("header");
  });
});

// ---- properties ----

const labelArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.constantFrom("www", "example", "com", "Example", "a", "mallory").map((s) => new TextEncoder().encode(s)),
  fc.uint8Array({ minLength: 1, maxLength: 8 }),
);
const nameArb = fc.array(labelArb, { maxLength: 4 }).map((ls) => dns.nameFromLabels(ls));
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.nat({ max: 0xffffffff });

const questionArb: fc.Arbitrary<DnsQuestion> = fc.record({ name: nameArb, type: u16, class: u16 });

const recordArb: fc.Arbitrary<DnsRecord> = fc.oneof(
  fc.record({ name: nameArb, ttl: u32, address: u32 }).map(({ name, ttl, address }): DnsRecord => ({
    name,
    type: DnsType.A,
    class: DnsClass.IN,
    ttl,
    data: { kind: "a", address },
  })),
  fc
    .record({ name: nameArb, ttl: u32, address: fc.uint8Array({ minLength: 16, maxLength: 16 }) })
    .map(({ name, ttl, address }): DnsRecord => ({
      name,
      type: DnsType.AAAA,
      class: DnsClass.IN,
      ttl,
      data: { kind: "aaaa", address },
    })),
  fc
    .record({ name: nameArb, ttl: u32, target: nameArb, class: u16 })
    .map(({ name, ttl, target, class: cls }): DnsRecord => ({
      name,
      type: DnsType.CNAME,
      class: cls,
      ttl,
      data: { kind: "cname", name: target },
    })),
  fc
    .record({
      name: nameArb,
      ttl: u32,
      bytes: fc.uint8Array({ maxLength: 12 }),
      // Raw: types this module never types, or A/AAAA outside class IN.
      tc: fc.oneof(
        fc.record({ type: fc.constantFrom(2, 6, 12, 15, 16, 33, 41, 65, 0xffff), class: u16 }),
        fc.record({ type: fc.constantFrom(1, 28), class: u16.filter((c) => c !== DnsClass.IN) }),
      ),
    })
    .map(({ name, ttl, bytes, tc }): DnsRecord => ({ name, ttl, ...tc, data: { kind: "raw", bytes } })),
);

const reprArb: fc.Arbitrary<DnsRepr> = fc.record({
  id: u16,
  qr: fc.boolean(),
  opcode: fc.integer({ min: 0, max: 15 }),
  aa: fc.boolean(),
  tc: fc.boolean(),
  rd: fc.boolean(),
  ra: fc.boolean(),
  z: fc.boolean(),
  ad: fc.boolean(),
  cd: fc.boolean(),
  rcode: fc.integer({ min: 0, max: 15 }),
  questions: fc.array(questionArb, { maxLength: 2 }),
  answers: fc.array(recordArb, { maxLength: 4 }),
  authorities: fc.array(recordArb, { maxLength: 2 }),
  additionals: fc.array(recordArb, { maxLength: 2 }),
});

function withoutNameWire(m: DnsRepr): DnsRepr {
  const rec = ({ nameWire: _w, data, ...r }: DnsRecord): DnsRecord => {
    const d: DnsRdata = data.kind === "cname" ? { kind: "cname", name: data.name } : data;
    return { ...r, data: d };
  };
  return {
    ...m,
    questions: m.questions.map(({ nameWire: _w, ...q }) => q),
    answers: m.answers.map(rec),
    authorities: m.authorities.map(rec),
    additionals: m.additionals.map(rec),
  };
}

// Messages built from pieces that stress the name decoder: labels, pointers with arbitrary targets (backwards,
// forwards, to themselves, past the end), extended label types, record headers.
const chunkArb = fc.oneof(
  fc.integer({ min: 0, max: 0x3fff }).map((t) => Uint8Array.of(0xc0 | (t >> 8), t & 0xff)),
  fc.integer({ min: 0, max: 80 }).map((t) => Uint8Array.of(0xc0, t)),
  fc.uint8Array({ minLength: 0, maxLength: 6 }).map((l) => Uint8Array.of(l.length, ...l)),
  fc.constant(Uint8Array.of(0)),
  fc.constantFrom(fromHex("00010001"), fromHex("0001000100000e100004"), fromHex("0005000100000000")),
  fc.integer({ min: 0x40, max: 0xbf }).map((x) => Uint8Array.of(x)),
);
const adversarialArb = fc
  .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.array(chunkArb, { maxLength: 14 }))
  .map(([qd, an, chunks]) => {
    const parts = [fromHex(header(qd, an)), ...chunks];
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  });

// Well-laid-out messages whose names are a few labels then, often, a pointer to ANY earlier offset (a label start,
// the middle of a label, a terminator, a header byte, another pointer): most decode, in ways no emitter would choose.
interface NameSpec {
  labels: Uint8Array[];
  target: number | null;
}
const nameSpecArb: fc.Arbitrary<NameSpec> = fc.record({
  labels: fc.array(labelArb, { maxLength: 2 }),
  target: fc.option(fc.nat(), { nil: null }),
});
const recordSpecArb = fc.record({
  name: nameSpecArb,
  rdata: fc.oneof(
    fc.uint8Array({ minLength: 4, maxLength: 4 }).map((a) => ({ type: DnsType.A, bytes: a, cname: null })),
    nameSpecArb.map((n) => ({ type: DnsType.CNAME, bytes: null, cname: n })),
    fc.uint8Array({ maxLength: 6 }).map((b) => ({ type: DnsType.TXT, bytes: b, cname: null })),
  ),
});
const structuredArb = fc
  .record({ questions: fc.array(nameSpecArb, { maxLength: 2 }), records: fc.array(recordSpecArb, { maxLength: 4 }) })
  .map(({ questions, records }) => {
    const out: number[] = [...fromHex(header(questions.length, records.length))];
    const writeName = (n: NameSpec): void => {
      const start = out.length;
      for (const l of n.labels) out.push(l.length, ...l);
      if (n.target === null || start === 0) out.push(0);
      else {
        const t = n.target % start;
        out.push(0xc0 | (t >> 8), t & 0xff);
      }
    };
    for (const q of questions) {
      writeName(q);
      out.push(0, 1, 0, 1);
    }
    for (const r of records) {
      writeName(r.name);
      out.push(0, r.rdata.type, 0, 1, 0, 0, 0x0e, 0x10, 0, 0);
      const rdAt = out.length;
      if (r.rdata.cname) writeName(r.rdata.cname);
      else out.push(...r.rdata.bytes);
      const rdlength = out.length - rdAt;
      out[rdAt - 2] = rdlength >> 8;
      out[rdAt - 1] = rdlength & 0xff;
    }
    return Uint8Array.from(out);
  });

const mutatedArb = fc
  .tuple(
    reprArb.map((r) => dns.emit(r)),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
    fc.nat(),
  )
  .map(([b, edits, cut]) => {
    const m = Uint8Array.from(b);
    for (const [i, v] of edits) m[i % m.length] = v;
    return cut % 3 === 0 ? m.subarray(0, cut % (m.length + 1)) : m;
  });

describe("dns properties", () => {
  test.prop([reprArb], { numRuns: 3000 })("emit → parse gives the repr back, and re-emits the same bytes", (r) => {
    const b = dns.emit(r);
    expect(b.length).toBeLessThanOrEqual(dns.maxBufferLen(r));
    const back = parseOk(b);
    expect(withoutNameWire(back)).toEqual(r);
    expect(hex(dns.emit(back))).toBe(hex(b));
  });

  test.prop(
    [fc.oneof(structuredArb, mutatedArb, adversarialArb, fc.uint8Array({ maxLength: 64 })), fc.nat({ max: 4 })],
    {
      numRuns: 20000,
    },
  )("parse never throws, errors stay in range, and every message it accepts re-emits exactly", (b, shift) => {
    const buf = new Uint8Array(b.length + shift + 2);
    buf.set(b, shift);
    const r = dns.parse(buf, shift, b.length);
    if (r.ok) {
      expect(hex(dns.emit(r.value))).toBe(hex(b));
    } else {
      expect(r.error.offset).toBeGreaterThanOrEqual(shift);
      expect(r.error.offset).toBeLessThanOrEqual(shift + b.length);
    }
  });
});
