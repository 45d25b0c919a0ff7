// The attack catalogue (SCENARIOS.md): one module per attack, each implementing attack.ts's Attack.
import type { Attack } from "./attack.js";
import { spoofedSource } from "./spoofed-source.js";
import { inboundScan } from "./inbound-scan.js";
import { portForwardExposure } from "./port-forward-exposure.js";
import { lateralMovement } from "./lateral-movement.js";
import { rogueDevice } from "./rogue-device.js";
import { ipv6NoNat } from "./ipv6-no-nat.js";
import { c2Beacon } from "./c2-beacon.js";

export * from "./attack.js";
export { spoofedSource } from "./spoofed-source.js";
export { inboundScan } from "./inbound-scan.js";
export { portForwardExposure } from "./port-forward-exposure.js";
export { lateralMovement } from "./lateral-movement.js";
export { rogueDevice } from "./rogue-device.js";
export { ipv6NoNat } from "./ipv6-no-nat.js";
export { c2Beacon } from "./c2-beacon.js";

export const catalogue: readonly Attack[] = [
  inboundScan,
  portForwardExposure,
  spoofedSource,
  c2Beacon,
  lateralMovement,
  ipv6NoNat,
  rogueDevice,
];

export function findAttack(id: string): Attack | undefined {
  return catalogue.find((a) => a.id === id);
}
