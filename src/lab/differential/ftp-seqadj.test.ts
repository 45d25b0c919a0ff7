// Issue 3 fidelity, with the kernel as referee: the FTP helper's NAT half rewriting a PORT command to the router's
// WAN address when the two are written with different lengths (nf_nat_ftp → nf_nat_mangle_tcp_packet), and the
// sequence adjustment every later segment of the control connection then gets in both directions
// (nf_conntrack_seqadj). The same segments go through the kernel rig (three namespaces, deleted afterwards) and
// through the engine; what leaves the router on each side (addresses, ports, flags, seq/ack, payload, checksums)
// and the control connection's state afterwards must agree. Skipped, with the reason in the name, without root.

import { describe, expect, it } from "vitest";
import {
  CLIENT_ISN,
  CLIENT_PORT,
  EngineSessionRouter,
  KernelSessionRouter,
  SERVER_ISN,
  fromClient,
  fromServer,
  sessionRuleset,
} from "./session.fixture.js";
import type { SessionRouter } from "./session.fixture.js";
import { kernelRigSkip, useKernelRig } from "./kernel-rig.fixture.js";
import { Flags } from "./scenario.js";
import type { Side } from "./scenario.js";

const { skip, needs } = kernelRigSkip();

/** "192,168,1,5" is one character shorter than "198,51,100,2": the rewrite grows the segment by one byte. */
const CLIENT = "192.168.1.5";
const FTP = 21;

/**
 * Handshake, the first line of each side (the helper never parses a direction's first segment; it notes where lines
 * end), a PORT (rewritten one byte longer), the server's ACK of the longer segment, the client's next command in its
 * own numbering, the server's reply, a retransmitted PORT, and the server's data connection to the announced port.
 * Returns every emitted segment, step by step, and the control connection's TCP state at the end.
 */
async function exchange(r: SessionRouter): Promise<{ steps: string[][]; state: string }> {
  const greeting = "220 ready\r\n";
  const user = "USER anonymous\r\n";
  const port = "PORT 192,168,1,5,4,1\r\n";
  const noop = "NOOP\r\n";
  const s1 = SERVER_ISN + 1 + greeting.length;
  const c1 = CLIENT_ISN + 1 + user.length;
  const afterPort = c1 + port.length;
  const steps: string[][] = [];
  const step = async (side: Side, packet: Uint8Array): Promise<void> => {
    steps.push(await r.send(side, packet));
  };
  await step("lan", fromClient(CLIENT, FTP, CLIENT_ISN, 0, Flags.SYN));
  await step("wan", fromServer(FTP, CLIENT_PORT, SERVER_ISN, CLIENT_ISN + 1, Flags.SYN | Flags.ACK));
  await step("lan", fromClient(CLIENT, FTP, CLIENT_ISN + 1, SERVER_ISN + 1, Flags.ACK));
  await step("wan", fromServer(FTP, CLIENT_PORT, SERVER_ISN + 1, CLIENT_ISN + 1, Flags.ACK | Flags.PSH, greeting));
  await step("lan", fromClient(CLIENT, FTP, CLIENT_ISN + 1, s1, Flags.ACK | Flags.PSH, user));
  await step("wan", fromServer(FTP, CLIENT_PORT, s1, c1, Flags.ACK));
  await step("lan", fromClient(CLIENT, FTP, c1, s1, Flags.ACK | Flags.PSH, port));
  // The server saw one byte more than the client sent, and acknowledges it.
  await step("wan", fromServer(FTP, CLIENT_PORT, s1, afterPort + 1, Flags.ACK));
  await step("lan", fromClient(CLIENT, FTP, afterPort, s1, Flags.ACK | Flags.PSH, noop));
  await step("wan", fromServer(FTP, CLIENT_PORT, s1, afterPort + 1 + noop.length, Flags.ACK | Flags.PSH, "200 OK\r\n"));
  // A retransmission of the rewritten segment: by now its start is no longer among the two remembered line starts.
  await step("lan", fromClient(CLIENT, FTP, c1, s1, Flags.ACK | Flags.PSH, port));
  // The data connection to the announced port (4 · 256 + 1), DNATed to the client.
  await step("wan", fromServer(20, 1025, 9000, 0, Flags.SYN));
  return { steps, state: r.state(CLIENT, FTP) };
}

const POLICY = { helper: { type: "ftp", port: FTP } } as const;

describe(`FTP PORT rewritten to another length, kernel and engine${needs}`, () => {
  const rig = useKernelRig(skip);

  it.skipIf(skip)("every segment leaves both routers alike, and the control connection stays ESTABLISHED", async () => {
    rig().reset(sessionRuleset(POLICY));
    const kernel = await exchange(new KernelSessionRouter(rig()));
    const engine = await exchange(new EngineSessionRouter(sessionRuleset(POLICY)));
    // The kernel rewrote the command and shifted the numbers (so the rig has nf_nat_ftp): the case is real.
    expect(kernel.steps[6].join("\n")).toContain('"PORT 198,51,100,2,4,1\\r\\n"');
    expect(kernel.steps[8].join("\n")).toContain(`seq=${String(CLIENT_ISN + 1 + 16 + 22 + 1)}`);
    expect(engine.steps).toEqual(kernel.steps);
    expect(kernel.state).toBe("ESTABLISHED");
    expect(engine.state).toBe(kernel.state);
  });
});
