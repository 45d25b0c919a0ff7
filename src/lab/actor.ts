// The actors of `lab verify`, as one small program run inside a node's namespace (`ip netns exec NS node --import
// tsx actor.ts SUB-COMMAND ...`, or a bundled lab-actor.js), each printing its result as JSON on stdout:
//   probe            reads [{address, port, proto}] on stdin, probes them all at once, prints [ProbeResult]
//   tcp-connect HOST PORT [--from-port P] [--send TEXT] [--wait MS]      one ProbeResult
//   udp-send HOST PORT [--from-port P] [--send TEXT] [--wait MS]         one ProbeResult
//   c2-server PORT   prints the ready line, then one JSON line per poll and per command output received
//   poll-c2 HOST PORT --name NAME [--polls N] [--interval MS]            the implant: a C2Poll summary
// Probes answer as the simulator's (attacks/inbound-scan.ts startProbe): a TCP connect that sends a line once
// established, a UDP datagram from a connected socket (so an ICMP port unreachable surfaces as ECONNREFUSED).

import { createSocket } from "node:dgram";
import { connect, createServer } from "node:net";
import type { Socket } from "node:net";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The line c2-server prints once it listens. */
export const ACTOR_READY = "mallory-actor-ready";
/** As the simulator's probe waits (attacks/inbound-scan.ts PROBE_WAIT_MS). */
export const DEFAULT_WAIT_MS = 1500;
export const PROBE_PAYLOAD = "mallory probe\n";
export const C2_COMMAND = "CMD id\n";
const POLL = "POLL";
const RESULT = "RESULT";
/** How long a probe keeps reading after its first reply bytes. */
const LINGER_MS = 150;

export type ProbeAnswer = "session" | "udp-reply" | "reset" | "unreachable" | "silent";

export interface ProbeRequest {
  readonly address: string;
  readonly port: number;
  readonly proto: "tcp" | "udp";
  readonly fromPort?: number;
  readonly send?: string;
  readonly waitMs?: number;
}

export interface ProbeResult {
  readonly address: string;
  readonly port: number;
  readonly proto: "tcp" | "udp";
  readonly answer: ProbeAnswer;
  readonly bytesBack: number;
  readonly firstReply: string | null;
  readonly localPort: number;
  /** The socket error, when one ended the probe. */
  readonly error?: string;
}

export interface C2Poll {
  readonly polls: number;
  readonly commands: number;
  readonly resultsSent: number;
}

/** One line of c2-server's output. */
export type C2Event =
  | { readonly event: "poll"; readonly peer: string; readonly peerPort: number; readonly text: string }
  | { readonly event: "result"; readonly peer: string; readonly peerPort: number; readonly text: string };

/** Whatever an actor printed: a single JSON value (parsed) or an error. */
export type ActorResult =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly message: string };

const REFUSED = new Set(["ECONNREFUSED", "ECONNRESET"]);
const UNREACHABLE = new Set(["EHOSTUNREACH", "ENETUNREACH", "EACCES", "EPERM"]);

function answerOfError(code: string | undefined): ProbeAnswer {
  if (code !== undefined && REFUSED.has(code)) return "reset";
  if (code !== undefined && UNREACHABLE.has(code)) return "unreachable";
  return "silent";
}

function errorCode(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e && typeof e.code === "string" ? e.code : undefined;
}

export function probeTcp(r: ProbeRequest): Promise<ProbeResult> {
  return new Promise((done) => {
    let answer: ProbeAnswer = "silent";
    let bytesBack = 0;
    let firstReply: string | null = null;
    let localPort = 0;
    let error: string | undefined;
    let finished = false;
    const socket: Socket = connect({
      host: r.address,
      port: r.port,
      ...(r.fromPort !== undefined ? { localPort: r.fromPort } : {}),
    });
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      done({
        address: r.address,
        port: r.port,
        proto: "tcp",
        answer,
        bytesBack,
        firstReply,
        localPort,
        ...(error !== undefined ? { error } : {}),
      });
    };
    const timer = setTimeout(finish, r.waitMs ?? DEFAULT_WAIT_MS);
    socket.on("connect", () => {
      answer = "session";
      localPort = socket.localPort ?? 0;
      socket.write(r.send ?? PROBE_PAYLOAD);
    });
    socket.on("data", (d: Buffer) => {
      bytesBack += d.length;
      firstReply ??= d.toString("latin1");
      setTimeout(finish, LINGER_MS);
    });
    socket.on("error", (e) => {
      error = errorCode(e) ?? e.message;
      if (answer !== "session") answer = answerOfError(errorCode(e));
      finish();
    });
    socket.on("close", () => {
      if (answer === "session") setTimeout(finish, LINGER_MS);
    });
  });
}

export function probeUdp(r: ProbeRequest): Promise<ProbeResult> {
  return new Promise((done) => {
    const socket = createSocket(r.address.includes(":") ? "udp6" : "udp4");
    let answer: ProbeAnswer = "silent";
    let bytesBack = 0;
    let firstReply: string | null = null;
    let localPort = 0;
    let error: string | undefined;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.close();
      done({
        address: r.address,
        port: r.port,
        proto: "udp",
        answer,
        bytesBack,
        firstReply,
        localPort,
        ...(error !== undefined ? { error } : {}),
      });
    };
    const timer = setTimeout(finish, r.waitMs ?? DEFAULT_WAIT_MS);
    socket.on("message", (m: Buffer) => {
      answer = "udp-reply";
      bytesBack += m.length;
      firstReply ??= m.toString("latin1");
      finish();
    });
    socket.on("error", (e) => {
      error = errorCode(e) ?? e.message;
      if (answer === "silent") answer = answerOfError(errorCode(e));
      finish();
    });
    socket.bind(r.fromPort ?? 0, () => {
      localPort = socket.address().port;
      socket.connect(r.port, r.address, () => {
        socket.send(r.send ?? PROBE_PAYLOAD);
      });
    });
  });
}

export function probe(r: ProbeRequest): Promise<ProbeResult> {
  return r.proto === "tcp" ? probeTcp(r) : probeUdp(r);
}

/** Mallory's C2 server: answers a POLL with a command and reports every poll and command output. */
export function startC2Server(
  port: number,
  onEvent: (e: C2Event) => void,
): Promise<{ close(): Promise<void>; port: number }> {
  const open = new Set<Socket>();
  const server = createServer((conn) => {
    open.add(conn);
    const peer = conn.remoteAddress ?? "";
    const peerPort = conn.remotePort ?? 0;
    conn.on("error", () => undefined);
    conn.on("close", () => open.delete(conn));
    conn.on("data", (d: Buffer) => {
      const text = d.toString("utf8");
      if (text.startsWith(POLL)) {
        onEvent({ event: "poll", peer, peerPort, text: text.trim() });
        conn.write(C2_COMMAND);
      } else if (text.startsWith(RESULT)) {
        onEvent({ event: "result", peer, peerPort, text: text.slice(RESULT.length).trim() });
      }
    });
  });
  return new Promise((done, fail) => {
    server.once("error", fail);
    server.listen({ port, host: "::", ipv6Only: false }, () => {
      const address = server.address();
      done({
        port: typeof address === "object" && address !== null ? address.port : port,
        close: () =>
          new Promise<void>((closed) => {
            for (const c of open) c.destroy();
            server.close(() => {
              closed();
            });
          }),
      });
    });
  });
}

/** The implant: polls up to `polls` times, `intervalMs` apart, until one poll's command output went back. */
export async function pollC2(
  host: string,
  port: number,
  name: string,
  polls: number,
  intervalMs: number,
): Promise<C2Poll> {
  let made = 0;
  let commands = 0;
  let resultsSent = 0;
  for (let i = 0; i < polls && resultsSent === 0; i++) {
    if (i > 0) await new Promise((d) => setTimeout(d, intervalMs));
    made++;
    const got = await new Promise<boolean>((done) => {
      const s = connect({ host, port });
      const timer = setTimeout(() => {
        s.destroy();
        done(false);
      }, intervalMs);
      s.on("connect", () => s.write(`${POLL} ${name}\n`));
      s.on("data", (d: Buffer) => {
        if (d.toString("utf8") !== C2_COMMAND) return;
        commands++;
        s.end(`${RESULT} uid=1000(user) gid=1000(user) host=${name}\n`, () => {
          clearTimeout(timer);
          done(true);
        });
      });
      s.on("error", () => {
        clearTimeout(timer);
        done(false);
      });
    });
    if (got) resultsSent++;
  }
  return { polls: made, commands, resultsSent };
}

// ---------------------------------------------------------------------------------------------------------------
// Command line.

/** `--name value` options after the positional arguments. */
export function parseActorArgs(argv: readonly string[]): { positional: string[]; options: Map<string, string> } {
  const positional: string[] = [];
  const options = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith("--") && i + 1 < argv.length) {
      options.set(a.slice(2), argv[i + 1]);
      i++;
    } else positional.push(a);
  }
  return { positional, options };
}

function portOf(text: string | undefined): number | null {
  if (text === undefined || !/^\d{1,5}$/.test(text)) return null;
  const n = Number(text);
  return n >= 0 && n <= 65535 ? n : null;
}

function readStdin(): Promise<string> {
  return new Promise((done) => {
    let text = "";
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (d: string) => (text += d));
    process.stdin.on("end", () => {
      done(text);
    });
  });
}

const USAGE =
  "usage: actor probe | tcp-connect|udp-send HOST PORT [opts] | c2-server PORT | poll-c2 HOST PORT --name N";

/** Runs one sub-command; the value is what it prints as JSON (c2-server prints as it goes and returns on signal). */
export async function runActor(
  argv: readonly string[],
  print: (line: string) => void,
  warn: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<number> {
  const [sub, ...rest] = argv;
  const { positional, options } = parseActorArgs(rest);
  const waitMs = portOf(options.get("wait")) ?? DEFAULT_WAIT_MS;
  const fromPort = portOf(options.get("from-port"));
  switch (sub) {
    case "probe": {
      const requests = JSON.parse(await readStdin()) as ProbeRequest[];
      print(JSON.stringify(await Promise.all(requests.map(probe))));
      return 0;
    }
    case "tcp-connect":
    case "udp-send": {
      const host = positional.at(0);
      const port = portOf(positional.at(1));
      if (host === undefined || port === null) break;
      const send = options.get("send");
      const r = await probe({
        address: host,
        port,
        proto: sub === "tcp-connect" ? "tcp" : "udp",
        waitMs,
        ...(fromPort !== null ? { fromPort } : {}),
        ...(send !== undefined ? { send } : {}),
      });
      print(JSON.stringify(r));
      return 0;
    }
    case "c2-server": {
      const port = portOf(positional.at(0));
      if (port === null) break;
      const server = await startC2Server(port, (e) => {
        print(JSON.stringify(e));
      });
      print(ACTOR_READY);
      await new Promise<void>((stop) => {
        process.once("SIGTERM", () => {
          stop();
        });
        process.once("SIGINT", () => {
          stop();
        });
      });
      await server.close();
      return 0;
    }
    case "poll-c2": {
      const host = positional.at(0);
      const port = portOf(positional.at(1));
      const name = options.get("name");
      if (host === undefined || port === null || name === undefined) break;
      const polls = Number(options.get("polls") ?? "3");
      const interval = Number(options.get("interval") ?? "2000");
      print(JSON.stringify(await pollC2(host, port, name, polls, interval)));
      return 0;
    }
    default:
      break;
  }
  warn(USAGE);
  return 2;
}

// An entry point only when run as actor.ts or lab-actor.js, never from inside a bundle that imports this module.
const entry = process.argv[1] ?? "";
if (/(^|\/)(actor\.ts|lab-actor\.js)$/.test(entry) && resolve(entry) === fileURLToPath(import.meta.url)) {
  runActor(process.argv.slice(2), (line) => process.stdout.write(`${line}\n`)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`actor: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
