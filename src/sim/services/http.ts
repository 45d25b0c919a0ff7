// The smallest HTTP/1.1 (RFC 9112) that the router's services and the browser model need, on the simulator's host
// stacks: one request per connection, bodies framed by Content-Length, the server closing after its answer the
// way miniupnpd's upnphttp.c does. Text is ASCII/UTF-8; a message is a plain object (the "Repr" face) parsed from
// and emitted to bytes. Chunked transfer coding, pipelining and keep-alive are not modelled.

import type { Family } from "../../engine/index.js";
import type { Result } from "../../wire/result.js";
import { err, ok } from "../../wire/result.js";
import type { TcpConnection, TcpHandler } from "../host-stack.js";
import { TCP_MSS } from "../host-stack.js";
import type { SimNode } from "../node.js";

export interface HttpRequest {
  readonly method: string;
  readonly target: string;
  /** Header names lower-cased (field names are case-insensitive, RFC 9110 §5.1); the last value wins. */
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Uint8Array;
}

export interface HttpResponse {
  readonly status: number;
  readonly reason: string;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Uint8Array;
}

const CRLF_CRLF = [0x0d, 0x0a, 0x0d, 0x0a] as const;
const MAX_HEADER_BYTES = 16384;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Offset just past the blank line ending the header section, or -1 while it has not arrived. */
function headerEnd(b: Uint8Array): number {
  for (let i = 0; i + CRLF_CRLF.length <= b.length; i++) {
    if (b[i] === CRLF_CRLF[0] && b[i + 1] === CRLF_CRLF[1] && b[i + 2] === CRLF_CRLF[2] && b[i + 3] === CRLF_CRLF[3])
      return i + CRLF_CRLF.length;
  }
  return -1;
}

/** How far a buffer holds a complete message: "more" (wait), the message length, or an error. */
type Framing =
  { readonly kind: "more" } | { readonly kind: "complete"; readonly length: number; readonly head: number };

function frame(b: Uint8Array, what: string): Result<Framing> {
  const head = headerEnd(b);
  if (head < 0) {
    if (b.length > MAX_HEADER_BYTES) return err("http", "header", 0, `${what} header section exceeds 16 KiB`);
    return ok({ kind: "more" });
  }
  const lines = decoder.decode(b.subarray(0, head - CRLF_CRLF.length)).split("\r\n");
  let length = 0;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0 && line.slice(0, colon).toLowerCase() === "content-length") {
      const v = line.slice(colon + 1).trim();
      if (!/^[0-9]{1,9}$/.test(v)) return err("http", "content-length", 0, `bad Content-Length "${v}"`);
      length = Number(v);
    }
  }
  return ok(b.length >= head + length ? { kind: "complete", length: head + length, head } : { kind: "more" });
}

function parseHeaderLines(lines: readonly string[], at: number): Result<Map<string, string>> {
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon) : "";
    if (!TOKEN.test(name)) return err("http", "header", at, `malformed header line "${line.slice(0, 40)}"`);
    headers.set(name.toLowerCase(), line.slice(colon + 1).trim());
  }
  return ok(headers);
}

/** RFC 9112 §3: `METHOD SP target SP HTTP/1.x`, headers, then exactly Content-Length bytes of body. */
export function parseHttpRequest(b: Uint8Array): Result<HttpRequest> {
  const f = frame(b, "request");
  if (!f.ok) return f;
  if (f.value.kind === "more") return err("http", "message", b.length, "incomplete request");
  const { head, length } = f.value;
  if (length !== b.length) return err("http", "body", length, "bytes after the request body");
  const lines = decoder.decode(b.subarray(0, head - CRLF_CRLF.length)).split("\r\n");
  const parts = lines[0].split(" ");
  if (parts.length !== 3 || !TOKEN.test(parts[0]) || parts[1] === "" || !/^HTTP\/1\.[01]$/.test(parts[2]))
    return err("http", "request-line", 0, `malformed request line "${lines[0].slice(0, 60)}"`);
  const headers = parseHeaderLines(lines.slice(1), 0);
  if (!headers.ok) return headers;
  return ok({ method: parts[0], target: parts[1], headers: headers.value, body: b.slice(head, length) });
}

/** RFC 9112 §4: `HTTP/1.x SP status SP reason`, headers, body. */
export function parseHttpResponse(b: Uint8Array): Result<HttpResponse> {
  const f = frame(b, "response");
  if (!f.ok) return f;
  if (f.value.kind === "more") return err("http", "message", b.length, "incomplete response");
  const { head, length } = f.value;
  const lines = decoder.decode(b.subarray(0, head - CRLF_CRLF.length)).split("\r\n");
  const m = /^HTTP\/1\.[01] ([0-9]{3})(?: (.*))?$/.exec(lines[0]);
  if (m === null) return err("http", "status-line", 0, `malformed status line "${lines[0].slice(0, 60)}"`);
  const headers = parseHeaderLines(lines.slice(1), 0);
  if (!headers.ok) return headers;
  return ok({
    status: Number(m[1]),
    reason: (m[2] as string | undefined) ?? "",
    headers: headers.value,
    body: b.slice(head, length),
  });
}

function emitMessage(startLine: string, headers: ReadonlyMap<string, string>, body: Uint8Array): Uint8Array {
  let text = `${startLine}\r\n`;
  for (const [name, value] of headers) if (name !== "content-length") text += `${name}: ${value}\r\n`;
  text += `Content-Length: ${body.length}\r\n\r\n`;
  const head = encoder.encode(text);
  const out = new Uint8Array(head.length + body.length);
  out.set(head, 0);
  out.set(body, head.length);
  return out;
}

export function emitHttpRequest(r: HttpRequest): Uint8Array {
  return emitMessage(`${r.method} ${r.target} HTTP/1.1`, r.headers, r.body);
}

export function emitHttpResponse(r: HttpResponse): Uint8Array {
  return emitMessage(`HTTP/1.1 ${r.status} ${r.reason}`, r.headers, r.body);
}

export function httpResponse(
  status: number,
  reason: string,
  body: string,
  headers: Readonly<Record<string, string>> = {},
): HttpResponse {
  return { status, reason, headers: new Map(Object.entries(headers)), body: encoder.encode(body) };
}

/** Writes a message in MSS-sized segments (the stack sends each `send` as one segment). */
export function sendSegmented(conn: TcpConnection, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length; at += TCP_MSS)
    conn.send(bytes.subarray(at, Math.min(bytes.length, at + TCP_MSS)));
}

/** Collects a connection's bytes until `frame` finds one complete message. */
class MessageBuffer {
  private chunks: Uint8Array[] = [];
  private size = 0;

  append(data: Uint8Array): Uint8Array {
    this.chunks.push(data);
    this.size += data.length;
    const all = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      all.set(c, at);
      at += c.length;
    }
    this.chunks = [all];
    return all;
  }
}

/** What a server sees of the peer: its address (as engine words) and the connection. */
export interface HttpPeer {
  readonly conn: TcpConnection;
  readonly family: Family;
  readonly remote: Uint32Array;
  readonly local: Uint32Array;
}

/** Answers one request; null closes the connection without an answer. */
export type HttpRequestHandler = (req: HttpRequest, peer: HttpPeer) => HttpResponse | null;

/** A TCP listener on `port` that answers each connection's request and closes (upnphttp.c's one-shot model). */
export function serveHttp(node: SimNode, port: number, handle: HttpRequestHandler): void {
  const buffers = new WeakMap<TcpConnection, MessageBuffer>();
  const handler: TcpHandler = {
    onData: (conn, data) => {
      let buf = buffers.get(conn);
      if (buf === undefined) {
        buf = new MessageBuffer();
        buffers.set(conn, buf);
      }
      const all = buf.append(data);
      const f = frame(all, "request");
      if (f.ok && f.value.kind === "more") return;
      const req = f.ok && f.value.kind === "complete" ? parseHttpRequest(all.subarray(0, f.value.length)) : null;
      const res =
        req?.ok === true
          ? handle(req.value, { conn, family: conn.family, remote: conn.remote, local: conn.local })
          : httpResponse(400, "Bad Request", "");
      if (res !== null) sendSegmented(conn, emitHttpResponse(res));
      conn.close();
    },
  };
  node.stack.listenTcp(port, handler);
}

export type HttpExchangeResult =
  | { readonly kind: "response"; readonly response: HttpResponse }
  | { readonly kind: "refused" }
  | { readonly kind: "timeout" }
  | { readonly kind: "unreachable" }
  | { readonly kind: "closed-without-answer" }
  | { readonly kind: "malformed"; readonly message: string }
  | { readonly kind: "no-route" };

/** One request over a new connection from `node` to `dst:port`; `done` runs once with what came back. */
export function httpExchange(
  node: SimNode,
  family: Family,
  dst: Uint32Array,
  port: number,
  request: HttpRequest,
  done: (r: HttpExchangeResult) => void,
): void {
  const buf = new MessageBuffer();
  let finished = false;
  let received: Uint8Array = new Uint8Array(0);
  const finish = (r: HttpExchangeResult): void => {
    if (finished) return;
    finished = true;
    done(r);
  };
  const c = node.stack.connect(family, dst, port, {
    onEstablished: (conn) => {
      sendSegmented(conn, emitHttpRequest(request));
    },
    onData: (conn, data) => {
      received = buf.append(data);
      const f = frame(received, "response");
      if (f.ok && f.value.kind === "more") return;
      const res = f.ok && f.value.kind === "complete" ? parseHttpResponse(received.subarray(0, f.value.length)) : null;
      if (res?.ok === true) finish({ kind: "response", response: res.value });
      else finish({ kind: "malformed", message: res?.ok === false ? res.error.message : "bad framing" });
      conn.close();
    },
    onReset: () => {
      finish(received.length === 0 ? { kind: "refused" } : { kind: "closed-without-answer" });
    },
    onTimeout: () => {
      finish({ kind: "timeout" });
    },
    onUnreachable: () => {
      finish({ kind: "unreachable" });
    },
    onClose: () => {
      finish({ kind: "closed-without-answer" });
    },
  });
  if (!c.ok) finish({ kind: "no-route" });
}

export function bodyText(r: HttpResponse | HttpRequest): string {
  return decoder.decode(r.body);
}
