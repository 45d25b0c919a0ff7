// Issue 3 fidelity, with the kernel as referee: how the FTP helper reads commands and replies (nf_conntrack_ftp.c
// find_pattern and its try_* parsers) and what its NAT half writes back (nf_nat_ftp.c) — case, spacing, numbers past
// 255, another host's address, EPRT delimiters, a command on a segment's second line, 227 replies with and without
// parentheses, 229, and a command the helper reads as cut short. The same segments go through the kernel rig (three
// namespaces, deleted afterwards) and through the engine; everything that leaves the router and the expectations
// must agree. Skipped, with the reason in the name, without root.

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

const { skip, needs } = kernelRigSkip();

const CLIENT = "192.168.1.5";
const FTP = 21;
const POLICY = { helper: { type: "ftp", port: FTP } } as const;

/** Lines the client sends, each in a segment of its own starting where the previous one ended. */
const COMMANDS = [
  "USER anonymous\r\n",
  "port 192,168,1,5,4,2\r\n",
  "PORT 192,168,1,5,300,1\r\n",
  "PORT 10,0,0,99,4,5\r\n",
  "EPRT |1|192.168.1.5|1030|\r\n",
  "EPRT !1!192.168.1.5!1031!\r\n",
  "NOOP\r\nPORT 192,168,1,5,4,8\r\n",
  "PORT  192,168,1,5,4,9\r\n",
] as const;

/** Lines the server sends, likewise. */
const REPLIES = [
  "220 ready\r\n",
  "227 Entering Passive Mode (203,0,113,5,195,80).\r\n",
  "227 =203,0,113,5,195,81\r\n",
  "229 Entering Extended Passive Mode (|||6446|)\r\n",
  "229 Entering Extended Passive Mode (|||)\r\n",
] as const;

interface Outcome {
  readonly steps: string[][];
  readonly expectations: string[];
}

/**
 * The handshake, then every reply and command in turn, each acknowledged by the other side at what it received
 * (read off this router's own output, since rewrites change lengths).
 */
async function session(r: SessionRouter): Promise<Outcome> {
  const steps: string[][] = [];
  let c = CLIENT_ISN + 1;
  let s = SERVER_ISN + 1;
  /** How far the server's numbering of the client's bytes has moved from the client's own (rewrites). */
  let shift = 0;
  steps.push(await r.send("lan", fromClient(CLIENT, FTP, CLIENT_ISN, 0, Flags.SYN)));
  steps.push(await r.send("wan", fromServer(FTP, CLIENT_PORT, SERVER_ISN, c, Flags.SYN | Flags.ACK)));
  steps.push(await r.send("lan", fromClient(CLIENT, FTP, c, s, Flags.ACK)));
  const reply = async (text: string): Promise<void> => {
    steps.push(await r.send("wan", fromServer(FTP, CLIENT_PORT, s, c + shift, Flags.ACK | Flags.PSH, text)));
    s += text.length;
  };
  const command = async (text: string): Promise<void> => {
    const out = await r.send("lan", fromClient(CLIENT, FTP, c, s, Flags.ACK | Flags.PSH, text));
    steps.push(out);
    const len = /len=(\d+)/.exec(out[0] ?? "");
    if (len !== null) shift += Number(len[1]) - 40 - text.length;
    c += text.length;
  };
  await reply(REPLIES[0]);
  for (const text of COMMANDS.slice(0, 3)) await command(text);
  for (const text of REPLIES.slice(1)) await reply(text);
  for (const text of COMMANDS.slice(3)) await command(text);
  return { steps, expectations: r.expectations() };
}

describe(`FTP commands and replies, kernel and engine${needs}`, () => {
  const rig = useKernelRig(skip);

  it.skipIf(skip)("every segment leaves both routers alike, with the same expectations", async () => {
    rig().reset(sessionRuleset(POLICY));
    const kernel = await session(new KernelSessionRouter(rig()));
    const engine = await session(new EngineSessionRouter(sessionRuleset(POLICY)));
    // The case is real: Linux rewrote the lower-case PORT and the one whose port spilled past 255 (to 44,1), left
    // another host's address alone, dropped the cut-short 229 and double-spaced PORT, and kept one expectation (the
    // FTP policy's max_expected is 1: each announcement replaced the one before).
    const out = (i: number): string => kernel.steps[i].join("\n");
    expect(out(5)).toContain('"port 198,51,100,2,4,2\\r\\n"');
    expect(out(6)).toContain('"PORT 198,51,100,2,44,1\\r\\n"');
    expect(out(11)).toContain('"PORT 10,0,0,99,4,5\\r\\n"');
    expect(kernel.steps[10]).toEqual([]);
    expect(kernel.steps.at(-1)).toEqual([]);
    expect(kernel.expectations).toHaveLength(1);
    expect(engine.steps).toEqual(kernel.steps);
    expect(engine.expectations).toEqual(kernel.expectations);
  });
});
