// The services of one lab node, run by the listener process (listener.ts) inside the node's namespace. It answers
// as the twin's host stack does (sim/host-stack.ts: a banner, an HTTP response, an SNMP GetResponse, or an echo) so
// the kernel run and the simulator can be compared byte for byte, and logs every accepted connection, every received segment of data and
// every datagram, with the peer's address, as JSON lines: `lab verify` judges what arrived from that log.

import { createSocket } from "node:dgram";
import type { RemoteInfo, Socket as UdpSocket } from "node:dgram";
import { closeSync, openSync, writeSync } from "node:fs";
import { createServer } from "node:net";
import type { Server, Socket } from "node:net";
import { HTTP_RESPONSE, SNMP_RESPONSE, SSH_BANNER } from "../sim/host-stack.js";
import type { ListenerService } from "./plan.js";

export interface ListenerConfig {
  readonly node: string;
  /** JSON-lines log, appended to. */
  readonly log: string;
  readonly services: readonly ListenerService[];
}

/** One line of the listener's log. */
export type ListenerEvent =
  | { readonly event: "ready"; readonly time: string; readonly node: string; readonly pid: number }
  | {
      readonly event: "accept" | "data" | "datagram";
      readonly time: string;
      readonly node: string;
      readonly service: string;
      readonly proto: "tcp" | "udp";
      readonly port: number;
      readonly peer: string;
      readonly peerPort: number;
      /** Payload length (data and datagram). */
      readonly bytes?: number;
      /** The payload's first bytes in hex (data and datagram). */
      readonly head?: string;
    };

/** How a TCP service behaves, as the twin's serviceSpecs/serviceHandler decide it. */
export type TcpBehaviour =
  { readonly kind: "banner"; readonly bytes: Uint8Array } | { readonly kind: "http" } | { readonly kind: "echo" };

const encoder = new TextEncoder();
const HTTP_BYTES = encoder.encode(HTTP_RESPONSE);
/** Enough of a payload to recognise it in the log without copying whole transfers. */
const HEAD_BYTES = 64;
/** An IPv4 peer on a dual-stack socket shows as an IPv4-mapped IPv6 address (RFC 4291 §2.5.5.2). */
const V4_MAPPED = "::ffff:";

export function tcpBehaviour(s: ListenerService): TcpBehaviour {
  // A model banner wins; OpenSSH speaks first (RFC 4253 §4.2).
  if (s.banner !== null) return { kind: "banner", bytes: encoder.encode(s.banner) };
  switch (s.name) {
    case "ssh":
      return { kind: "banner", bytes: encoder.encode(SSH_BANNER) };
    case "http":
    case "https":
    case "web-admin":
      return { kind: "http" };
    default:
      return { kind: "echo" };
  }
}

/** The reply to a datagram, as the twin's udpServiceHandler: SNMP answers a GetResponse, anything else echoes. */
export function udpReply(s: ListenerService, payload: Uint8Array): Uint8Array {
  return s.name === "snmp" ? SNMP_RESPONSE : payload;
}

export function peerAddress(address: string | undefined): string {
  if (address === undefined) return "";
  return address.startsWith(V4_MAPPED) && address.includes(".") ? address.slice(V4_MAPPED.length) : address;
}

function headHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes.subarray(0, HEAD_BYTES)) s += b.toString(16).padStart(2, "0");
  return s;
}

export interface RunningListener {
  close(): Promise<void>;
}

/** Binds every service (dual-stack where the namespace has IPv6), then logs `ready`. */
export async function startListener(config: ListenerConfig): Promise<RunningListener> {
  const fd = openSync(config.log, "a");
  const log = (e: ListenerEvent): void => {
    writeSync(fd, `${JSON.stringify(e)}\n`);
  };
  const now = (): string => new Date().toISOString();
  const servers: Server[] = [];
  const sockets: UdpSocket[] = [];
  const open = new Set<Socket>();

  for (const s of config.services) {
    if (s.proto === "tcp") {
      const behaviour = tcpBehaviour(s);
      const server = createServer((conn) => {
        open.add(conn);
        const peer = peerAddress(conn.remoteAddress);
        const peerPort = conn.remotePort ?? 0;
        const base = { node: config.node, service: s.name, proto: "tcp", port: s.port, peer, peerPort } as const;
        log({ event: "accept", time: now(), ...base });
        conn.on("error", () => undefined);
        conn.on("close", () => open.delete(conn));
        if (behaviour.kind === "banner") conn.write(behaviour.bytes);
        conn.on("data", (data: Uint8Array) => {
          log({ event: "data", time: now(), ...base, bytes: data.length, head: headHex(data) });
          if (behaviour.kind === "http") conn.write(HTTP_BYTES);
          else if (behaviour.kind === "echo") conn.write(data);
        });
      });
      await listenTcp(server, s.port);
      servers.push(server);
    } else {
      const socket = await bindUdp(s.port);
      socket.on("message", (msg: Uint8Array, rinfo: RemoteInfo) => {
        const peer = peerAddress(rinfo.address);
        log({
          event: "datagram",
          time: now(),
          node: config.node,
          service: s.name,
          proto: "udp",
          port: s.port,
          peer,
          peerPort: rinfo.port,
          bytes: msg.length,
          head: headHex(msg),
        });
        socket.send(udpReply(s, msg), rinfo.port, rinfo.address);
      });
      sockets.push(socket);
    }
  }
  log({ event: "ready", time: now(), node: config.node, pid: process.pid });
  return {
    close: async () => {
      for (const c of open) c.destroy();
      await Promise.all(
        servers.map(
          (sv) =>
            new Promise<void>((done) =>
              sv.close(() => {
                done();
              }),
            ),
        ),
      );
      await Promise.all(
        sockets.map(
          (so) =>
            new Promise<void>((done) =>
              so.close(() => {
                done();
              }),
            ),
        ),
      );
      closeSync(fd);
    },
  };
}

/** Listens on `::` (both families), or on 0.0.0.0 where the namespace has no IPv6. */
function listenTcp(server: Server, port: number): Promise<void> {
  const attempt = (host: string): Promise<void> =>
    new Promise((done, fail) => {
      server.once("error", fail);
      server.listen({ port, host, ipv6Only: false }, () => {
        server.off("error", fail);
        done();
      });
    });
  return attempt("::").catch(() => attempt("0.0.0.0"));
}

function bindUdp(port: number): Promise<UdpSocket> {
  const attempt = (type: "udp6" | "udp4"): Promise<UdpSocket> =>
    new Promise((done, fail) => {
      const socket = createSocket({ type, ipv6Only: false });
      socket.once("error", (e) => {
        socket.close();
        fail(e);
      });
      socket.bind(port, type === "udp6" ? "::" : "0.0.0.0", () => {
        socket.removeAllListeners("error");
        socket.on("error", () => undefined);
        done(socket);
      });
    });
  return attempt("udp6").catch(() => attempt("udp4"));
}

/** The marker the lab waits for on the listener's standard output before it detaches. */
export const READY_LINE = "mallory-listener-ready";
