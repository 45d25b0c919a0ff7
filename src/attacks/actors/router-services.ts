// The router's own services as the model configures them (miniupnpd's IGD, dnsmasq's forwarding resolver), started
// on the twin's router node for attacks that talk to them, and the YAML place of the settings that switch them, so
// an attack stopped by "UPnP is off" or "rebind protection is on" names the line the user wrote.

import { readFileSync } from "node:fs";
import { LineCounter, parseDocument } from "yaml";
import type { Network, Router, SourcePos } from "../../model/index.js";
import { YamlLocator } from "../../model/yaml-locator.js";
import type { YamlPath } from "../../model/yaml-locator.js";
import type { SimNode } from "../../sim/index.js";
import type { Twin } from "../../sim/twin.js";
import { installDnsResolver } from "../../sim/services/dns-resolver.js";
import type { DnsResolverHandle } from "../../sim/services/dns-resolver.js";
import { installUpnpIgd } from "../../sim/services/upnp-igd.js";
import type { UpnpIgdHandle } from "../../sim/services/upnp-igd.js";
import { formatIpv4 } from "../../wire/address.js";
import type { StopLayer, StoppedBy } from "../attack.js";

/** Starts miniupnpd's IGD on the router when the model enables it; null when UPnP is off. */
export function startUpnpIgd(twin: Twin, router: Router): UpnpIgdHandle | null {
  if (!router.upnp.enabled) return null;
  const node = twin.node(router.name);
  if (node === undefined) return null;
  return installUpnpIgd(node, {
    clock: twin.sim.clock,
    lanAddresses: lanAddresses(twin.network, router),
    wanInterface: router.wan.interface,
    secureMode: router.upnp.secureMode,
    permissions: router.upnp.permissions,
  });
}

/**
 * Starts dnsmasq on the router's LAN addresses when the model runs a resolver; null otherwise. Its upstream is
 * the server authoritative for the names asked (the recursion through the DNS hierarchy is not modelled). The
 * twin's internet is built from documentation ranges that stand for public addresses, so those are not
 * "private" to the rebind check.
 */
export function startDnsResolver(twin: Twin, router: Router, upstream: string): DnsResolverHandle | null {
  if (!router.dns.resolver) return null;
  const node: SimNode | undefined = twin.node(router.name);
  if (node === undefined) return null;
  return installDnsResolver(node, {
    clock: twin.sim.clock,
    listen: router.lans.map((l) => formatIpv4(l.address)),
    upstream: { address: upstream },
    rebindProtection: router.dns.rebindProtection,
    documentationAddressesArePublic: true,
  });
}

function lanAddresses(network: Network, router: Router): string[] {
  return router.lans.map((l) => {
    const lan = network.lans.find((x) => x.name === l.lan);
    return `${formatIpv4(l.address)}/${lan?.prefix.len ?? 24}`;
  });
}

function sourceText(file: string): string | null {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return null;
  }
}

/**
 * Where a router setting is written (`["upnp", "enabled"]`): its value, or the nearest enclosing key when the
 * setting is left at its default. The network's source file is read for this; when it cannot be read, the
 * router's own position stands in.
 */
export function routerSettingAt(network: Network, router: Router, path: YamlPath): SourcePos {
  const text = sourceText(network.source);
  if (text === null) return router.at;
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, version: "1.2" });
  return new YamlLocator(doc, lines, network.source, text).value(["routers", router.name, ...path]);
}

/** A stop named by a place in the network file (`file:line:col`), quoting that line when it can be read. */
export function stopAt(network: Network, node: string, layer: StopLayer, at: SourcePos): StoppedBy {
  const rule = `${at.file}:${at.line}:${at.column}`;
  const text = at.file === network.source ? sourceText(network.source)?.split("\n")[at.line - 1]?.trim() : undefined;
  return text !== undefined ? { node, layer, rule, text } : { node, layer, rule };
}
