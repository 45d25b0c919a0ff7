// Issue 3, with the kernel as referee: established traffic forwarded from kept plans (the flow cache and the early
// IPv4 path, engine/flow-cache.ts) leaves the engine as it leaves Linux. Two TCP connections through the masquerading
// rig, each with a dozen segments both ways — in-window data and acks, an out-of-window segment (INVALID: it leaves
// untranslated), a retransmission, a FIN exchange and a RST — go through the kernel rig (three namespaces,
// deleted afterwards) and through the engine, whose packets arrive in one receive ring as a driver's would. Every
// emitted segment and the conntrack states afterwards must agree, and the engine must have replayed plans for most of
// them — once with the JavaScript early path, once with the compiled one (engine/fastpath). Skipped, with the reason
// in the name, without root.

import { describe, expect, it } from "vitest";
import { tcpPacket } from "../../engine/nat/packets.fixture.js";
import {
  CLIENT_ISN,
  EngineSessionRouter,
  KernelSessionRouter,
  SERVER,
  SERVER_ISN,
  sessionRuleset,
} from "./session.fixture.js";
import type { SessionRouter } from "./session.fixture.js";
import { kernelRigSkip, useKernelRig } from "./kernel-rig.fixture.js";
import { Flags, RouterAddress } from "./scenario.js";

const { skip, needs } = kernelRigSkip();

/** The seed router's policy with a counter: plans are kept for it (its forward path is flow-invariant). */
const POLICY = { counter: true } as const;

/** One TCP connection from `client`:`port` to SERVER:443, numbered as each end sends. */
class Connection {
  private c = CLIENT_ISN;
  private s = SERVER_ISN;
  private natPort = 0;
  constructor(
    private readonly r: SessionRouter,
    private readonly client: string,
    private readonly port: number,
  ) {}

  private out(flags: number, data: string, seq = this.c): Uint8Array {
    return tcpPacket(this.client, this.port, SERVER, 443, {
      flags,
      seq,
      ack: this.s,
      payload: new TextEncoder().encode(data),
    });
  }
  private back(flags: number, data: string, seq = this.s): Uint8Array {
    return tcpPacket(SERVER, 443, RouterAddress.WAN, this.natPort, {
      flags,
      seq,
      ack: this.c,
      payload: new TextEncoder().encode(data),
    });
  }

  async open(steps: string[][]): Promise<void> {
    const syn = await this.r.send("lan", this.out(Flags.SYN, ""));
    steps.push(syn);
    // The masqueraded source port, as the router chose it (the same in both: the port is free, so it is kept).
    this.natPort = this.port;
    this.c += 1;
    steps.push(await this.r.send("wan", this.back(Flags.SYN | Flags.ACK, "")));
    this.s += 1;
    steps.push(await this.r.send("lan", this.out(Flags.ACK, "")));
  }

  async data(steps: string[][], fromClient: boolean, text: string): Promise<void> {
    if (fromClient) {
      steps.push(await this.r.send("lan", this.out(Flags.ACK | Flags.PSH, text)));
      this.c += text.length;
      steps.push(await this.r.send("wan", this.back(Flags.ACK, "")));
    } else {
      steps.push(await this.r.send("wan", this.back(Flags.ACK | Flags.PSH, text)));
      this.s += text.length;
      steps.push(await this.r.send("lan", this.out(Flags.ACK, "")));
    }
  }

  /** A segment far outside the window (INVALID) and a retransmission of the last client segment. */
  async strays(steps: string[][], last: string): Promise<void> {
    steps.push(await this.r.send("lan", this.out(Flags.ACK | Flags.PSH, "stray", (this.c + 0x40000000) >>> 0)));
    steps.push(await this.r.send("lan", this.out(Flags.ACK | Flags.PSH, last, this.c - last.length)));
  }

  async finish(steps: string[][]): Promise<void> {
    steps.push(await this.r.send("lan", this.out(Flags.FIN | Flags.ACK, "")));
    this.c += 1;
    steps.push(await this.r.send("wan", this.back(Flags.FIN | Flags.ACK, "")));
    this.s += 1;
    steps.push(await this.r.send("lan", this.out(Flags.ACK, "")));
  }

  async reset(steps: string[][]): Promise<void> {
    steps.push(await this.r.send("wan", this.back(Flags.RST | Flags.ACK, "")));
  }
}

async function traffic(r: SessionRouter): Promise<{ steps: string[][]; states: string[] }> {
  const steps: string[][] = [];
  const a = new Connection(r, "192.168.1.10", 40000);
  const b = new Connection(r, "192.168.1.20", 40001);
  await a.open(steps);
  await b.open(steps);
  for (let i = 0; i < 6; i++) {
    await a.data(steps, i % 2 === 0, `GET /${String(i)} HTTP/1.1\r\n\r\n`);
    await b.data(steps, i % 3 !== 0, `chunk ${String(i)}\n`);
  }
  await a.strays(steps, `GET /4 HTTP/1.1\r\n\r\n`);
  await a.data(steps, false, "tail\n");
  await a.finish(steps);
  await b.data(steps, true, "more\n");
  await b.reset(steps);
  return { steps, states: r.states() };
}

describe(`established traffic from kept plans, kernel and engine${needs}`, () => {
  const rig = useKernelRig(skip);

  it.skipIf(skip)("every segment leaves both routers alike, and the engine replayed plans for most", async () => {
    rig().reset(sessionRuleset(POLICY));
    const kernel = await traffic(new KernelSessionRouter(rig()));
    const engineSide = new EngineSessionRouter(sessionRuleset(POLICY), { ring: true });
    const engine = await traffic(engineSide);
    expect(engine.steps).toEqual(kernel.steps);
    expect(engine.states).toEqual(kernel.states);
    // The out-of-window segment is INVALID: it has no entry, so it leaves untranslated through the LAN → WAN accept
    // rule in both (the NAT leak of SEMANTICS §2.2), and the connections end as TIME_WAIT and CLOSE.
    const stray = kernel.steps.flat().find((x) => x.includes('"stray"'));
    expect(stray).toContain("wan 192.168.1.10:40000 > ");
    expect(kernel.states).toEqual(["192.168.1.10:40000 TIME_WAIT", "192.168.1.20:40001 CLOSE"]);
    // Most established segments came from plans, through the receive ring.
    expect(engineSide.dp.plansReplayedEarly).toBeGreaterThan(20);
  });

  it.skipIf(skip)("and alike through the compiled fast path (WebAssembly), which forwarded most of them", async () => {
    rig().reset(sessionRuleset(POLICY));
    const kernel = await traffic(new KernelSessionRouter(rig()));
    const engineSide = new EngineSessionRouter(sessionRuleset(POLICY), { compiled: true });
    const engine = await traffic(engineSide);
    expect(engine.steps).toEqual(kernel.steps);
    expect(engine.states).toEqual(kernel.states);
    expect(engineSide.dp.plansReplayedCompiled).toBeGreaterThan(15);
  });
});
