// The attack catalogue (SCENARIOS.md): one module per attack, each implementing attack.ts's Attack.
import type { Attack } from "./attack.js";
import { spoofedSource } from "./spoofed-source.js";
import { inboundScan } from "./inbound-scan.js";
import { portForwardExposure } from "./port-forward-exposure.js";
import { lateralMovement } from "./lateral-movement.js";
import { rogueDevice } from "./rogue-device.js";
import { ipv6NoNat } from "./ipv6-no-nat.js";
import { c2Beacon } from "./c2-beacon.js";
import { upnpForwardSelf } from "./upnp-forward-self.js";
import { upnpForwardOther } from "./upnp-forward-other.js";
import { dnsRebinding } from "./dns-rebinding.js";
import { udpHolePunch } from "./udp-hole-punch.js";
import { natSlipstream } from "./nat-slipstream.js";

export * from "./attack.js";
export { spoofedSource } from "./spoofed-source.js";
export { inboundScan } from "./inbound-scan.js";
export { portForwardExposure } from "./port-forward-exposure.js";
export { lateralMovement } from "./lateral-movement.js";
export { rogueDevice } from "./rogue-device.js";
export { ipv6NoNat } from "./ipv6-no-nat.js";
export { c2Beacon } from "./c2-beacon.js";
export { upnpForwardSelf } from "./upnp-forward-self.js";
export { upnpForwardOther } from "./upnp-forward-other.js";
export { dnsRebinding, runDnsRebinding } from "./dns-rebinding.js";
export type { BrowserDefences } from "./dns-rebinding.js";
export { udpHolePunch } from "./udp-hole-punch.js";
export { natSlipstream } from "./nat-slipstream.js";

export const catalogue: readonly Attack[] = [
  inboundScan,
  portForwardExposure,
  spoofedSource,
  upnpForwardSelf,
  upnpForwardOther,
  dnsRebinding,
  c2Beacon,
  lateralMovement,
  udpHolePunch,
  ipv6NoNat,
  natSlipstream,
  rogueDevice,
];

export function findAttack(id: string): Attack | undefined {
  return catalogue.find((a) => a.id === id);
}
