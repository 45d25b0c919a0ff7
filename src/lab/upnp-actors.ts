// The kernel side of upnp-forward-self and upnp-forward-other (`lab verify`): the real miniupnpd (Debian's
// miniupnpd-nftables) in the router's namespace with a configuration written from the model (listening_ip the LAN
// interface, ext_ifname the WAN, secure_mode and the permission lines), the malware's request made with miniupnpc's
// `upnpc` from the foothold, and Mallory's connection to the mapped WAN port made by raw-actor.py. A router with
// UPnP off runs no miniupnpd, as in reality, so the malware finds no IGD.
//
// Lab facts (SCENARIOS.md ground truth): miniupnpd refuses every mapping while its WAN address is a documentation
// (reserved) address, unless `ext_perform_stun` learns the external address; the lab's STUN server is a
// raw-actor.py responder on the ISP node. Its rules go into its own chains: `miniupnpd` in the model's inet table
// that holds the forward chain (entered by a `jump` at that chain's head, as nft_init.sh and OpenWrt's fw4 do, and
// as sim/services/miniupnpd-redirects.ts models it) and an inet nat table of its own.

import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AttackPlan } from "../attacks/attack.js";
import { attackerEndpoint } from "../attacks/attack-run.js";
import { EXTERNAL_PORT } from "../attacks/upnp-forward-other.js";
import { STUN_PORT } from "../attacks/actors/stun-server.js";
import type { Router } from "../model/index.js";
import { ISP_NODE } from "../sim/topology.js";
import { formatIpv4 } from "../wire/address.js";
import { runRawActor } from "./raw-actors.js";
// Types only: verify.ts imports this module to register the actors.
import type { KernelAttack, KernelOutcome, RunningLab } from "./verify.js";

const ACTOR = fileURLToPath(new URL("./raw-actor.py", import.meta.url));
const NETNS_DIR = "/run/netns";
/** miniupnpd's HTTP port (any free port; upnpc is given the root description URL with it). */
const HTTP_PORT = 5000;
const FORWARD_CHAIN = "miniupnpd";
const NAT_TABLE = "miniupnpd_nat";
const NAT_CHAIN = "prerouting_miniupnpd";
const NAT_POSTROUTING_CHAIN = "postrouting_miniupnpd";
/** miniupnpd logs this once its STUN test enabled port forwarding and it serves HTTP (miniupnpd.c). */
const MINIUPNPD_READY = "HTTP listening on port";
const MINIUPNPD_START_MS = 8_000;
const SESSION_WAIT_MS = 1500;
const STOP_GRACE_MS = 1000;

/** The simulator's payloads (attacks/upnp-forward-self.ts, upnp-forward-other.ts). */
const MALWARE_GREETING = "malware: shell ready\n";
const CLIENT_HELLO = "GET / HTTP/1.0\r\n\r\n";

const notRunnable = (evidence: string): KernelOutcome => ({ outcome: "not-runnable", evidence });

interface NftChain {
  chain?: { family: string; table: string; name: string; hook?: string; type?: string };
}

/** The model's forward base chains, where miniupnpd's accept rules must be reachable. */
async function forwardChains(
  lab: RunningLab,
  router: string,
): Promise<{ family: string; table: string; name: string }[]> {
  const out = await lab.exec(router, ["nft", "-j", "list", "chains"]);
  if (out.status !== 0) return [];
  const parsed = JSON.parse(out.stdout) as { nftables?: NftChain[] };
  return (parsed.nftables ?? []).flatMap((e) =>
    e.chain?.hook === "forward" && e.chain.type === "filter" ? [e.chain] : [],
  );
}

/** Creates miniupnpd's chains once per lab; a later plan flushes the mappings of the one before. */
async function prepareChains(lab: RunningLab, router: string): Promise<{ table: string } | string> {
  const chains = await forwardChains(lab, router);
  if (chains.length === 0) return "the router has no forward filter chain";
  const table = chains[0].table;
  if (chains.some((c) => c.family !== "inet" || c.table !== table))
    return "miniupnpd (nftables) uses one inet table; the router's forward chains are elsewhere";
  const exists = (await lab.exec(router, ["nft", "list", "chain", "inet", table, FORWARD_CHAIN])).status === 0;
  const text = exists
    ? [`flush chain inet ${table} ${FORWARD_CHAIN}`, `flush chain inet ${NAT_TABLE} ${NAT_CHAIN}`].join("\n")
    : [
        `add chain inet ${table} ${FORWARD_CHAIN}`,
        ...chains.map((c) => `insert rule inet ${table} ${c.name} jump ${FORWARD_CHAIN}`),
        `table inet ${NAT_TABLE} {`,
        `  chain prerouting { type nat hook prerouting priority dstnat; policy accept; jump ${NAT_CHAIN}; }`,
        `  chain ${NAT_CHAIN} { }`,
        `  chain postrouting { type nat hook postrouting priority srcnat; policy accept; jump ${NAT_POSTROUTING_CHAIN}; }`,
        `  chain ${NAT_POSTROUTING_CHAIN} { }`,
        `}`,
      ].join("\n");
  const out = await lab.exec(router, ["nft", "-f", "-"], { input: `${text}\n` });
  return out.status === 0 ? { table } : `nft in ${router}: ${out.stderr.trim()}`;
}

/** miniupnpd.conf from the model (miniupnpd.conf(5) keys of 2.3.1). */
export function miniupnpdConfig(router: Router, lanIf: string, stunHost: string, table: string): string {
  const lines = [
    `ext_ifname=${router.wan.interface}`,
    `listening_ip=${lanIf}`,
    `http_port=${HTTP_PORT}`,
    "enable_upnp=yes",
    `enable_natpmp=${router.upnp.natPmp ? "yes" : "no"}`,
    `secure_mode=${router.upnp.secureMode ? "yes" : "no"}`,
    "system_uptime=yes",
    // A documentation-range WAN address is "reserved"; STUN is the only way miniupnpd accepts it.
    "ext_perform_stun=yes",
    `ext_stun_host=${stunHost}`,
    `ext_stun_port=${STUN_PORT}`,
    `upnp_table_name=${table}`,
    `upnp_nat_table_name=${NAT_TABLE}`,
    `upnp_forward_chain=${FORWARD_CHAIN}`,
    `upnp_nat_chain=${NAT_CHAIN}`,
    `upnp_nat_postrouting_chain=${NAT_POSTROUTING_CHAIN}`,
  ];
  const range = (r: readonly [number, number]): string => (r[0] === r[1] ? `${r[0]}` : `${r[0]}-${r[1]}`);
  for (const p of router.upnp.permissions)
    lines.push(`${p.action} ${range(p.extPorts)} ${formatIpv4(p.prefix.addr)}/${p.prefix.len} ${range(p.intPorts)}`);
  return `${lines.join("\n")}\n`;
}

/** A process of ours in a namespace, its output collected; stopped by its own pid. */
interface Daemon {
  readonly child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

function startDaemon(
  ns: string,
  argv: readonly string[],
  input: string | null,
  ready: string,
): Promise<Daemon | string> {
  return new Promise((done) => {
    const child = spawn("ip", ["netns", "exec", ns, ...argv], {
      stdio: [input === null ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let text = "";
    let settled = false;
    const exited = new Promise<void>((gone) =>
      child.on("close", () => {
        gone();
      }),
    );
    const daemon: Daemon = {
      child,
      output: () => text,
      stop: async () => {
        child.stdin?.end();
        if (child.exitCode === null) child.kill("SIGTERM");
        const kill = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
        await exited;
        clearTimeout(kill);
      },
    };
    const finish = (r: Daemon | string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      done(r);
    };
    const timer = setTimeout(() => {
      void daemon.stop().then(() => {
        finish(`${argv[0]} did not get ready: ${text.trim().split("\n").slice(-3).join(" / ")}`);
      });
    }, MINIUPNPD_START_MS);
    const onData = (d: string): void => {
      text += d;
      if (text.includes(ready)) finish(daemon);
    };
    child.stdout?.setEncoding("utf8").on("data", onData);
    child.stderr?.setEncoding("utf8").on("data", onData);
    child.on("error", (e) => {
      finish(`${argv[0]} could not start: ${e.message}`);
    });
    child.on("close", (code) => {
      finish(`${argv[0]} exited ${code ?? "on a signal"}: ${text.trim().split("\n").slice(-3).join(" / ")}`);
    });
    if (input !== null) child.stdin?.write(input);
  });
}

/** upnpc's answer to AddPortMapping: mapped, or the UPnP error code it printed, or no IGD. */
function upnpcVerdict(stdout: string): { mapped: boolean; code: number | null; igd: boolean } {
  const failed = /failed with code (\d+)/.exec(stdout);
  return {
    mapped: /is redirected to internal/.test(stdout),
    code: failed === null ? null : Number(failed[1]),
    igd: !/No valid UPNP Internet Gateway Device found/.test(stdout),
  };
}

interface UpnpVariant {
  readonly id: string;
  readonly externalPort: (p: AttackPlan) => number;
  /** The malware's listener on the foothold (self), or none (the target's own service answers). */
  readonly listens: boolean;
  readonly judge: (received: string, acceptedFromMallory: boolean) => boolean;
}

async function runUpnp(lab: RunningLab, p: AttackPlan, v: UpnpVariant): Promise<KernelOutcome> {
  const network = lab.network;
  const m = attackerEndpoint(network);
  const foothold = network.hosts.find((h) => h.name === p.foothold);
  const target = network.hosts.find((h) => h.name === p.target.node);
  if (m === null || foothold === undefined || target === undefined)
    return notRunnable("the attack needs an attacker, a foothold and a target");
  const router = network.routers.find((r) => r.lans.some((l) => l.lan === foothold.lan));
  const lanIf = router?.lans.find((l) => l.lan === foothold.lan);
  const [footNs, malNs, ispNs] = [lab.namespaceOf(foothold.name), lab.namespaceOf(m.name), lab.namespaceOf(ISP_NODE)];
  if (router === undefined || lanIf === undefined || footNs === null || malNs === null || ispNs === null)
    return notRunnable("the lab lacks the router, the foothold, Mallory or the ISP");
  const wan = formatIpv4(router.wan.address);
  const ext = v.externalPort(p);
  const rootDesc = `http://${formatIpv4(lanIf.address)}:${HTTP_PORT}/rootDesc.xml`;
  const request = [formatIpv4(target.address), String(p.target.port), String(ext), p.target.proto];
  const daemons: Daemon[] = [];
  try {
    let miniupnpd = "not running: UPnP is off in the model";
    if (router.upnp.enabled) {
      const chains = await prepareChains(lab, router.name);
      if (typeof chains === "string") return notRunnable(chains);
      const ispAddress = lab.plan.namespaces
        .flatMap((n) => (n.role.kind === "node" && n.role.node.name === ISP_NODE ? n.role.node.interfaces : []))
        .flatMap((i) => i.addresses ?? [])
        .map((a) => a.split("/")[0])
        .find((a) => a.startsWith(wan.split(".").slice(0, 3).join(".")) && a !== wan);
      if (ispAddress === undefined) return notRunnable("the ISP has no address on the router's WAN prefix");
      const stun = await startDaemon(
        ispNs,
        ["python3", ACTOR],
        `${JSON.stringify({ mode: "stun-server", ns: `${NETNS_DIR}/${ispNs}`, port: STUN_PORT })}\n`,
        '"ready"',
      );
      if (typeof stun === "string") return notRunnable(`the lab's STUN server: ${stun}`);
      daemons.push(stun);
      const conf = join(lab.state.dir, `${router.name}.miniupnpd.conf`);
      writeFileSync(conf, miniupnpdConfig(router, lanIf.interface, ispAddress, chains.table));
      const routerNs = lab.namespaceOf(router.name) ?? "";
      const d = await startDaemon(
        routerNs,
        ["miniupnpd", "-d", "-f", conf, "-P", join(lab.state.dir, `${router.name}.miniupnpd.pid`)],
        null,
        MINIUPNPD_READY,
      );
      if (typeof d === "string") return notRunnable(`miniupnpd: ${d}`);
      daemons.push(d);
      miniupnpd = "running";
    }
    const upnpc = await lab.exec(foothold.name, ["upnpc", "-u", rootDesc, "-a", ...request]);
    if (upnpc.status === -1) return notRunnable(`upnpc: ${upnpc.stderr.trim()}`);
    const verdict = upnpcVerdict(upnpc.stdout);
    const session = await runRawActor({
      mode: "tcp-session",
      ...(v.listens
        ? { listenNs: `${NETNS_DIR}/${footNs}`, listenPort: p.target.port, greeting: MALWARE_GREETING }
        : {}),
      connectNs: `${NETNS_DIR}/${malNs}`,
      address: wan,
      port: ext,
      send: v.listens ? "" : CLIENT_HELLO,
      waitMs: SESSION_WAIT_MS,
    });
    if (!session.ok) return notRunnable(session.message);
    const s = session.value as { connected: boolean; received: string; acceptedFrom: string[] };
    const fromMallory = s.acceptedFrom.includes(m.address);
    const details = { miniupnpd, upnpc: verdict, request: request.join(" "), session: s };
    const asked = `${foothold.name} asked ${rootDesc} for ${wan}:${ext} -> ${request[0]}:${request[1]}/${request[3]}`;
    const answer = verdict.mapped
      ? "the IGD mapped it"
      : verdict.code !== null
        ? `the IGD refused with ${verdict.code}`
        : verdict.igd
          ? "the IGD did not map it"
          : "no IGD answered";
    if (v.judge(s.received, fromMallory))
      return {
        outcome: "breached",
        evidence: `${asked}: ${answer}; Mallory connected to ${wan}:${ext} and got ${JSON.stringify(s.received.slice(0, 40))}`,
        details,
      };
    return {
      outcome: "blocked",
      evidence: `${asked}: ${answer}; Mallory's connection to ${wan}:${ext} ${s.connected ? "opened but nothing came back" : "did not open"}`,
      details,
    };
  } finally {
    for (const d of daemons.reverse()) await d.stop();
  }
}

const upnpForwardSelfKernel: KernelAttack = {
  id: "upnp-forward-self",
  run: (lab, p) =>
    runUpnp(lab, p, {
      id: "upnp-forward-self",
      externalPort: (x) => x.target.port,
      listens: true,
      judge: (received, fromMallory) => fromMallory && received.startsWith(MALWARE_GREETING),
    }),
};

const upnpForwardOtherKernel: KernelAttack = {
  id: "upnp-forward-other",
  run: (lab, p) =>
    runUpnp(lab, p, {
      id: "upnp-forward-other",
      externalPort: () => EXTERNAL_PORT,
      listens: false,
      judge: (received) => received.length > 0,
    }),
};

/** Registered by verify.ts. */
export const UPNP_KERNEL_ATTACKS: readonly KernelAttack[] = [upnpForwardSelfKernel, upnpForwardOtherKernel];
