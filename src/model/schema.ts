// The YAML network format as a zod schema: the one definition behind validation, the typed document and the JSON
// Schema editors read (schema/network.schema.json, written by scripts/write-schema.ts). Every custom message is
// the phrase after "expected" (the loader adds the field and what it got), so errors read
// `expected an IPv4 address like 192.168.1.10, got "192.168.1.300"`.
import { z } from "zod";

const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;
// Linux IFNAMSIZ is 16 bytes with the terminating NUL (include/uapi/linux/if.h).
const IFNAME_PATTERN = /^[A-Za-z0-9_.-]{1,15}$/;
const PORT_MIN = 1;
const PORT_MAX = 65535;
// IEEE 802.1Q: VLAN ids 0 and 4095 are reserved.
const VLAN_MIN = 1;
const VLAN_MAX = 4094;

export const Expect = {
  NAME: "a name of letters, digits, '-' or '_' starting with a letter (at most 32 characters)",
  IFNAME: "a Linux interface name of 1 to 15 letters, digits, '.', '-' or '_'",
  IPV4: "an IPv4 address like 192.168.1.10",
  IPV4_CIDR: "an IPv4 address with prefix length like 198.51.100.2/24",
  IPV4_PREFIX: "an IPv4 prefix like 192.168.1.0/24",
  IPV6: "an IPv6 address like 2001:db8:1::10",
  IPV6_PREFIX: "an IPv6 prefix like 2001:db8:1::/64",
  PORT: "a port number from 1 to 65535",
  VLAN: "a VLAN id from 1 to 4094",
  PROTO: 'a transport protocol, "tcp" or "udp"',
  BOOL: "true or false",
  TEXT: "a text string",
  FIREWALL: "a firewall: nftables text (a block scalar `firewall: |`), { file: path/to/ruleset.nft }, or null for none",
  INTENT: 'an intent like "u -> s:5432/tcp", "u -> internet" or "u -> web:80"',
} as const;

const name = () => z.string({ error: Expect.NAME }).regex(NAME_PATTERN, { error: Expect.NAME });
const ifname = () => z.string({ error: Expect.IFNAME }).regex(IFNAME_PATTERN, { error: Expect.IFNAME });
const ipv4 = () => z.ipv4({ error: Expect.IPV4 });
const ipv4Cidr = () => z.cidrv4({ error: Expect.IPV4_CIDR });
const ipv4Prefix = () => z.cidrv4({ error: Expect.IPV4_PREFIX });
const ipv6 = () => z.ipv6({ error: Expect.IPV6 });
const ipv6Prefix = () => z.cidrv6({ error: Expect.IPV6_PREFIX });
const port = () =>
  z.int({ error: Expect.PORT }).min(PORT_MIN, { error: Expect.PORT }).max(PORT_MAX, { error: Expect.PORT });
const proto = () => z.enum(["tcp", "udp"], { error: Expect.PROTO });
const bool = () => z.boolean({ error: Expect.BOOL });
const text = () => z.string({ error: Expect.TEXT });

export const ServiceSchema = z
  .strictObject({
    port: port().describe("Port the service listens on."),
    proto: proto().describe("Transport protocol: tcp or udp."),
    name: name().describe("What the service is (ssh, postgres, web-admin, dns…); attacks and reports name it."),
    note: text().optional().describe("Free text for reports, e.g. `outdated` for a service with known flaws."),
    banner: text()
      .optional()
      .describe("Bytes the service sends first (e.g. an SSH banner), so a breach can show what came back."),
  })
  .describe("A listening service: the simulator answers on this port; closed ports answer as Linux does.");

export const FirewallFileSchema = z
  .strictObject({
    file: z
      .string({ error: "a path to an nftables file, relative to the YAML file" })
      .min(1, { error: "a path to an nftables file, relative to the YAML file" })
      .describe("Path of an nftables ruleset file (`nft list ruleset` output), relative to this YAML file."),
  })
  .describe("An nftables ruleset kept in its own file.");

export const FirewallSchema = z
  .union([text(), FirewallFileSchema, z.null()], { error: Expect.FIREWALL })
  .describe(
    "nftables ruleset as `nft list ruleset` prints it: inline text (use a literal block `|` so errors map to " +
      "lines of this file), { file: path }, or null for none.",
  );

export const InternetHostSchema = z
  .strictObject({
    address: ipv4().describe("Public IPv4 address of the host."),
    ipv6: ipv6().optional().describe("Public IPv6 address of the host."),
    attacker: bool().default(false).describe("True for hosts the attacker controls (Mallory)."),
    services: z.array(ServiceSchema).default([]).describe("Services this host offers to the world."),
    domains: z
      .array(text())
      .default([])
      .describe("DNS names this host is the authoritative server for (e.g. evil.example for DNS rebinding)."),
  })
  .describe("A host on the public internet.");

export const IspSchema = z
  .strictObject({
    gateway: ipv4().describe("The ISP's router: next hop of every router's WAN."),
    prefix: ipv4Prefix().describe("The ISP-side subnet the routers' WAN addresses are in."),
  })
  .describe("The ISP uplink between the internet and the routers' WAN interfaces.");

export const LanSchema = z
  .strictObject({
    prefix: ipv4Prefix().describe("IPv4 subnet of the LAN."),
    ipv6: ipv6Prefix().optional().describe("Global IPv6 prefix of the LAN (no NAT on IPv6)."),
    vlan: z
      .int({ error: Expect.VLAN })
      .min(VLAN_MIN, { error: Expect.VLAN })
      .max(VLAN_MAX, { error: Expect.VLAN })
      .optional()
      .describe("802.1Q VLAN id, when the LAN is a VLAN on a shared link."),
  })
  .describe("A layer-2 segment (LAN or VLAN) with its IPv4 subnet.");

export const WanSchema = z
  .strictObject({
    interface: ifname().describe("Name of the WAN interface, as the firewall's oifname/iifname see it."),
    address: ipv4Cidr().describe("Address and prefix length of the WAN interface, e.g. 198.51.100.2/24."),
    gateway: ipv4().describe("Default gateway (normally the ISP gateway)."),
  })
  .describe("The router's uplink interface.");

export const RouterLanSchema = z
  .strictObject({
    lan: name().describe("Name of a LAN under `lans`."),
    interface: ifname().describe("Name of the router interface on that LAN."),
    address: ipv4().describe("Router address on the LAN (the hosts' default gateway)."),
    ipv6: ipv6().optional().describe("Router IPv6 address on the LAN."),
  })
  .describe("A router interface on one LAN.");

export const SysctlSchema = z
  .strictObject({
    rp_filter: z
      .union([z.literal(0), z.literal(1), z.literal(2)], { error: "0 (off), 1 (strict) or 2 (loose)" })
      .default(0)
      .describe("net.ipv4.conf.*.rp_filter: 0 off, 1 strict, 2 loose (RFC 3704)."),
    conntrack: z
      .enum(["linux", "openwrt"], { error: 'a conntrack timeout profile, "linux" or "openwrt"' })
      .default("linux")
      .describe("Conntrack timeout profile: Linux defaults or OpenWrt's shorter ones."),
    tcp_be_liberal: bool()
      .default(false)
      .describe("net.netfilter.nf_conntrack_tcp_be_liberal: when true, out-of-window TCP is not marked INVALID."),
  })
  .describe("Kernel settings of the router that change packet handling.");

export const NatSchema = z
  .strictObject({
    mapping: z
      .enum(["eim", "adm", "apdm"], { error: 'a RFC 4787 mapping behaviour, "eim", "adm" or "apdm"' })
      .default("eim")
      .describe(
        "RFC 4787 §4.1 mapping: endpoint-independent (Linux masquerade), address-, or address-and-port-dependent.",
      ),
    filtering: z
      .enum(["eif", "adf", "apdf"], { error: 'a RFC 4787 filtering behaviour, "eif", "adf" or "apdf"' })
      .default("apdf")
      .describe("RFC 4787 §5 filtering: endpoint-independent, address-, or address-and-port-dependent (Linux)."),
  })
  .describe("How the router's NAPT behaves (RFC 4787); defaults are what Linux masquerade does.");

export const UpnpSchema = z
  .strictObject({
    enabled: bool().default(false).describe("Run a UPnP IGD (miniupnpd) on the LAN side."),
    nat_pmp: bool().default(true).describe("Also answer NAT-PMP/PCP (miniupnpd enable_natpmp)."),
    secure_mode: bool()
      .default(true)
      .describe("miniupnpd secure_mode: a client may only map ports to its own address (else error 718)."),
    permissions: z
      .array(text())
      .default([])
      .describe(
        "miniupnpd permission lines, first match wins: `allow|deny EXT_PORTS IP/MASK INT_PORTS`, e.g. " +
          "`allow 1024-65535 192.168.1.0/24 1024-65535`. None means every mapping is allowed.",
      ),
  })
  .describe("UPnP IGD / NAT-PMP service on the router.");

export const DnsSchema = z
  .strictObject({
    resolver: bool().default(true).describe("The router runs a forwarding DNS resolver for the LANs (dnsmasq)."),
    rebind_protection: bool()
      .default(false)
      .describe("dnsmasq --stop-dns-rebind: drop upstream answers that point at private addresses."),
  })
  .describe("DNS service on the router.");

export const HelpersSchema = z
  .strictObject({
    sip: bool().default(false).describe("nf_conntrack_sip ALG (opens pinholes from SIP bodies)."),
    ftp: bool().default(false).describe("nf_conntrack_ftp ALG (opens pinholes from FTP PORT/PASV)."),
  })
  .describe("Conntrack ALG helpers enabled on the router.");

export const PortForwardSchema = z
  .strictObject({
    proto: proto().describe("tcp or udp."),
    port: port().describe("Port on the WAN address."),
    to: name().describe("Name of the LAN host under `hosts` that receives the traffic."),
    to_port: port().optional().describe("Port on that host; defaults to `port`."),
  })
  .describe("A DNAT from a WAN port to a LAN host (the twin adds the rule before the firewall's own).");

export const RouterSchema = z
  .strictObject({
    wan: WanSchema,
    lans: z
      .array(RouterLanSchema)
      .min(1, { error: "a list with at least one LAN interface" })
      .describe("The router's LAN-side interfaces, one per LAN it serves."),
    firewall: FirewallSchema.optional(),
    sysctl: SysctlSchema.prefault({}),
    nat: NatSchema.prefault({}),
    upnp: UpnpSchema.prefault({}),
    dns: DnsSchema.prefault({}),
    helpers: HelpersSchema.prefault({}),
    port_forwards: z.array(PortForwardSchema).default([]).describe("Static port forwards (DNAT)."),
  })
  .describe("A NAT router between the ISP and one or more LANs.");

export const HostSchema = z
  .strictObject({
    lan: name().describe("Name of the LAN under `lans` the host is on."),
    address: ipv4().describe("IPv4 address of the host, inside its LAN's prefix."),
    ipv6: ipv6().optional().describe("Global IPv6 address, inside its LAN's IPv6 prefix."),
    role: z
      .enum(["workstation", "server", "phone", "iot", "printer", "nas", "other"], {
        error: "a role: workstation, server, phone, iot, printer, nas or other",
      })
      .default("other")
      .describe("What the host is; attacks pick their foothold and targets by role."),
    browses: bool().default(false).describe("A user browses the web from this host (web-visitor attacks)."),
    services: z.array(ServiceSchema).default([]).describe("Services listening on the host."),
    firewall: FirewallSchema.optional(),
  })
  .describe("A host on a LAN.");

export const NetworkSchema = z
  .strictObject({
    name: name().describe("Name of the network; reports and traces use it."),
    description: text().optional().describe("What this network is."),
    internet: z
      .strictObject({
        hosts: z.record(name(), InternetHostSchema).default({}).describe("Public hosts by name."),
      })
      .prefault({})
      .describe("The public internet: hosts reachable through the ISP."),
    isp: IspSchema,
    lans: z.record(name(), LanSchema).describe("LANs and VLANs by name."),
    routers: z.record(name(), RouterSchema).describe("Routers by name."),
    hosts: z.record(name(), HostSchema).default({}).describe("LAN hosts by name."),
    intents: z
      .array(z.string({ error: Expect.INTENT }))
      .default([])
      .describe(
        "Legitimate flows that must keep working: `FROM -> TO[:PORT[/tcp|udp]]`; TO is a host, an internet host " +
          "or `internet`; a port without protocol means tcp.",
      ),
  })
  .describe("A Mallory network: the internet, an ISP uplink, routers, LANs, hosts and the flows that must work.");

/** The YAML document after schema validation, defaults filled in; addresses are still text. */
export type NetworkDoc = z.output<typeof NetworkSchema>;

/** The JSON Schema editors use (yaml-language-server); generated, never edited by hand. */
export function networkJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(NetworkSchema, { io: "input", target: "draft-2020-12" }) as Record<string, unknown>;
  return { ...schema, title: "Mallory network" };
}

/** The text of schema/network.schema.json: two-space JSON and a final newline. */
export function networkJsonSchemaText(): string {
  return `${JSON.stringify(networkJsonSchema(), null, 2)}\n`;
}
