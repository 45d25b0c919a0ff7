// The network after loading: names resolved, addresses parsed into the engine's integer forms, and every node
// keeping the YAML position it came from, so later layers (sim, analysis, reports) can point back at the file.
import type { IpPrefix } from "../wire/address.js";

/** A place in a source file; line and column count from 1. */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** A finding about a network file. Errors make the network unusable; warnings do not. */
export interface ModelDiagnostic {
  readonly severity: "error" | "warning";
  /** Stable identifier, e.g. `yaml-syntax`, `schema`, `unknown-host`, `address-outside-lan`. */
  readonly code: string;
  readonly message: string;
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly hint?: string;
}

export type Proto = "tcp" | "udp";
export type Ipv4Prefix = Extract<IpPrefix, { family: 4 }>;
export type Ipv6Prefix = Extract<IpPrefix, { family: 6 }>;

export interface Service {
  readonly port: number;
  readonly proto: Proto;
  readonly name: string;
  readonly note: string | null;
  readonly banner: string | null;
}

/**
 * An nftables ruleset. Inline text keeps where it starts in the YAML file: for a literal block scalar (`|`) text
 * line L, column C is YAML line `at.line + L - 1`, column `at.column + C - 1` (`lineExact`); for any other
 * scalar style only the scalar's own position is known. A file ruleset is read by `loadNetwork`.
 */
export type Firewall =
  | { readonly kind: "inline"; readonly text: string; readonly at: SourcePos; readonly lineExact: boolean }
  | {
      readonly kind: "file";
      /** As written in the YAML, relative to it. */
      readonly path: string;
      /** Resolved against the YAML file's directory (equal to `path` when parsed from text without a file). */
      readonly resolvedPath: string;
      /** The ruleset text; null until `loadNetwork` has read the file. */
      readonly text: string | null;
      /** Position of the `file:` value in the YAML. */
      readonly at: SourcePos;
    };

export interface InternetHost {
  readonly name: string;
  /** IPv4 address as an unsigned 32-bit integer. */
  readonly address: number;
  readonly ipv6: Uint8Array | null;
  readonly attacker: boolean;
  readonly services: readonly Service[];
  readonly domains: readonly string[];
  readonly at: SourcePos;
}

export interface Isp {
  readonly gateway: number;
  readonly prefix: Ipv4Prefix;
}

export interface Lan {
  readonly name: string;
  readonly prefix: Ipv4Prefix;
  readonly ipv6: Ipv6Prefix | null;
  readonly vlan: number | null;
  readonly at: SourcePos;
}

export interface RouterLan {
  readonly lan: string;
  readonly interface: string;
  readonly address: number;
  readonly ipv6: Uint8Array | null;
}

export type RpFilter = 0 | 1 | 2;
export type MappingBehaviour = "eim" | "adm" | "apdm";
export type FilteringBehaviour = "eif" | "adf" | "apdf";

/** One miniupnpd permission line, `allow|deny EXT_PORTS IP/MASK INT_PORTS` (miniupnpd.conf, upnppermissions.c). */
export interface UpnpPermission {
  readonly action: "allow" | "deny";
  readonly extPorts: readonly [number, number];
  readonly prefix: Ipv4Prefix;
  readonly intPorts: readonly [number, number];
  readonly at: SourcePos;
}

export interface PortForward {
  readonly proto: Proto;
  readonly port: number;
  readonly to: string;
  readonly toPort: number;
  readonly at: SourcePos;
}

export interface Router {
  readonly name: string;
  readonly wan: {
    readonly interface: string;
    readonly address: number;
    readonly prefixLen: number;
    readonly gateway: number;
  };
  readonly lans: readonly RouterLan[];
  readonly firewall: Firewall | null;
  readonly sysctl: {
    readonly rpFilter: RpFilter;
    readonly conntrack: "linux" | "openwrt";
    readonly tcpBeLiberal: boolean;
  };
  readonly nat: { readonly mapping: MappingBehaviour; readonly filtering: FilteringBehaviour };
  readonly upnp: {
    readonly enabled: boolean;
    readonly natPmp: boolean;
    readonly secureMode: boolean;
    readonly permissions: readonly UpnpPermission[];
  };
  readonly dns: { readonly resolver: boolean; readonly rebindProtection: boolean };
  readonly helpers: { readonly sip: boolean; readonly ftp: boolean };
  readonly portForwards: readonly PortForward[];
  readonly at: SourcePos;
}

export type HostRole = "workstation" | "server" | "phone" | "iot" | "printer" | "nas" | "other";

export interface Host {
  readonly name: string;
  readonly lan: string;
  readonly address: number;
  readonly ipv6: Uint8Array | null;
  readonly role: HostRole;
  readonly browses: boolean;
  readonly services: readonly Service[];
  readonly firewall: Firewall | null;
  readonly at: SourcePos;
}

/** Where an intent's flow goes: a named node, or anywhere on the internet. */
export type IntentTarget = { readonly kind: "node"; readonly name: string } | { readonly kind: "internet" };

/** A legitimate flow, `FROM -> TO[:PORT[/tcp|udp]]`; `port` null means any port (and any protocol). */
export interface Intent {
  readonly text: string;
  readonly from: string;
  readonly to: IntentTarget;
  readonly port: number | null;
  readonly proto: Proto | null;
  readonly at: SourcePos;
}

export interface Network {
  readonly name: string;
  readonly description: string | null;
  /** The file the network was read from (or the source name given to `parseNetwork`). */
  readonly source: string;
  readonly internetHosts: readonly InternetHost[];
  readonly isp: Isp;
  readonly lans: readonly Lan[];
  readonly routers: readonly Router[];
  readonly hosts: readonly Host[];
  readonly intents: readonly Intent[];
}
