// The lab on the real kernel: `lab up` of seed-home, then traffic from inside the namespaces (U pings the router,
// reaches S's services, reaches the web host through the masquerade; Mallory's SYN to the WAN address dies
// silently), `lab status`, `lab down` leaving no namespace and no process, a second `down` as a no-op, and a
// `down` after a crash that lost the state file. Runs only as root with `ip netns` and `nft`; namespaces carry a
// per-run prefix so a lab the user has up is never touched.

import { existsSync, readFileSync, rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadNetwork } from "../model/index.js";
import type { Network } from "../model/index.js";
import { SNMP_RESPONSE } from "../sim/host-stack.js";
import * as dns from "../wire/dns.js";
import { inNamespace, listNamespaces, probeLab, runCommand } from "./commands.js";
import { labDown, labStatus, labUp, processAlive } from "./lab.js";
import type { ListenerEvent } from "./listener-service.js";
import { nodeNamespace } from "./plan.js";
import { statePaths } from "./state.js";

const caps = await probeLab();
if (caps.missing !== null) console.warn(`src/lab/lab.test.ts skipped: ${caps.missing}`);
const hasDnsmasq = (await runCommand("dnsmasq", ["--version"])).stdout.includes("Dnsmasq version");
if (caps.missing === null && !hasDnsmasq)
  console.warn(
    "src/lab/lab.test.ts: the router's resolver tests skipped: needs dnsmasq (apt-get install dnsmasq-base)",
  );

const PREFIX = `mlab-t${process.pid}`;
const SEED_HOME = new URL("../../examples/seed-home.yaml", import.meta.url).pathname;

/**
 * A one-shot client run with node inside a namespace: TCP connects (optionally sends), collects what comes back
 * for a moment, and prints {result, hex}; UDP sends one datagram and waits for one reply.
 */
const CLIENT = `
const [proto, host, port, payloadHex, waitMs] = process.argv.slice(1);
const payload = Buffer.from(payloadHex, "hex");
const done = (result, data) => { console.log(JSON.stringify({ result, hex: data ? data.toString("hex") : "" })); process.exit(0); };
if (proto === "tcp") {
  const s = require("net").connect(Number(port), host);
  let got = Buffer.alloc(0);
  const timer = setTimeout(() => done(got.length > 0 ? "data" : "timeout", got), Number(waitMs));
  s.on("connect", () => { if (payload.length > 0) s.write(payload); });
  s.on("data", (d) => { got = Buffer.concat([got, d]); setTimeout(() => { clearTimeout(timer); done("data", got); }, 100); });
  s.on("error", (e) => { clearTimeout(timer); done(e.code); });
} else {
  const s = require("dgram").createSocket(host.includes(":") ? "udp6" : "udp4");
  const timer = setTimeout(() => done("timeout"), Number(waitMs));
  s.on("message", (m) => { clearTimeout(timer); done("data", m); });
  s.send(payload, Number(port), host);
}
`;

interface ClientResult {
  result: string;
  hex: string;
}

async function client(
  node: string,
  proto: "tcp" | "udp",
  host: string,
  port: number,
  payload: string,
  waitMs = 1500,
): Promise<ClientResult> {
  const hex = Buffer.from(payload).toString("hex");
  const out = await inNamespace(nodeNamespace(PREFIX, "seed-home", node), process.execPath, [
    "-e",
    CLIENT,
    proto,
    host,
    String(port),
    hex,
    String(waitMs),
  ]);
  expect(out.stderr).toBe("");
  return JSON.parse(out.stdout) as ClientResult;
}

const text = (hex: string): string => Buffer.from(hex, "hex").toString("latin1");

/** A query as the client's payload text (every byte of these is ASCII, so the text round-trips). */
function queryText(id: number, name: string, type: number, klass: number): string {
  const q = dns.query(id, name, type, { class: klass });
  if (!q.ok) throw new Error(q.error.message);
  return Buffer.from(dns.emit(q.value)).toString("latin1");
}
const VERSION_BIND_QUERY = queryText(0x4d41, "version.bind", dns.DnsType.TXT, dns.DnsClass.CH);
const EVIL_EXAMPLE_QUERY = queryText(0x4d42, "evil.example", dns.DnsType.A, dns.DnsClass.IN);

function logOf(node: string): ListenerEvent[] {
  const file = `${statePaths("seed-home", PREFIX).dir}/${node}.log.jsonl`;
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as ListenerEvent);
}

async function ourNamespaces(): Promise<string[]> {
  return (await listNamespaces()).filter((n) => n.startsWith(`${PREFIX}-`));
}

describe.skipIf(caps.missing !== null)("lab on the kernel: seed-home", () => {
  let network: Network;
  let upMs = 0;
  let pids: number[] = [];

  beforeAll(async () => {
    const loaded = await loadNetwork(SEED_HOME);
    if (loaded.network === null) throw new Error("examples/seed-home.yaml does not load");
    network = loaded.network;
    const up = await labUp(network, { prefix: PREFIX, handleSignals: false });
    if (!up.ok) throw new Error(`lab up failed: ${up.error.message}`);
    upMs = up.value.elapsedMs;
    pids = up.value.state.processes.map((p) => p.pid);
  }, 30_000);

  afterAll(async () => {
    await labDown(network, { prefix: PREFIX });
  }, 30_000);

  it("comes up in under 5 s with a listener per node that has services and dnsmasq on the router", () => {
    expect(upMs).toBeLessThan(5000);
    expect(pids.length).toBe(hasDnsmasq ? 4 : 3);
    expect(pids.every(processAlive)).toBe(true);
  });

  it("reports every namespace with the model's addresses in lab status", async () => {
    const s = await labStatus(network, { prefix: PREFIX });
    expect(s.ok).toBe(true);
    if (!s.ok) return;
    expect(s.value.up).toBe(true);
    expect(s.value.namespaces.length).toBe(8);
    const router = s.value.namespaces.find((n) => n.role === "router");
    expect(router?.addresses).toEqual(["lan 192.168.1.1/24", "lan 2001:db8:1::1/64", "wan 198.51.100.2/24"]);
    expect(s.value.processes.map((p) => [p.what, p.node, p.alive])).toEqual([
      ["listener", "s", true],
      ["listener", "mallory", true],
      ["listener", "web", true],
      ...(hasDnsmasq ? [["dnsmasq", "router", true]] : []),
    ]);
  });

  it.skipIf(!hasDnsmasq)("runs dnsmasq on the router's LAN address only (UDP and TCP 53), nowhere else", async () => {
    const router = nodeNamespace(PREFIX, "seed-home", "router");
    const udp = await inNamespace(router, "ss", ["-Hlnu"]);
    const tcp = await inNamespace(router, "ss", ["-Hlnt"]);
    const local = (out: string): string[] =>
      out
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => l.trim().split(/\s+/)[3]);
    expect(local(udp.stdout)).toEqual(["192.168.1.1:53"]);
    expect(local(tcp.stdout)).toEqual(["192.168.1.1:53"]);
  });

  it.skipIf(!hasDnsmasq)("answers U's query through the router's dnsmasq and forwards it to Mallory", async () => {
    // CHAOS TXT version.bind: dnsmasq answers it itself (RFC 4892), so the answer proves U reaches it on the LAN.
    const version = await client("u", "udp", "192.168.1.1", 53, VERSION_BIND_QUERY);
    expect(version.result).toBe("data");
    const reply = Buffer.from(version.hex, "hex");
    expect(reply.readUInt16BE(0)).toBe(0x4d41);
    expect(reply[2] & 0x80).toBe(0x80);
    expect(reply.readUInt16BE(6)).toBe(1);
    expect(text(version.hex)).toContain("dnsmasq-2.");
    // evil.example goes upstream: Mallory's listener logs the query, from the router's WAN address.
    await client("u", "udp", "192.168.1.1", 53, EVIL_EXAMPLE_QUERY, 1000);
    const seen = logOf("mallory").filter((e) => e.event === "datagram" && e.port === 53);
    expect(seen.length).toBe(1);
    expect(seen[0].event === "datagram" ? seen[0].peer : "").toBe("198.51.100.2");
    expect(text(seen[0].event === "datagram" ? (seen[0].head ?? "") : "")).toContain("evil");
    const log = readFileSync(`${statePaths("seed-home", PREFIX).dir}/router.dnsmasq.log`, "utf8");
    expect(log).toContain("query[A] evil.example from 192.168.1.10");
    expect(log).toContain("forwarded evil.example to 203.0.113.66");
  });

  it("lets U ping the router on the LAN", async () => {
    const out = await inNamespace(nodeNamespace(PREFIX, "seed-home", "u"), "ping", [
      "-c",
      "1",
      "-W",
      "2",
      "192.168.1.1",
    ]);
    expect(out.status).toBe(0);
    expect(out.stdout).toContain("1 received");
  });

  it("lets U reach S:5432 (echo) and S:22 (the model's SSH banner), and S logs U as the peer", async () => {
    const pg = await client("u", "tcp", "192.168.1.20", 5432, "select 1;");
    expect(pg).toEqual({ result: "data", hex: Buffer.from("select 1;").toString("hex") });
    const ssh = await client("u", "tcp", "192.168.1.20", 22, "");
    expect(text(ssh.hex)).toBe("SSH-2.0-OpenSSH_7.4\r\n");
    const accepts = logOf("s").filter((e) => e.event === "accept");
    expect(accepts.map((e) => (e.event === "accept" ? `${e.peer}>${e.port}` : ""))).toEqual([
      "192.168.1.10>5432",
      "192.168.1.10>22",
    ]);
  });

  it("answers U's SNMP request with the twin's GetResponse", async () => {
    const r = await client("u", "udp", "192.168.1.20", 161, "probe");
    expect(r.result).toBe("data");
    expect(r.hex).toBe(Buffer.from(SNMP_RESPONSE).toString("hex"));
  });

  it("masquerades U's connection to the web host: the web log shows the router's WAN address", async () => {
    const r = await client("u", "tcp", "203.0.113.80", 80, "GET / HTTP/1.1\r\n\r\n");
    expect(text(r.hex).startsWith("HTTP/1.1 200 OK")).toBe(true);
    const seen = logOf("web").filter((e) => e.event === "accept");
    expect(seen.length).toBe(1);
    expect(seen[0].event === "accept" ? seen[0].peer : "").toBe("198.51.100.2");
  });

  it("drops Mallory's SYN to the router's WAN address without an answer (no RST)", async () => {
    const r = await client("mallory", "tcp", "198.51.100.2", 22, "", 1500);
    expect(r.result).toBe("timeout");
  });

  it("goes down in under 2 s leaving no namespace and no process; a second down is a no-op", async () => {
    const down = await labDown(network, { prefix: PREFIX });
    expect(down.ok ? "" : down.error.message).toBe("");
    if (!down.ok) return;
    expect(down.value.removedAnything).toBe(true);
    expect(down.value.elapsedMs).toBeLessThan(2000);
    expect(down.value.namespaces.length).toBe(8);
    expect([...down.value.killed].sort()).toEqual([...pids].sort());
    expect(await ourNamespaces()).toEqual([]);
    expect(pids.some(processAlive)).toBe(false);
    expect((await runCommand("pgrep", ["-f", `${statePaths("seed-home", PREFIX).dir}/router.dnsmasq`])).stdout).toBe(
      "",
    );
    expect(existsSync(statePaths("seed-home", PREFIX).file)).toBe(false);

    const again = await labDown(network, { prefix: PREFIX });
    expect(again.ok && again.value).toMatchObject({ removedAnything: false, namespaces: [], killed: [] });
  }, 10_000);

  it("cleans up after a crash that lost the state file, from the plan's namespace names", async () => {
    const up = await labUp(network, { prefix: PREFIX, handleSignals: false });
    expect(up.ok).toBe(true);
    if (!up.ok) return;
    const crashed = up.value.state.processes.map((p) => p.pid);
    rmSync(up.value.stateFile);
    const down = await labDown(network, { prefix: PREFIX });
    expect(down.ok && down.value.namespaces.length).toBe(8);
    expect(await ourNamespaces()).toEqual([]);
    expect(crashed.some(processAlive)).toBe(false);
  }, 30_000);

  it("refuses a second up while the lab exists", async () => {
    const first = await labUp(network, { prefix: PREFIX, handleSignals: false });
    expect(first.ok).toBe(true);
    const second = await labUp(network, { prefix: PREFIX, handleSignals: false });
    expect(second.ok ? "up" : second.error.kind).toBe("exists");
    await labDown(network, { prefix: PREFIX });
    expect(await ourNamespaces()).toEqual([]);
  }, 30_000);
});
