// The lab plan of the examples, without a kernel: namespace and interface names, which segments become a bridge
// namespace and which a single veth pair, the `ip -batch` lines, sysctls per the model, the rulesets nft loads
// (the model's text unchanged, port forwards as the twin renders them), and the listeners' reply rules.

import { readFileSync } from "node:fs";
import { fc, test as property } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { OPENWRT_TIMEOUTS } from "../engine/conntrack/index.js";
import { parseNftText } from "../config/nftables/index.js";
import { parseNetwork } from "../model/index.js";
import type { Network } from "../model/index.js";
import { HTTP_RESPONSE, SNMP_RESPONSE, SSH_BANNER } from "../sim/host-stack.js";
import { peerAddress, tcpBehaviour, udpReply } from "./listener-service.js";
import { dnsmasqArgs, IFNAME_MAX, planLab, routeLine } from "./plan.js";
import type { LabPlan, PlannedNamespace } from "./plan.js";

function example(name: string): Network {
  const path = `examples/${name}.yaml`;
  const r = parseNetwork(readFileSync(new URL(`../../${path}`, import.meta.url), "utf8"), path);
  if (r.network === null) throw new Error(r.diagnostics.map((d) => d.message).join("; "));
  return r.network;
}

function ns(plan: LabPlan, name: string): PlannedNamespace {
  const found = plan.namespaces.find((n) => n.name === name);
  if (found === undefined) throw new Error(`no namespace ${name}`);
  return found;
}

describe("planLab(seed-home)", () => {
  const network = example("seed-home");
  const plan = planLab(network);

  it("makes one namespace per node and one bridge namespace per shared segment", () => {
    expect(plan.problems).toEqual([]);
    expect(plan.namespaces.map((n) => n.name).sort()).toEqual(
      [
        "mlab-seed-home-router",
        "mlab-seed-home-u",
        "mlab-seed-home-s",
        "mlab-seed-home-isp",
        "mlab-seed-home-mallory",
        "mlab-seed-home-web",
        "mlab-seed-home-seg-home",
        "mlab-seed-home-seg-internet",
      ].sort(),
    );
  });

  it("joins the WAN link with one veth pair and bridges the LAN's three interfaces", () => {
    const wan = plan.links.filter((l) => l.segment === "router-wan");
    expect(wan).toEqual([
      {
        a: { namespace: "mlab-seed-home-isp", ifname: "cust0" },
        b: { namespace: "mlab-seed-home-router", ifname: "wan" },
        segment: "router-wan",
      },
    ]);
    const home = plan.links.filter((l) => l.segment === "home");
    expect(home.map((l) => `${l.a.namespace}:${l.a.ifname}`)).toEqual([
      "mlab-seed-home-router:lan",
      "mlab-seed-home-u:eth0",
      "mlab-seed-home-s:eth0",
    ]);
    expect(new Set(home.map((l) => l.b.namespace))).toEqual(new Set(["mlab-seed-home-seg-home"]));
    expect(ns(plan, "mlab-seed-home-seg-home").ipBatch).toEqual([
      "link set lo up",
      "link add br0 type bridge stp_state 0",
      "link set p0 master br0",
      "link set p1 master br0",
      "link set p2 master br0",
      "link set p0 up",
      "link set p1 up",
      "link set p2 up",
      "link set br0 up",
    ]);
    expect(plan.hostBatch).toContain(
      "link add cust0 netns mlab-seed-home-isp type veth peer name wan netns mlab-seed-home-router",
    );
    expect(plan.hostBatch).toContain(
      "link add lan netns mlab-seed-home-router type veth peer name p0 netns mlab-seed-home-seg-home",
    );
    for (const l of plan.links) {
      expect(l.a.ifname.length).toBeLessThanOrEqual(IFNAME_MAX);
      expect(l.b.ifname.length).toBeLessThanOrEqual(IFNAME_MAX);
    }
  });

  it("gives the router its addresses, default route, forwarding and the model's rp_filter", () => {
    const router = ns(plan, "mlab-seed-home-router");
    expect(router.ipBatch).toEqual([
      "link set lo up",
      "addr add 198.51.100.2/24 dev wan",
      "link set wan up",
      "addr add 192.168.1.1/24 dev lan",
      "addr add 2001:db8:1::1/64 dev lan nodad",
      "link set lan up",
      "route add default via 198.51.100.1",
    ]);
    expect(router.sysctls).toEqual([
      "net.ipv4.ip_forward=1",
      "net.ipv6.conf.all.forwarding=1",
      "net.ipv4.conf.all.rp_filter=0",
      "net.ipv4.conf.default.rp_filter=0",
      "net.ipv4.conf.lo.rp_filter=0",
      "net.ipv4.conf.wan.rp_filter=0",
      "net.ipv4.conf.lan.rp_filter=0",
    ]);
    expect(router.conntrackSysctls).toContain("net.netfilter.nf_conntrack_tcp_timeout_established=432000");
    expect(router.conntrackSysctls).toContain("net.netfilter.nf_conntrack_tcp_be_liberal=0");
  });

  it("routes hosts through the router in both families and does not forward on them", () => {
    const u = ns(plan, "mlab-seed-home-u");
    expect(u.ipBatch.slice(-2)).toEqual(["route add default via 192.168.1.1", "route add ::/0 via 2001:db8:1::1"]);
    expect(u.sysctls[0]).toBe("net.ipv4.ip_forward=0");
    expect(u.conntrackSysctls).toEqual([]);
  });

  it("loads the router's firewall text exactly as written in the YAML", () => {
    const router = ns(plan, "mlab-seed-home-router");
    const fw = network.routers[0].firewall;
    expect(fw?.kind).toBe("inline");
    expect(router.rulesets).toEqual([
      { kind: "text", what: "firewall", fileName: "router.nft", text: fw?.kind === "inline" ? fw.text : "" },
    ]);
  });

  it("serves every modelled service, on LAN hosts and on internet hosts", () => {
    expect(ns(plan, "mlab-seed-home-s").services.map((s) => `${s.port}/${s.proto}`)).toEqual([
      "22/tcp",
      "5432/tcp",
      "8080/tcp",
      "161/udp",
    ]);
    expect(ns(plan, "mlab-seed-home-web").services).toEqual([{ proto: "tcp", port: 80, name: "http", banner: null }]);
    expect(ns(plan, "mlab-seed-home-u").services).toEqual([]);
  });

  it("keeps another prefix's namespaces apart", () => {
    const other = planLab(network, { prefix: "mlab-t1" });
    expect(other.namespaces.every((n) => n.name.startsWith("mlab-t1-seed-home-"))).toBe(true);
  });
});

describe("planLab on the other examples", () => {
  it("renders homelab's port forwards as the twin's DNAT table, which nft's grammar accepts", () => {
    const plan = planLab(example("homelab"));
    const router = plan.namespaces.find((n) => n.rulesets.some((r) => r.what === "port forwards"));
    const load = router?.rulesets.find((r) => r.what === "port forwards");
    expect(load?.kind).toBe("text");
    const text = load?.kind === "text" ? load.text : "";
    expect(text).toContain("tcp dport 5000 dnat to");
    expect(text).toContain("tcp dport 25565 dnat to");
    const parsed = parseNftText(text, { source: "port-forwards" });
    expect(parsed.diagnostics.filter((d) => d.severity !== "warning")).toEqual([]);
    expect(parsed.ruleset?.tables.map((t) => t.name)).toEqual(["mallory_port_forwards"]);
  });

  it("sets OpenWrt's conntrack timeouts where the model picks that profile", () => {
    const plan = planLab(example("openwrt-default"));
    const routers = plan.namespaces.filter((n) => n.role.kind === "node" && n.role.node.kind === "router");
    expect(routers.length).toBe(1);
    expect(routers[0].conntrackSysctls).toContain(
      `net.netfilter.nf_conntrack_tcp_timeout_established=${OPENWRT_TIMEOUTS.tcpEstablished}`,
    );
    expect(routers[0].conntrackSysctls).toContain(`net.netfilter.nf_conntrack_udp_timeout=${OPENWRT_TIMEOUTS.udp}`);
  });

  it("applies small-office's strict rp_filter to every router interface", () => {
    const plan = planLab(example("small-office"));
    const router = plan.namespaces.find((n) => n.role.kind === "node" && n.role.node.kind === "router");
    const rp = router?.sysctls.filter((s) => s.includes("rp_filter")) ?? [];
    expect(rp.length).toBeGreaterThan(3);
    expect(rp.every((s) => s.endsWith("=1"))).toBe(true);
  });
});

describe("routeLine", () => {
  it("writes gateways, devices, on-link gateways, IPv6 defaults and route types", () => {
    expect(routeLine({ to: "default", via: "192.0.2.1" })).toBe("route add default via 192.0.2.1");
    expect(routeLine({ to: "default", via: "203.0.113.1", dev: "eth0" })).toBe(
      "route add default via 203.0.113.1 dev eth0 onlink",
    );
    expect(routeLine({ to: "198.51.100.7/32", dev: "internet" })).toBe("route add 198.51.100.7/32 dev internet");
    expect(routeLine({ to: "default6", via: "2001:db8::1" })).toBe("route add ::/0 via 2001:db8::1");
    expect(routeLine({ to: "10.0.0.0/8", type: "blackhole" })).toBe("route add blackhole 10.0.0.0/8");
  });
});

describe("listener replies (the twin's host stack, byte for byte)", () => {
  const svc = (name: string, banner: string | null = null) => ({ proto: "tcp" as const, port: 1, name, banner });

  it("speaks first with the model's banner, else OpenSSH's for ssh; answers HTTP for web services; else echoes", () => {
    const banner = tcpBehaviour(svc("ssh", "SSH-2.0-OpenSSH_7.4\r\n"));
    expect(banner.kind === "banner" ? new TextDecoder().decode(banner.bytes) : "").toBe("SSH-2.0-OpenSSH_7.4\r\n");
    const ssh = tcpBehaviour(svc("ssh"));
    expect(ssh.kind === "banner" ? new TextDecoder().decode(ssh.bytes) : "").toBe(SSH_BANNER);
    expect(tcpBehaviour(svc("http")).kind).toBe("http");
    expect(tcpBehaviour(svc("web-admin")).kind).toBe("http");
    expect(tcpBehaviour(svc("postgres")).kind).toBe("echo");
    expect(HTTP_RESPONSE.startsWith("HTTP/1.1 200 OK")).toBe(true);
  });

  property.prop([fc.uint8Array({ maxLength: 512 }), fc.constantFrom("dns", "stun", "sip", "snmp")])(
    "UDP: SNMP gets the GetResponse, every other service its datagram back",
    (payload, name) => {
      const reply = udpReply({ proto: "udp", port: 1, name, banner: null }, payload);
      expect(reply).toEqual(name === "snmp" ? SNMP_RESPONSE : payload);
    },
  );

  property.prop([fc.ipV4(), fc.ipV6()])(
    "peerAddress unwraps IPv4-mapped peers and leaves IPv4 and IPv6 peers alone",
    (v4, v6) => {
      expect(peerAddress(`::ffff:${v4}`)).toBe(v4);
      expect(peerAddress(v4)).toBe(v4);
      expect(peerAddress(v6)).toBe(v6.startsWith("::ffff:") && v6.includes(".") ? v6.slice(7) : v6);
    },
  );
});

describe("the routers' DNS resolver (dnsmasq)", () => {
  const files = { log: "/run/mallory/x/router.dnsmasq.log", pidFile: "/run/mallory/x/router.dnsmasq.pid" };

  it("plans dnsmasq on seed-home's router only: its LAN address, Mallory upstream, no rebind protection", () => {
    const plan = planLab(example("seed-home"));
    const withResolver = plan.namespaces.filter((n) => n.resolver !== null).map((n) => n.name);
    expect(withResolver).toEqual(["mlab-seed-home-router"]);
    expect(ns(plan, "mlab-seed-home-router").resolver).toEqual({
      listen: ["192.168.1.1"],
      upstream: "203.0.113.66",
      rebindProtection: false,
    });
  });

  it("turns rebind_protection into --stop-dns-rebind and binds the listen addresses only", () => {
    const hardened = ns(planLab(example("seed-home-hardened")), "mlab-seed-home-hardened-router").resolver;
    expect(hardened?.rebindProtection).toBe(true);
    if (hardened === null) return;
    const args = dnsmasqArgs(hardened, files);
    expect(args).toContain("--stop-dns-rebind");
    expect(args).toEqual(
      expect.arrayContaining([
        "--keep-in-foreground",
        "--no-resolv",
        "--no-hosts",
        "--bind-interfaces",
        "--listen-address=192.168.1.1",
        "--server=203.0.113.66",
        `--log-facility=${files.log}`,
        `--pid-file=${files.pidFile}`,
      ]),
    );
    const off = dnsmasqArgs({ ...hardened, rebindProtection: false }, files);
    expect(off).not.toContain("--stop-dns-rebind");
    expect(dnsmasqArgs({ ...hardened, upstream: null }, files).some((a) => a.startsWith("--server"))).toBe(false);
  });

  it("plans none for a router whose model runs no resolver", () => {
    const network = example("seed-home");
    const noResolver: Network = {
      ...network,
      routers: network.routers.map((r) => ({ ...r, dns: { resolver: false, rebindProtection: false } })),
    };
    expect(planLab(noResolver).namespaces.every((n) => n.resolver === null)).toBe(true);
  });
});
