// The minimal HTTP/1.1: request and response parsing on real message bytes (miniupnpc's SOAP POST header
// layout, the simulator's canned web answer), framing by Content-Length, and property tests for the parsers.

import { fc, test as fcTest } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { HTTP_RESPONSE } from "../host-stack.js";
import { buildSeedHome } from "../seed-home.fixture.js";
import { addressWords } from "../simulation.js";
import type { HttpExchangeResult, HttpRequest } from "./http.js";
import {
  bodyText,
  emitHttpRequest,
  emitHttpResponse,
  httpExchange,
  httpResponse,
  parseHttpRequest,
  parseHttpResponse,
  serveHttp,
} from "./http.js";

const enc = new TextEncoder();

describe("HTTP messages", () => {
  it("parses a miniupnpc-style SOAP POST", () => {
    const body = "<s:Envelope/>";
    const raw =
      "POST /ctl/IPConn HTTP/1.1\r\nHost: 192.168.1.1:5000\r\nUser-Agent: Debian/12, UPnP/1.1, MiniUPnPc/2.2.4\r\n" +
      `Content-Length: ${body.length}\r\nContent-Type: text/xml\r\nSOAPAction: "urn:schemas-upnp-org:service:WANIPConnection:1#AddPortMapping"\r\n` +
      `Connection: close\r\n\r\n${body}`;
    const r = parseHttpRequest(enc.encode(raw));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.method).toBe("POST");
    expect(r.value.target).toBe("/ctl/IPConn");
    expect(r.value.headers.get("soapaction")).toBe('"urn:schemas-upnp-org:service:WANIPConnection:1#AddPortMapping"');
    expect(bodyText(r.value)).toBe(body);
  });

  it("parses the simulator's canned web answer", () => {
    const r = parseHttpResponse(enc.encode(HTTP_RESPONSE));
    expect(r).toMatchObject({ ok: true, value: { status: 200, reason: "OK" } });
    if (r.ok) expect(bodyText(r.value)).toBe("ok\n");
  });

  it("refuses an incomplete body, a bad request line and a bad Content-Length", () => {
    expect(parseHttpRequest(enc.encode("GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab")).ok).toBe(false);
    expect(parseHttpRequest(enc.encode("GET /\r\n\r\n")).ok).toBe(false);
    expect(parseHttpRequest(enc.encode("GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n")).ok).toBe(false);
    expect(parseHttpResponse(enc.encode("HTTP/2 200 OK\r\n\r\n")).ok).toBe(false);
  });

  fcTest.prop([fc.uint8Array({ maxLength: 300 })])("parsers never throw", (b) => {
    parseHttpRequest(b);
    parseHttpResponse(b);
  });

  fcTest.prop([
    fc.constantFrom("GET", "POST", "PUT"),
    fc.stringMatching(/^\/[a-zA-Z0-9/._-]{0,30}$/),
    fc.dictionary(
      fc.stringMatching(/^x-[a-z]{1,10}$/),
      fc.stringMatching(/^[ -~]{0,20}$/).map((s) => s.trim()),
    ),
    fc.uint8Array({ maxLength: 3000 }),
  ])("request round trip", (method, target, headers, body) => {
    const req: HttpRequest = { method, target, headers: new Map(Object.entries(headers)), body };
    const back = parseHttpRequest(emitHttpRequest(req));
    expect(back.ok).toBe(true);
    if (!back.ok) return;
    expect(back.value.method).toBe(method);
    expect(back.value.target).toBe(target);
    expect(back.value.body).toEqual(body);
    for (const [k, v] of Object.entries(headers)) expect(back.value.headers.get(k)).toBe(v);
  });

  it("response round trip", () => {
    const r = httpResponse(500, "Internal Server Error", "<fault/>", { server: "x" });
    const back = parseHttpResponse(emitHttpResponse(r));
    expect(back).toMatchObject({ ok: true, value: { status: 500, reason: "Internal Server Error" } });
  });
});

describe("over the simulator", () => {
  it("a body larger than one segment arrives whole (MSS-sized segments)", () => {
    const h = buildSeedHome();
    const big = "x".repeat(5000);
    serveHttp(h.s, 8081, (req) => httpResponse(200, "OK", `${req.method} ${big}`));
    let out: HttpExchangeResult | null = null;
    const req: HttpRequest = { method: "GET", target: "/", headers: new Map([["host", "s"]]), body: new Uint8Array(0) };
    httpExchange(h.u, 4, addressWords("192.168.1.20")!.words, 8081, req, (r) => (out = r));
    h.sim.run({ until: 5000 });
    expect(out).toMatchObject({ kind: "response", response: { status: 200 } });
    const r = out as HttpExchangeResult | null;
    if (r?.kind === "response") expect(bodyText(r.response)).toBe(`GET ${big}`);
  });

  it("a closed port answers RST: refused", () => {
    const h = buildSeedHome();
    let out: HttpExchangeResult | null = null;
    const req: HttpRequest = { method: "GET", target: "/", headers: new Map(), body: new Uint8Array(0) };
    httpExchange(h.u, 4, addressWords("192.168.1.20")!.words, 9999, req, (r) => (out = r));
    h.sim.run({ until: 5000 });
    expect(out).toEqual({ kind: "refused" });
  });
});
