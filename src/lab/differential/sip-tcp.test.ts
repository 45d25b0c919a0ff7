// Issue 3 fidelity, with the kernel as referee: the SIP helper over TCP through a masquerading router — the core of
// NAT slipstreaming (SCENARIOS.md): a REGISTER's Contact is rewritten to the router's WAN address (nf_nat_sip), the
// registrar's 200 OK activates the expectation, and the registrar's connection to the WAN address is DNATed to the
// LAN host. Once with a LAN address written as long as the WAN address, once one character shorter (the segment
// grows and the connection gets sequence adjustment, checked on the next request). The same segments go through the
// kernel rig (three namespaces, deleted afterwards) and through the engine; everything that leaves the router must
// agree. Skipped, with the reason in the name, without root.

import { describe, expect, it } from "vitest";
import {
  CLIENT_ISN,
  CLIENT_PORT,
  EngineSessionRouter,
  KernelSessionRouter,
  SERVER,
  SERVER_ISN,
  fromClient,
  fromServer,
  sessionRuleset,
} from "./session.fixture.js";
import type { SessionRouter } from "./session.fixture.js";
import { kernelRigSkip, useKernelRig } from "./kernel-rig.fixture.js";
import { Flags, RouterAddress } from "./scenario.js";
import type { Side } from "./scenario.js";

const { skip, needs } = kernelRigSkip();

const SIP = 5060;

function register(client: string): string {
  return (
    `REGISTER sip:${SERVER};transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP ${client}:3389\r\nCSeq: 1 REGISTER\r\n` +
    `Contact: <sip:u@${client}:3389;transport=tcp>;expires=3600\r\nContent-Length: 0\r\n\r\n`
  );
}

/**
 * REGISTER with a Contact on port 3389, the registrar's 200 OK naming the Contact as it arrived, an OPTIONS request
 * (numbered after the REGISTER as the client sent it), and the registrar's connection to the WAN address on 3389.
 */
async function exchange(r: SessionRouter, client: string): Promise<{ steps: string[][]; state: string }> {
  const reg = register(client);
  const grown = RouterAddress.WAN.length - client.length;
  const ok =
    `SIP/2.0 200 OK\r\nCSeq: 1 REGISTER\r\nContact: <sip:u@${RouterAddress.WAN}:3389;transport=tcp>;expires=3600\r\n` +
    "Content-Length: 0\r\n\r\n";
  const options = `OPTIONS sip:${SERVER} SIP/2.0\r\nCSeq: 2 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
  const steps: string[][] = [];
  const step = async (side: Side, packet: Uint8Array): Promise<void> => {
    steps.push(await r.send(side, packet));
  };
  const c1 = CLIENT_ISN + 1;
  const s1 = SERVER_ISN + 1;
  await step("lan", fromClient(client, SIP, CLIENT_ISN, 0, Flags.SYN));
  await step("wan", fromServer(SIP, CLIENT_PORT, SERVER_ISN, c1, Flags.SYN | Flags.ACK));
  await step("lan", fromClient(client, SIP, c1, s1, Flags.ACK));
  await step("lan", fromClient(client, SIP, c1, s1, Flags.ACK | Flags.PSH, reg));
  // The registrar acknowledges what it received (longer by what the rewrite added).
  await step("wan", fromServer(SIP, CLIENT_PORT, s1, c1 + reg.length + grown, Flags.ACK | Flags.PSH, ok));
  await step("lan", fromClient(client, SIP, c1 + reg.length, s1 + ok.length, Flags.ACK | Flags.PSH, options));
  await step("wan", fromServer(61000, 3389, 5, 0, Flags.SYN));
  return { steps, state: r.state(client, SIP) };
}

const POLICY = { helper: { type: "sip", port: SIP } } as const;

describe(`SIP over TCP, kernel and engine${needs}`, () => {
  const rig = useKernelRig(skip);

  for (const [what, client, grown] of [
    ["as long as the WAN address", "192.168.1.10", 0],
    ["one character shorter (sequence adjustment)", "192.168.1.5", 1],
  ] as const) {
    it.skipIf(skip)(`a LAN address ${what}: every segment leaves both routers alike`, async () => {
      rig().reset(sessionRuleset(POLICY));
      const kernel = await exchange(new KernelSessionRouter(rig()), client);
      const engine = await exchange(new EngineSessionRouter(sessionRuleset(POLICY)), client);
      // The kernel rewrote the Contact, numbered the OPTIONS after the grown REGISTER, and DNATed the registrar's
      // connection to the client: the case is real.
      expect(kernel.steps[3].join("\n")).toContain(`Contact: <sip:u@${RouterAddress.WAN}:3389`);
      const optionsSeq = CLIENT_ISN + 1 + register(client).length + grown;
      expect(kernel.steps[5].join("\n")).toContain(`seq=${String(optionsSeq)}`);
      expect(kernel.steps[6].join("\n")).toContain(`lan ${SERVER}:61000 > ${client}:3389`);
      expect(engine.steps).toEqual(kernel.steps);
      expect(kernel.state).toBe("ESTABLISHED");
      expect(engine.state).toBe(kernel.state);
    });
  }
});
