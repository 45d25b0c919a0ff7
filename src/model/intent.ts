// Intent strings, `FROM -> TO[:PORT[/tcp|udp]]`, and miniupnpd permission lines. Both parsers report the offset
// inside the string where the text went wrong, so the loader can point at the exact column in the YAML file.
import { parsePrefix } from "../wire/address.js";
import type { Result } from "../wire/result.js";
import type { Ipv4Prefix, Proto } from "./types.js";

/** A problem inside one string: `offset` counts UTF-16 units from its start. */
export interface TextError {
  readonly offset: number;
  readonly message: string;
}

export interface ParsedIntent {
  readonly from: string;
  readonly to: string;
  readonly port: number | null;
  readonly proto: Proto | null;
}

const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;
const DIGITS = /^[0-9]{1,5}$/;
const PORT_MAX = 65535;
const ARROW = "->";

function fail(offset: number, message: string): { readonly ok: false; readonly error: TextError } {
  return { ok: false, error: { offset, message } };
}

/** Offset of the first non-space character at or after `from` (or the string's length). */
function skipSpaces(s: string, from: number): number {
  let i = from;
  while (i < s.length && s[i] === " ") i++;
  return i;
}

function parsePort(text: string): number | null {
  if (!DIGITS.test(text)) return null;
  const n = Number(text);
  return n >= 1 && n <= PORT_MAX ? n : null;
}

export function parseIntent(s: string): Result<ParsedIntent, TextError> {
  const arrow = s.indexOf(ARROW);
  if (arrow < 0) return fail(skipSpaces(s, 0), `expected "FROM -> TO", with "->" between source and destination`);
  const fromAt = skipSpaces(s, 0);
  const from = s.slice(fromAt, arrow).trimEnd();
  if (!NAME.test(from)) return fail(fromAt, `expected a node name before "->", got "${from}"`);
  const toAt = skipSpaces(s, arrow + ARROW.length);
  const rest = s.slice(toAt).trimEnd();
  const colon = rest.indexOf(":");
  const to = colon < 0 ? rest : rest.slice(0, colon);
  if (!NAME.test(to)) {
    return fail(toAt, `expected a host name, an internet host name or "internet" after "->", got "${to}"`);
  }
  if (colon < 0) return { ok: true, value: { from, to, port: null, proto: null } };
  const portAt = toAt + colon + 1;
  const slash = rest.indexOf("/", colon);
  const portText = slash < 0 ? rest.slice(colon + 1) : rest.slice(colon + 1, slash);
  const port = parsePort(portText);
  if (port === null) return fail(portAt, `expected a port number from 1 to 65535 after ":", got "${portText}"`);
  if (slash < 0) return { ok: true, value: { from, to, port, proto: "tcp" } };
  const protoText = rest.slice(slash + 1);
  if (protoText !== "tcp" && protoText !== "udp") {
    return fail(toAt + slash + 1, `expected "tcp" or "udp" after "/", got "${protoText}"`);
  }
  return { ok: true, value: { from, to, port, proto: protoText } };
}

export interface ParsedPermission {
  readonly action: "allow" | "deny";
  readonly extPorts: readonly [number, number];
  readonly prefix: Ipv4Prefix;
  readonly intPorts: readonly [number, number];
}

const PERMISSION_FIELDS = 4;

/** `80` or `1024-65535` (miniupnpd upnppermissions.c read_permission_line); ports may be 0 there. */
function parsePortRange(text: string): readonly [number, number] | null {
  const dash = text.indexOf("-");
  const lo = dash < 0 ? text : text.slice(0, dash);
  const hi = dash < 0 ? text : text.slice(dash + 1);
  if (!DIGITS.test(lo) || !DIGITS.test(hi)) return null;
  const a = Number(lo);
  const b = Number(hi);
  return a <= b && b <= PORT_MAX ? [a, b] : null;
}

/** One miniupnpd permission line: `allow|deny EXT_PORTS IP/BITS INT_PORTS`. */
export function parseUpnpPermission(s: string): Result<ParsedPermission, TextError> {
  const fields: { text: string; at: number }[] = [];
  for (const m of s.matchAll(/\S+/g)) fields.push({ text: m[0], at: m.index });
  if (fields.length !== PERMISSION_FIELDS) {
    return fail(
      skipSpaces(s, 0),
      `expected 4 fields "allow|deny EXT_PORTS IP/BITS INT_PORTS" (e.g. "allow 1024-65535 192.168.1.0/24 1024-65535"), got ${fields.length}`,
    );
  }
  const [act, ext, ip, int] = fields;
  if (act.text !== "allow" && act.text !== "deny") {
    return fail(act.at, `expected "allow" or "deny", got "${act.text}"`);
  }
  const extPorts = parsePortRange(ext.text);
  if (extPorts === null) return fail(ext.at, `expected a port or port range like 1024-65535, got "${ext.text}"`);
  const parsed = parsePrefix(ip.text);
  if (parsed?.prefix.family !== 4) return fail(ip.at, `expected an IPv4 prefix like 192.168.1.0/24, got "${ip.text}"`);
  const intPorts = parsePortRange(int.text);
  if (intPorts === null) return fail(int.at, `expected a port or port range like 1024-65535, got "${int.text}"`);
  return { ok: true, value: { action: act.text, extPorts, prefix: parsed.prefix, intPorts } };
}
