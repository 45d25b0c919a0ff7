// Public face of the router's and hosts' application services in the simulator: dnsmasq-like forwarding
// resolver with rebind protection, Mallory's scripted authoritative DNS, miniupnpd's UPnP IGD and NAT-PMP on one
// redirection table (installing real DNAT rules), their malware-side clients, a minimal HTTP/1.1, and the
// browser model for the web-visitor attacks.
export { DNS_PORT, installDnsResolver, isRebindV4, isRebindV6 } from "./dns-resolver.js";
export type { DnsResolverHandle, DnsResolverOptions, RebindEvent } from "./dns-resolver.js";
export { installAuthoritativeDns } from "./authoritative-dns.js";
export type { AuthoritativeDnsHandle, AuthoritativeDnsOptions, ScriptedAnswer } from "./authoritative-dns.js";
export {
  MINIUPNPD_FORWARD_CHAIN,
  MINIUPNPD_NAT_CHAIN,
  MINIUPNPD_TABLE,
  RedirectTable,
  matchPermission,
  permitted,
} from "./miniupnpd-redirects.js";
export type {
  MappingMechanism,
  MappingProto,
  Redirect,
  RedirectOutcome,
  RedirectRequest,
  RedirectTableOptions,
} from "./miniupnpd-redirects.js";
export {
  CONTROL_PATH,
  DEFAULT_IGD_HTTP_PORT,
  IGD_LEASE_MAX,
  ROOT_DESC_PATH,
  SSDP_PORT,
  UpnpErrorCode,
  installUpnpIgd,
  parseMSearch,
  parseSoapArguments,
  redirectTableFor,
  soapRequestBody,
  upnpAddPortMapping,
} from "./upnp-igd.js";
export type { UpnpClientResult, UpnpIgdHandle, UpnpIgdOptions, UpnpLogEntry, UpnpMappingRequest } from "./upnp-igd.js";
export {
  NAT_PMP_PORT,
  NatPmpOpcode,
  NatPmpResult,
  emitNatPmpRequest,
  emitNatPmpResponse,
  installNatPmp,
  natPmpRequest,
  parseNatPmpRequest,
  parseNatPmpResponse,
} from "./nat-pmp.js";
export type {
  NatPmpClientResult,
  NatPmpHandle,
  NatPmpLogEntry,
  NatPmpOptions,
  NatPmpRequest,
  NatPmpResponse,
} from "./nat-pmp.js";
export {
  emitHttpRequest,
  emitHttpResponse,
  httpExchange,
  httpResponse,
  parseHttpRequest,
  parseHttpResponse,
  serveHttp,
} from "./http.js";
export type { HttpExchangeResult, HttpPeer, HttpRequest, HttpRequestHandler, HttpResponse } from "./http.js";
export { Browser, FETCH_BAD_PORTS, addressSpace, parseUrl } from "./browser.js";
export type {
  AddressSpace,
  BrowserLogEntry,
  BrowserOptions,
  FetchOutcome,
  PageContext,
  PageScript,
} from "./browser.js";
