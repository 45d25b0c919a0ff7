// A web browser on a simulated host, just enough for the web-visitor attacks (SEMANTICS.md §6.3, §6.4): it
// resolves names through the host's resolver with real DNS packets and caches each answer for its TTL, fetches
// over HTTP/1.1 from the resolved address, and runs the page's script (a callback) with the page's origin. The
// script may fetch and post again; a response is readable only from the page's own origin (scheme, host name,
// port: the same-origin policy that DNS rebinding defeats by changing what the name means), otherwise the
// request still goes out but its answer stays opaque (mode "no-cors"). Two browser defences are modelled:
//   - the Fetch standard's "bad port" list (fetch.spec.whatwg.org §2.9 port blocking), checked before anything
//     is sent, which is what stops NAT Slipstreaming's POST to port 5060;
//   - Private Network Access (WICG): when on, a page loaded from a public address may not reach a private or
//     local one; checked once the target's address is known. (Chrome paused PNA preflights in favour of Local
//     Network Access prompts; here it is a plain on/off option.)

import { formatIpv4, parseIpv4 } from "../../wire/address.js";
import * as dns from "../../wire/dns.js";
import type { EventClock } from "../clock.js";
import { EPHEMERAL_MAX, EPHEMERAL_MIN } from "../host-stack.js";
import type { SimNode } from "../node.js";
import { addressWords } from "../simulation.js";
import { DNS_PORT } from "./dns-resolver.js";
import type { HttpRequest } from "./http.js";
import { bodyText, httpExchange } from "./http.js";

/** Fetch standard "bad port" list (fetch.spec.whatwg.org, "port blocking"). */
export const FETCH_BAD_PORTS: ReadonlySet<number> = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110,
  111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532,
  540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061,
  6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

export type AddressSpace = "local" | "private" | "public";

/** Private Network Access §2.1 IP address space of an IPv4 address. */
export function addressSpace(a: number): AddressSpace {
  const top8 = a >>> 24;
  if (top8 === 127) return "local";
  if (top8 === 10 || top8 === 0) return "private";
  if (a >>> 20 === 0xac1 || a >>> 16 === 0xc0a8 || a >>> 16 === 0xa9fe || a >>> 22 === 0x191) return "private";
  return "public";
}

const SPACE_RANK: Readonly<Record<AddressSpace, number>> = { local: 0, private: 1, public: 2 };

export interface BrowserOptions {
  readonly clock: EventClock;
  /** The host's DNS server (its router, from DHCP). */
  readonly resolver: string;
  /** Private Network Access: refuse requests from a public page to a private or local address. Default false. */
  readonly privateNetworkAccess?: boolean;
  /** How long to wait for a DNS answer (ms); default 2000 (one try, no retransmission). */
  readonly dnsTimeoutMs?: number;
}

export type FetchOutcome =
  | {
      readonly kind: "response";
      readonly status: number;
      /** Same-origin responses are readable; the body is null when the script may not see it. */
      readonly readable: boolean;
      readonly body: string | null;
      readonly address: string;
    }
  | { readonly kind: "blocked"; readonly reason: "bad-port" | "private-network-access"; readonly detail: string }
  | { readonly kind: "dns-failure"; readonly detail: string }
  | { readonly kind: "network-error"; readonly detail: string };

export interface PageContext {
  readonly url: string;
  readonly origin: string;
  /** The address the page was loaded from. */
  readonly address: string;
  fetch(url: string, done?: (r: FetchOutcome) => void): void;
  post(url: string, body: string, done?: (r: FetchOutcome) => void): void;
  /** setTimeout on the simulation clock. */
  after(ms: number, fn: () => void): void;
}

export type PageScript = (page: PageContext) => void;

export interface BrowserLogEntry {
  readonly timeMs: number;
  readonly what: "resolve" | "fetch" | "blocked" | "page";
  readonly detail: string;
}

interface CachedAddress {
  readonly address: number | null;
  readonly expiresAtMs: number;
}

interface ParsedUrl {
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly origin: string;
}

const encoder = new TextEncoder();
const HTTP_DEFAULT_PORT = 80;

/** http:// URLs only (no TLS is modelled). */
export function parseUrl(text: string): ParsedUrl | null {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return null;
  }
  if (u.protocol !== "http:") return null;
  const port = u.port === "" ? HTTP_DEFAULT_PORT : Number(u.port);
  return { host: u.hostname, port, path: `${u.pathname}${u.search}`, origin: `http://${u.hostname}:${port}` };
}

export class Browser {
  readonly log: BrowserLogEntry[] = [];
  private readonly cache = new Map<string, CachedAddress>();
  private readonly resolverWords: Uint32Array;

  constructor(
    readonly node: SimNode,
    readonly options: BrowserOptions,
  ) {
    const r = addressWords(options.resolver);
    if (r?.family !== 4) throw new Error(`browser on ${node.name}: bad resolver ${options.resolver}`);
    this.resolverWords = r.words;
  }

  /** Opens `url` as a top-level page; when it loads (any HTTP answer), `script` runs in it. */
  visit(url: string, script: PageScript | null = null, done?: (r: FetchOutcome) => void): void {
    const target = parseUrl(url);
    if (target === null) {
      done?.({ kind: "network-error", detail: `unsupported URL ${url}` });
      return;
    }
    this.request(null, target, "GET", null, (r) => {
      this.note("page", `${url}: ${describe(r)}`);
      done?.(r);
      if (r.kind !== "response" || script === null) return;
      const page: PageContext = {
        url,
        origin: target.origin,
        address: r.address,
        fetch: (u, cb) => {
          this.scriptRequest(page, u, "GET", null, cb);
        },
        post: (u, body, cb) => {
          this.scriptRequest(page, u, "POST", body, cb);
        },
        after: (ms, fn) => {
          this.options.clock.after(ms, fn);
        },
      };
      script(page);
    });
  }

  private scriptRequest(
    page: PageContext,
    url: string,
    method: string,
    body: string | null,
    done: ((r: FetchOutcome) => void) | undefined,
  ): void {
    const target = parseUrl(url);
    if (target === null) {
      done?.({ kind: "network-error", detail: `unsupported URL ${url}` });
      return;
    }
    this.request(page, target, method, body, (r) => {
      this.note("fetch", `${method} ${url}: ${describe(r)}`);
      done?.(r);
    });
  }

  private request(
    page: PageContext | null,
    target: ParsedUrl,
    method: string,
    body: string | null,
    done: (r: FetchOutcome) => void,
  ): void {
    if (FETCH_BAD_PORTS.has(target.port)) {
      const r: FetchOutcome = {
        kind: "blocked",
        reason: "bad-port",
        detail: `port ${target.port} is a Fetch bad port`,
      };
      this.note("blocked", `${method} ${target.origin}: ${r.detail}`);
      done(r);
      return;
    }
    this.resolve(target.host, (address, failure) => {
      if (address === null) {
        done({ kind: "dns-failure", detail: failure });
        return;
      }
      if (this.options.privateNetworkAccess === true && page !== null) {
        const from = parseIpv4(page.address);
        const fromSpace = from === null ? "public" : addressSpace(from);
        const toSpace = addressSpace(address);
        if (SPACE_RANK[toSpace] < SPACE_RANK[fromSpace]) {
          const detail = `a ${fromSpace} page may not reach ${toSpace} address ${formatIpv4(address)}`;
          this.note("blocked", `${method} ${target.origin}: ${detail}`);
          done({ kind: "blocked", reason: "private-network-access", detail });
          return;
        }
      }
      const req: HttpRequest = {
        method,
        target: target.path,
        headers: new Map([
          ["host", target.port === HTTP_DEFAULT_PORT ? target.host : `${target.host}:${target.port}`],
          ["user-agent", "Mozilla/5.0 (mallory-sim)"],
          ...(page !== null ? ([["origin", page.origin]] as const) : []),
          ...(body !== null ? ([["content-type", "text/plain;charset=UTF-8"]] as const) : []),
        ]),
        body: body === null ? new Uint8Array(0) : encoder.encode(body),
      };
      const dst = new Uint32Array(4);
      dst[0] = address;
      httpExchange(this.node, 4, dst, target.port, req, (x) => {
        if (x.kind !== "response") {
          done({ kind: "network-error", detail: x.kind === "malformed" ? x.message : x.kind });
          return;
        }
        const readable = page === null || page.origin === target.origin;
        done({
          kind: "response",
          status: x.response.status,
          readable,
          body: readable ? bodyText(x.response) : null,
          address: formatIpv4(address),
        });
      });
    });
  }

  /** The host's stub resolver plus the browser's host cache: one A query, cached for the answer's TTL. */
  private resolve(host: string, done: (address: number | null, failure: string) => void): void {
    const literal = parseIpv4(host);
    if (literal !== null) {
      done(literal, "");
      return;
    }
    const now = this.options.clock.now;
    const cached = this.cache.get(host);
    if (cached !== undefined && cached.expiresAtMs > now) {
      done(cached.address, cached.address === null ? `${host}: no address (cached)` : "");
      return;
    }
    const id = this.node.rng.nextU32() & 0xffff;
    const q = dns.query(id, host, dns.DnsType.A);
    if (!q.ok) {
      done(null, `${host}: ${q.error.message}`);
      return;
    }
    const sport = EPHEMERAL_MIN + (this.node.rng.nextU32() % (EPHEMERAL_MAX - EPHEMERAL_MIN + 1));
    let finished = false;
    const finish = (address: number | null, ttl: number, failure: string): void => {
      if (finished) return;
      finished = true;
      this.node.stack.unbindUdp(sport);
      this.cache.set(host, { address, expiresAtMs: this.options.clock.now + ttl * 1000 });
      this.note("resolve", address === null ? failure : `${host} → ${formatIpv4(address)} (TTL ${ttl}s)`);
      done(address, failure);
    };
    this.node.stack.bindUdp(sport, (d) => {
      const a = dns.parse(d.payload);
      if (!a.ok || !a.value.qr || a.value.id !== id) return null;
      const record = a.value.answers.find((rr) => rr.data.kind === "a");
      if (record === undefined || record.data.kind !== "a") {
        const rcode = a.value.rcode === dns.DnsRcode.NOERROR ? "no address in the answer" : `rcode ${a.value.rcode}`;
        finish(null, 0, `${host}: ${rcode}`);
      } else finish(record.data.address, record.ttl, "");
      return null;
    });
    this.node.stack.sendUdp(4, this.resolverWords, DNS_PORT, sport, dns.emit(q.value));
    this.options.clock.after(this.options.dnsTimeoutMs ?? 2000, () => {
      finish(null, 0, `${host}: DNS timeout`);
    });
  }

  private note(what: BrowserLogEntry["what"], detail: string): void {
    this.log.push({ timeMs: this.options.clock.now, what, detail });
  }
}

function describe(r: FetchOutcome): string {
  switch (r.kind) {
    case "response":
      return `HTTP ${r.status} from ${r.address}${r.readable ? "" : " (opaque)"}`;
    case "blocked":
      return `blocked: ${r.detail}`;
    case "dns-failure":
      return `DNS failure: ${r.detail}`;
    case "network-error":
      return `network error: ${r.detail}`;
  }
}
