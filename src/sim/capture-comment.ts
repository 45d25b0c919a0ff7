// What a node did with a packet, in one line for the pcapng comment of each captured packet and for the step log:
// the conntrack state it got, the rules that decided (origin file:line:col), the translations applied, and how its
// walk ended. Built from the datapath's own trace events, so nothing here re-derives a verdict (STYLE.md §13).

import type { DatapathEvent, Disposition, DropReason, InterfaceConfig } from "../engine/index.js";
import type { Cause, Verdict } from "../engine/filter/index.js";

function formatCause(by: Cause): string {
  switch (by.kind) {
    case "rule": {
      const o = by.rule.origin;
      return `${o.source}:${o.line}:${o.column}`;
    }
    case "policy": {
      const o = by.chain.origin;
      return `policy of chain ${by.chain.chain} (${o.source}:${o.line}:${o.column})`;
    }
    case "no-chain":
      return `no chain on ${by.hook}`;
  }
}

export function formatVerdict(hook: string, v: Verdict): string {
  const by = formatCause(v.by);
  return v.by.kind === "policy" ? `${hook} ${v.kind} by ${by}` : `${hook} ${v.kind} (${by})`;
}

function formatDrop(reason: DropReason): string {
  switch (reason.kind) {
    case "verdict":
      return "dropped";
    case "malformed":
      return `dropped: malformed ${reason.error.protocol} ${reason.error.field}`;
    case "conntrack-table-full":
      return "dropped: conntrack table full";
    case "conntrack-clash":
      return "dropped: conntrack clash at confirm";
    case "helper":
      return `dropped by the ${reason.helper} helper: ${reason.message}`;
    case "nat":
      return `dropped: nat ${reason.reason}`;
    case "rp-filter":
      return `dropped by rp_filter (${reason.reason})`;
    case "no-route":
      return `dropped: ${reason.cause}`;
    case "not-forwarding":
      return "dropped: not addressed to this host and forwarding is off";
    case "ttl-exceeded":
      return "dropped: TTL exceeded";
    case "martian-destination":
      return "dropped: martian destination";
  }
}

/** Filter hooks whose accept verdicts are worth naming; elsewhere only non-accepts and NAT are shown. */
const FILTER_HOOKS = new Set(["input", "forward", "output"]);

/** The trace of one walk so far, as a list of facts (ct state, decisive verdicts, NAT, replies sent). */
export function describeEvents(events: readonly DatapathEvent[]): string[] {
  const parts: string[] = [];
  let ctSeen = false;
  for (const e of events) {
    switch (e.kind) {
      case "conntrack":
        if (!ctSeen) parts.push(`ct ${e.state}${e.direction === "reply" ? " reply" : ""}`);
        ctSeen = true;
        break;
      case "verdict":
        if (e.verdict.kind !== "accept" || FILTER_HOOKS.has(e.hook)) parts.push(formatVerdict(e.hook, e.verdict));
        break;
      case "nat":
        if (e.before !== e.after) {
          const o = e.rule?.origin;
          parts.push(
            `${e.manip === "src" ? "snat" : "dnat"} ${e.before} -> ${e.after}${o ? ` (${o.source}:${o.line}:${o.column})` : ""}`,
          );
        }
        break;
      case "reply":
        parts.push(`answers with ${e.what}`);
        break;
      case "filter":
      case "route":
        break;
    }
  }
  return parts;
}

export function describeDisposition(d: Disposition, interfaces: readonly InterfaceConfig[]): string {
  switch (d.kind) {
    case "delivered":
      return "delivered locally";
    case "forwarded":
      return `forwarded via ${interfaces[d.oif]?.name ?? String(d.oif)}`;
    case "sent":
      return `sent via ${interfaces[d.oif]?.name ?? String(d.oif)}`;
    case "dropped":
      return formatDrop(d.reason);
    case "rejected":
      return "rejected";
  }
}
