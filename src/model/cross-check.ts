// After the schema: the checks that need the whole document (names that refer to other entries, addresses that
// must lie in a subnet, values that must be unique), done while building the typed Network. Every finding points
// at the YAML key or value it is about and, where one is likely, suggests the fix.
import { resolve } from "node:path";
import {
  formatIpv4,
  formatIpv6,
  formatPrefix,
  maskV4,
  parseIpv4,
  parseIpv6,
  parsePrefix,
  prefixContainsV4,
  prefixContainsV6,
} from "../wire/address.js";
import { parseIntent, parseUpnpPermission } from "./intent.js";
import type { NetworkDoc } from "./schema.js";
import type {
  Firewall,
  Host,
  Intent,
  InternetHost,
  Ipv4Prefix,
  Ipv6Prefix,
  Lan,
  ModelDiagnostic,
  Network,
  PortForward,
  Router,
  RouterLan,
  Service,
  SourcePos,
  UpnpPermission,
} from "./types.js";
import type { YamlLocator, YamlPath } from "./yaml-locator.js";

/** The name intents use for "anywhere on the internet"; no node may take it. */
export const INTERNET = "internet";
// RFC 3021 point-to-point /31 and host /32 subnets have no network or broadcast address to avoid.
const SMALLEST_SUBNET_WITH_BROADCAST = 30;
const MAX_SUGGESTION_DISTANCE = 2;

export interface BuildOptions {
  /** Directory `{ file: ... }` firewalls are relative to; null leaves their paths as written. */
  readonly baseDir: string | null;
  /** Name of the YAML source, as diagnostics print it. */
  readonly source: string;
}

type Severity = ModelDiagnostic["severity"];

/** Edit distance, for "did you mean" hints on misspelt names. */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length];
}

/** `did you mean "x"?` for the closest candidate, else the list of what exists. */
export function suggest(name: string, candidates: readonly string[], what: string): string {
  let best: string | null = null;
  let bestDistance = MAX_SUGGESTION_DISTANCE + 1;
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  if (best !== null) return `did you mean "${best}"?`;
  return candidates.length === 0 ? `no ${what} is defined` : `defined ${what}: ${candidates.join(", ")}`;
}

function pathText(path: YamlPath): string {
  return path
    .map((s) => (typeof s === "number" ? `[${s}]` : `.${String(s)}`))
    .join("")
    .replace(/^\./, "");
}

class NetworkBuilder {
  readonly diagnostics: ModelDiagnostic[] = [];
  private readonly lans = new Map<string, Lan>();
  /** Who holds each IPv4 address (an integer) and IPv6 address (its canonical text): a path like hosts.s. */
  private readonly v4Owners = new Map<number, string>();
  private readonly v6Owners = new Map<string, string>();
  /** Every node name and the section that defines it. */
  private readonly nodes = new Map<string, string>();
  private readonly servedLans = new Set<string>();

  constructor(
    private readonly doc: NetworkDoc,
    private readonly loc: YamlLocator,
    private readonly options: BuildOptions,
  ) {}

  private report(severity: Severity, code: string, at: SourcePos, message: string, hint?: string): void {
    const d: ModelDiagnostic = { severity, code, message, file: at.file, line: at.line, column: at.column };
    this.diagnostics.push(hint === undefined ? d : { ...d, hint });
  }

  private error(code: string, at: SourcePos, message: string, hint?: string): void {
    this.report("error", code, at, message, hint);
  }

  build(): Network | null {
    this.collectNames();
    const isp = this.buildIsp();
    for (const [name, lan] of Object.entries(this.doc.lans)) this.buildLan(name, lan);
    this.checkLanOverlaps();
    const internetHosts = Object.entries(this.doc.internet.hosts).map(([n, h]) => this.buildInternetHost(n, h));
    const hostEntries = Object.entries(this.doc.hosts);
    const hostNames = new Map(hostEntries.map(([n, h]) => [n, h]));
    const routers = Object.entries(this.doc.routers).map(([n, r]) => this.buildRouter(n, r, isp, hostNames));
    const hosts = hostEntries.map(([n, h]) => this.buildHost(n, h));
    const intents = this.buildIntents(hosts, internetHosts);
    if (this.diagnostics.some((d) => d.severity === "error")) return null;
    return {
      name: this.doc.name,
      description: this.doc.description ?? null,
      source: this.options.source,
      internetHosts,
      isp,
      lans: [...this.lans.values()],
      routers,
      hosts,
      intents,
    };
  }

  private collectNames(): void {
    const sections: [string, Record<string, unknown>][] = [
      ["internet.hosts", this.doc.internet.hosts],
      ["routers", this.doc.routers],
      ["hosts", this.doc.hosts],
    ];
    for (const [section, entries] of sections) {
      for (const name of Object.keys(entries)) {
        const path = [...section.split("."), name];
        const at = this.loc.key(path);
        if (name === INTERNET) {
          this.error(
            "reserved-name",
            at,
            `${pathText(path)}: "${INTERNET}" is reserved (intents use it for any internet address)`,
            "rename the node",
          );
          continue;
        }
        const first = this.nodes.get(name);
        if (first !== undefined) {
          this.error(
            "duplicate-name",
            at,
            `${pathText(path)}: node name "${name}" is already used by ${first}.${name}`,
            "node names must be unique across internet.hosts, routers and hosts, because intents refer to them by name",
          );
        } else {
          this.nodes.set(name, section);
        }
      }
    }
  }

  /** Registers an IPv4 address for `owner`; a second holder is an error at its position. */
  private claimV4(address: number, owner: string, at: SourcePos): void {
    const first = this.v4Owners.get(address);
    if (first === undefined) {
      this.v4Owners.set(address, owner);
      return;
    }
    this.error("duplicate-address", at, `${owner}: address ${formatIpv4(address)} is already used by ${first}`);
  }

  private claimV6(address: Uint8Array, owner: string, at: SourcePos): void {
    const text = formatIpv6(address);
    const first = this.v6Owners.get(text);
    if (first === undefined) {
      this.v6Owners.set(text, owner);
      return;
    }
    this.error("duplicate-address", at, `${owner}: IPv6 address ${text} is already used by ${first}`);
  }

  /** A prefix the schema has already checked the syntax of; host bits set are an error with the fix. */
  private prefixV4(text: string, path: YamlPath): Ipv4Prefix {
    const parsed = parsePrefix(text);
    const prefix: Ipv4Prefix = parsed?.prefix.family === 4 ? parsed.prefix : { family: 4, addr: 0, len: 0 };
    if (parsed?.hostBitsSet === true) {
      this.error(
        "prefix-host-bits",
        this.loc.value(path),
        `${pathText(path)}: prefix ${text} has host bits set`,
        `did you mean ${formatPrefix(prefix)}?`,
      );
    }
    return prefix;
  }

  private prefixV6(text: string, path: YamlPath): Ipv6Prefix {
    const parsed = parsePrefix(text);
    const prefix: Ipv6Prefix =
      parsed?.prefix.family === 6 ? parsed.prefix : { family: 6, addr: new Uint8Array(16), len: 0 };
    if (parsed?.hostBitsSet === true) {
      this.error(
        "prefix-host-bits",
        this.loc.value(path),
        `${pathText(path)}: prefix ${text} has host bits set`,
        `did you mean ${formatPrefix(prefix)}?`,
      );
    }
    return prefix;
  }

  private buildIsp(): Network["isp"] {
    const prefix = this.prefixV4(this.doc.isp.prefix, ["isp", "prefix"]);
    const gateway = parseIpv4(this.doc.isp.gateway) ?? 0;
    const at = this.loc.value(["isp", "gateway"]);
    if (!prefixContainsV4(prefix.addr, prefix.len, gateway)) {
      this.error(
        "address-outside-prefix",
        at,
        `isp.gateway: ${formatIpv4(gateway)} is not inside isp.prefix ${formatPrefix(prefix)}`,
      );
    }
    this.claimV4(gateway, "isp.gateway", at);
    return { gateway, prefix };
  }

  private buildLan(name: string, lan: NetworkDoc["lans"][string]): void {
    const path = ["lans", name];
    const prefix = this.prefixV4(lan.prefix, [...path, "prefix"]);
    const ipv6 = lan.ipv6 === undefined ? null : this.prefixV6(lan.ipv6, [...path, "ipv6"]);
    this.lans.set(name, { name, prefix, ipv6, vlan: lan.vlan ?? null, at: this.loc.key(path) });
  }

  private checkLanOverlaps(): void {
    const seen: Lan[] = [];
    for (const lan of this.lans.values()) {
      for (const other of seen) {
        const shorter = Math.min(lan.prefix.len, other.prefix.len);
        if (prefixContainsV4(lan.prefix.addr, shorter, other.prefix.addr)) {
          this.error(
            "overlapping-lans",
            this.loc.value(["lans", lan.name, "prefix"]),
            `lans.${lan.name}.prefix: ${formatPrefix(lan.prefix)} overlaps lans.${other.name} (${formatPrefix(other.prefix)})`,
            "each LAN needs its own subnet, or routing between them is ambiguous",
          );
        }
      }
      seen.push(lan);
    }
  }

  private services(list: readonly NetworkDoc["hosts"][string]["services"][number][], path: YamlPath): Service[] {
    const seen = new Set<string>();
    return list.map((s, i) => {
      const key = `${s.port}/${s.proto}`;
      if (seen.has(key)) {
        this.error(
          "duplicate-service",
          this.loc.value([...path, i, "port"]),
          `${pathText([...path, i])}: a service on ${key} is already listed`,
        );
      }
      seen.add(key);
      return { port: s.port, proto: s.proto, name: s.name, note: s.note ?? null, banner: s.banner ?? null };
    });
  }

  private firewall(value: string | { file: string } | null | undefined, path: YamlPath): Firewall | null {
    if (value === null || value === undefined) return null;
    if (typeof value === "string") {
      const { at, lineExact } = this.loc.textStart(path);
      return { kind: "inline", text: value, at, lineExact };
    }
    const resolvedPath = this.options.baseDir === null ? value.file : resolve(this.options.baseDir, value.file);
    return { kind: "file", path: value.file, resolvedPath, text: null, at: this.loc.value([...path, "file"]) };
  }

  private buildInternetHost(name: string, h: NetworkDoc["internet"]["hosts"][string]): InternetHost {
    const path = ["internet", "hosts", name];
    const address = parseIpv4(h.address) ?? 0;
    this.claimV4(address, pathText(path), this.loc.value([...path, "address"]));
    for (const lan of this.lans.values()) {
      if (prefixContainsV4(lan.prefix.addr, lan.prefix.len, address)) {
        this.error(
          "address-in-lan",
          this.loc.value([...path, "address"]),
          `${pathText(path)}.address: ${h.address} is inside lans.${lan.name} (${formatPrefix(lan.prefix)}); an internet host needs a public address`,
        );
      }
    }
    const ipv6 = h.ipv6 === undefined ? null : parseIpv6(h.ipv6);
    if (ipv6 !== null) this.claimV6(ipv6, pathText(path), this.loc.value([...path, "ipv6"]));
    return {
      name,
      address,
      ipv6,
      attacker: h.attacker,
      services: this.services(h.services, [...path, "services"]),
      domains: h.domains,
      at: this.loc.key(path),
    };
  }

  /** The LAN a `lan:` field names, or an error with a suggestion. */
  private lanRef(name: string, path: YamlPath): Lan | null {
    const lan = this.lans.get(name);
    if (lan === undefined) {
      this.error(
        "unknown-lan",
        this.loc.value(path),
        `${pathText(path)}: no LAN named "${name}"`,
        suggest(name, [...this.lans.keys()], "LANs"),
      );
      return null;
    }
    return lan;
  }

  /** Checks an interface address against its subnet: inside it, and not its network or broadcast address. */
  private checkInLan(address: number, lan: Lan, path: YamlPath, what: string): void {
    const at = this.loc.value(path);
    const { addr, len } = lan.prefix;
    if (!prefixContainsV4(addr, len, address)) {
      this.error(
        "address-outside-lan",
        at,
        `${pathText(path)}: ${formatIpv4(address)} is not inside lans.${lan.name} (${formatPrefix(lan.prefix)})`,
        `give ${what} an address in ${formatPrefix(lan.prefix)}, or put it on another LAN`,
      );
      return;
    }
    if (len > SMALLEST_SUBNET_WITH_BROADCAST) return;
    const broadcast = (addr | ~maskV4(len)) >>> 0;
    if (address === addr || address === broadcast) {
      const which = address === addr ? "network" : "broadcast";
      this.error(
        "address-reserved",
        at,
        `${pathText(path)}: ${formatIpv4(address)} is the ${which} address of lans.${lan.name}`,
      );
    }
  }

  private checkV6InLan(address: Uint8Array, lan: Lan, path: YamlPath): void {
    const at = this.loc.value(path);
    if (lan.ipv6 === null) {
      this.error(
        "lan-without-ipv6",
        at,
        `${pathText(path)}: lans.${lan.name} has no ipv6 prefix`,
        `add ipv6: to lans.${lan.name}`,
      );
      return;
    }
    if (!prefixContainsV6(lan.ipv6.addr, lan.ipv6.len, address, 0)) {
      this.error(
        "address-outside-lan",
        at,
        `${pathText(path)}: ${formatIpv6(address)} is not inside lans.${lan.name} (${formatPrefix(lan.ipv6)})`,
      );
    }
  }

  private buildRouter(
    name: string,
    r: NetworkDoc["routers"][string],
    isp: Network["isp"],
    hosts: ReadonlyMap<string, NetworkDoc["hosts"][string]>,
  ): Router {
    const path = ["routers", name];
    const slash = r.wan.address.indexOf("/");
    const wanAddress = parseIpv4(r.wan.address.slice(0, slash)) ?? 0;
    const prefixLen = Number(r.wan.address.slice(slash + 1));
    const wanAt = this.loc.value([...path, "wan", "address"]);
    this.claimV4(wanAddress, `${pathText(path)}.wan`, wanAt);
    if (!prefixContainsV4(isp.prefix.addr, isp.prefix.len, wanAddress)) {
      this.error(
        "wan-outside-isp",
        wanAt,
        `${pathText(path)}.wan.address: ${formatIpv4(wanAddress)} is not inside isp.prefix ${formatPrefix(isp.prefix)}`,
      );
    }
    const gateway = parseIpv4(r.wan.gateway) ?? 0;
    const gatewayAt = this.loc.value([...path, "wan", "gateway"]);
    if (!prefixContainsV4(wanAddress, prefixLen, gateway)) {
      this.error(
        "gateway-unreachable",
        gatewayAt,
        `${pathText(path)}.wan.gateway: ${formatIpv4(gateway)} is not on the WAN subnet ${formatIpv4((wanAddress & maskV4(prefixLen)) >>> 0)}/${prefixLen}`,
      );
    } else if (gateway !== isp.gateway) {
      this.report(
        "warning",
        "gateway-not-isp",
        gatewayAt,
        `${pathText(path)}.wan.gateway: ${formatIpv4(gateway)} is not isp.gateway (${formatIpv4(isp.gateway)})`,
      );
    }

    const interfaces = new Map<string, string>([[r.wan.interface, "wan"]]);
    const lans: RouterLan[] = [];
    r.lans.forEach((l, i) => {
      const lpath = [...path, "lans", i];
      const first = interfaces.get(l.interface);
      if (first !== undefined) {
        this.error(
          "duplicate-interface",
          this.loc.value([...lpath, "interface"]),
          `${pathText(lpath)}.interface: "${l.interface}" is already the ${first} interface of ${pathText(path)}`,
        );
      }
      interfaces.set(l.interface, `lans[${i}]`);
      const lan = this.lanRef(l.lan, [...lpath, "lan"]);
      const address = parseIpv4(l.address) ?? 0;
      const ipv6 = l.ipv6 === undefined ? null : parseIpv6(l.ipv6);
      if (lan !== null) {
        if (this.servedLans.has(`${name}/${lan.name}`)) {
          this.error(
            "duplicate-router-lan",
            this.loc.value([...lpath, "lan"]),
            `${pathText(lpath)}.lan: ${pathText(path)} already has an interface on lans.${lan.name}`,
          );
        }
        this.servedLans.add(`${name}/${lan.name}`);
        this.servedLans.add(lan.name);
        this.checkInLan(address, lan, [...lpath, "address"], "the router");
        if (ipv6 !== null) this.checkV6InLan(ipv6, lan, [...lpath, "ipv6"]);
      }
      this.claimV4(address, pathText(lpath), this.loc.value([...lpath, "address"]));
      if (ipv6 !== null) this.claimV6(ipv6, pathText(lpath), this.loc.value([...lpath, "ipv6"]));
      lans.push({ lan: l.lan, interface: l.interface, address, ipv6 });
    });

    const permissions: UpnpPermission[] = [];
    r.upnp.permissions.forEach((line, i) => {
      const ppath = [...path, "upnp", "permissions", i];
      const parsed = parseUpnpPermission(line);
      if (!parsed.ok) {
        this.error(
          "upnp-permission",
          this.loc.inString(ppath, parsed.error.offset),
          `${pathText(ppath)}: ${parsed.error.message}`,
        );
        return;
      }
      permissions.push({ ...parsed.value, at: this.loc.value(ppath) });
    });

    const servedByThis = new Set(r.lans.map((l) => l.lan));
    const forwards: PortForward[] = [];
    const forwarded = new Set<string>();
    r.port_forwards.forEach((f, i) => {
      const fpath = [...path, "port_forwards", i];
      const toPort = f.to_port ?? f.port;
      const at = this.loc.key(fpath);
      const key = `${f.port}/${f.proto}`;
      if (forwarded.has(key))
        this.error(
          "duplicate-forward",
          this.loc.value([...fpath, "port"]),
          `${pathText(fpath)}: WAN port ${key} is already forwarded`,
        );
      forwarded.add(key);
      forwards.push({ proto: f.proto, port: f.port, to: f.to, toPort, at });
      const host = hosts.get(f.to);
      const toAt = this.loc.value([...fpath, "to"]);
      if (host === undefined) {
        this.error(
          "unknown-host",
          toAt,
          `${pathText(fpath)}.to: no host named "${f.to}"`,
          suggest(f.to, [...hosts.keys()], "hosts"),
        );
        return;
      }
      if (!servedByThis.has(host.lan)) {
        this.error(
          "forward-off-lan",
          toAt,
          `${pathText(fpath)}.to: host "${f.to}" is on lans.${host.lan}, which ${pathText(path)} has no interface on`,
        );
        return;
      }
      if (!host.services.some((s) => s.port === toPort && s.proto === f.proto)) {
        this.report(
          "warning",
          "forward-to-closed-port",
          this.loc.value([...fpath, f.to_port === undefined ? "port" : "to_port"]),
          `${pathText(fpath)}: host "${f.to}" has no service on ${toPort}/${f.proto}`,
          `add it to hosts.${f.to}.services, or the forward only reaches a closed port`,
        );
      }
    });

    return {
      name,
      wan: { interface: r.wan.interface, address: wanAddress, prefixLen, gateway },
      lans,
      firewall: this.firewall(r.firewall, [...path, "firewall"]),
      sysctl: { rpFilter: r.sysctl.rp_filter, conntrack: r.sysctl.conntrack, tcpBeLiberal: r.sysctl.tcp_be_liberal },
      nat: { mapping: r.nat.mapping, filtering: r.nat.filtering },
      upnp: { enabled: r.upnp.enabled, natPmp: r.upnp.nat_pmp, secureMode: r.upnp.secure_mode, permissions },
      dns: { resolver: r.dns.resolver, rebindProtection: r.dns.rebind_protection },
      helpers: { sip: r.helpers.sip, ftp: r.helpers.ftp },
      portForwards: forwards,
      at: this.loc.key(path),
    };
  }

  private buildHost(name: string, h: NetworkDoc["hosts"][string]): Host {
    const path = ["hosts", name];
    const lan = this.lanRef(h.lan, [...path, "lan"]);
    const address = parseIpv4(h.address) ?? 0;
    const ipv6 = h.ipv6 === undefined ? null : parseIpv6(h.ipv6);
    if (lan !== null) {
      this.checkInLan(address, lan, [...path, "address"], `hosts.${name}`);
      if (ipv6 !== null) this.checkV6InLan(ipv6, lan, [...path, "ipv6"]);
      if (!this.servedLans.has(lan.name)) {
        this.report(
          "warning",
          "lan-without-router",
          this.loc.value([...path, "lan"]),
          `${pathText(path)}: no router has an interface on lans.${lan.name}, so this host reaches nothing beyond its LAN`,
        );
      }
    }
    this.claimV4(address, pathText(path), this.loc.value([...path, "address"]));
    if (ipv6 !== null) this.claimV6(ipv6, pathText(path), this.loc.value([...path, "ipv6"]));
    return {
      name,
      lan: h.lan,
      address,
      ipv6,
      role: h.role,
      browses: h.browses,
      services: this.services(h.services, [...path, "services"]),
      firewall: this.firewall(h.firewall, [...path, "firewall"]),
      at: this.loc.key(path),
    };
  }

  private buildIntents(hosts: readonly Host[], internetHosts: readonly InternetHost[]): Intent[] {
    const services = new Map<string, readonly Service[]>();
    for (const h of [...hosts, ...internetHosts]) services.set(h.name, h.services);
    const names = [...this.nodes.keys()];
    const intents: Intent[] = [];
    this.doc.intents.forEach((text, i) => {
      const path = ["intents", i];
      const parsed = parseIntent(text);
      if (!parsed.ok) {
        this.error(
          "intent-syntax",
          this.loc.inString(path, parsed.error.offset),
          `intents[${i}]: ${parsed.error.message}`,
        );
        return;
      }
      const { from, to, port, proto } = parsed.value;
      const fromAt = this.loc.inString(path, text.indexOf(from));
      const toOffset = text.indexOf(to, text.indexOf("->"));
      const toAt = this.loc.inString(path, toOffset);
      let bad = false;
      if (!this.nodes.has(from)) {
        this.error("unknown-node", fromAt, `intents[${i}]: no node named "${from}"`, suggest(from, names, "nodes"));
        bad = true;
      }
      if (to !== INTERNET && !this.nodes.has(to)) {
        this.error(
          "unknown-node",
          toAt,
          `intents[${i}]: no node named "${to}"`,
          suggest(to, [...names, INTERNET], "nodes"),
        );
        bad = true;
      }
      if (!bad && from === to)
        this.error("intent-to-self", toAt, `intents[${i}]: "${from}" is both source and destination`);
      if (bad) return;
      const listening = services.get(to);
      if (
        port !== null &&
        proto !== null &&
        listening !== undefined &&
        !listening.some((s) => s.port === port && s.proto === proto)
      ) {
        this.report(
          "warning",
          "intent-to-closed-port",
          toAt,
          `intents[${i}]: "${to}" has no service on ${port}/${proto}`,
          `add it to the services of "${to}"`,
        );
      }
      intents.push({
        text,
        from,
        to: to === INTERNET ? { kind: "internet" } : { kind: "node", name: to },
        port,
        proto,
        at: this.loc.value(path),
      });
    });
    return intents;
  }
}

/** Cross-checks a schema-valid document and builds the Network; null when any check failed with an error. */
export function buildNetwork(
  doc: NetworkDoc,
  loc: YamlLocator,
  options: BuildOptions,
): { network: Network | null; diagnostics: ModelDiagnostic[] } {
  const builder = new NetworkBuilder(doc, loc, options);
  const network = builder.build();
  return { network, diagnostics: builder.diagnostics };
}
