// UPnP IGD with real packets on seed-home: SSDP + SOAP from U, miniupnpd's checks and codes, and the DNAT it
// installs carrying Mallory's connection to the mapped host (SCENARIOS.md ground truth for miniupnpd 2.3.1).

import { fc, test as fcTest } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { parseUpnpPermission } from "../../model/intent.js";
import type { ParsedPermission } from "../../model/intent.js";
import { SSH_BANNER } from "../host-stack.js";
import type { TcpConnection } from "../host-stack.js";
import { describePacketBytes } from "../node.js";
import { buildSeedHome } from "../seed-home.fixture.js";
import type { SeedHome } from "../seed-home.fixture.js";
import { addressWords } from "../simulation.js";
import { MINIUPNPD_NAT_CHAIN } from "./miniupnpd-redirects.js";
import type { UpnpClientResult, UpnpIgdHandle, UpnpIgdOptions } from "./upnp-igd.js";
import {
  escapeXml,
  installUpnpIgd,
  parseHttpUrl,
  parseMSearch,
  parseSoapArguments,
  soapRequestBody,
  upnpAddPortMapping,
} from "./upnp-igd.js";

const A = (s: string): Uint32Array => addressWords(s)!.words;
const WAN = "198.51.100.2";
const text = new TextDecoder();

function permissions(...lines: string[]): ParsedPermission[] {
  return lines.map((l) => {
    const p = parseUpnpPermission(l);
    if (!p.ok) throw new Error(p.error.message);
    return p.value;
  });
}

function setup(o: Partial<UpnpIgdOptions> = {}): { h: SeedHome; igd: UpnpIgdHandle } {
  const h = buildSeedHome();
  const igd = installUpnpIgd(h.router, {
    clock: h.sim.clock,
    lanAddresses: ["192.168.1.1/24"],
    wanInterface: "wan",
    secureMode: true,
    permissions: [],
    ...o,
  });
  return { h, igd };
}

function map(
  h: SeedHome,
  external: number,
  internal: number,
  client: string,
  proto: "tcp" | "udp" = "tcp",
): UpnpClientResult | null {
  let result: UpnpClientResult | null = null;
  upnpAddPortMapping(h.u, { clock: h.sim.clock, gateway: "192.168.1.1", external, internal, client, proto }, (r) => {
    result = r;
  });
  h.sim.run({ until: h.sim.now + 3000 });
  return result;
}

/** Mallory connects to the router's WAN address; what it received (text) and whether the handshake completed. */
function malloryConnects(h: SeedHome, port: number): { established: boolean; received: string } {
  const out = { established: false, received: "" };
  h.mallory.stack.connect(4, A(WAN), port, {
    onEstablished: (c: TcpConnection) => {
      out.established = true;
      c.send(new TextEncoder().encode("hello"));
    },
    onData: (_c, d) => {
      out.received += text.decode(d);
    },
  });
  h.sim.run({ until: h.sim.now + 10_000 });
  return out;
}

describe("upnp-forward-self", () => {
  it("maps WAN:4444 → U:4444 and Mallory's connection reaches U's listener through the new DNAT", () => {
    const { h, igd } = setup();
    const got: string[] = [];
    h.u.stack.listenTcp(4444, {
      onData: (c, d) => {
        got.push(text.decode(d));
        c.send(new TextEncoder().encode("shell$ "));
      },
    });
    const before = malloryConnects(h, 4444);
    expect(before.established).toBe(false); // no mapping yet: the router's forward policy drops it
    const r = map(h, 4444, 4444, "192.168.1.10");
    expect(r).toMatchObject({ kind: "answered", code: 0, location: "http://192.168.1.1:5000/rootDesc.xml" });
    expect(igd.redirects.list()).toHaveLength(1);
    const chain = h.router.datapath.ruleset.tables.flatMap((t) => t.chains).find((c) => c.name === MINIUPNPD_NAT_CHAIN);
    expect(chain?.rules[0].origin.source).toMatch(/^miniupnpd: AddPortMapping by 192\.168\.1\.10 at t=/);
    const after = malloryConnects(h, 4444);
    expect(after).toEqual({ established: true, received: "shell$ " });
    expect(got).toEqual(["hello"]);
    // On the WAN link Mallory talked to the router's address; on the LAN the DNAT rewrote it to U.
    const lan = h.sim.segments
      .get("lan")!
      .captures.map((c) => describePacketBytes(c.bytes))
      .join("\n");
    expect(lan).toMatch(/203\.0\.113\.66:\d+ > 192\.168\.1\.10:4444/);
  });
});

describe("upnp-forward-other (mapping WAN:2222 → S:22)", () => {
  it("secure_mode on: refused with 718 ConflictInMappingEntry, nothing installed, Mallory gets nothing", () => {
    const { h, igd } = setup({ secureMode: true });
    expect(map(h, 2222, 22, "192.168.1.20")).toMatchObject({
      kind: "answered",
      code: 718,
      description: "ConflictInMappingEntry",
    });
    expect(igd.redirects.size).toBe(0);
    expect(igd.log.at(-1)).toMatchObject({ action: "AddPortMapping", code: 718, requester: "192.168.1.10" });
    expect(malloryConnects(h, 2222).established).toBe(false);
  });

  it("secure_mode off (Debian's shipped config): allowed, and Mallory gets S's SSH banner", () => {
    const { h } = setup({ secureMode: false });
    expect(map(h, 2222, 22, "192.168.1.20")).toMatchObject({ kind: "answered", code: 0 });
    expect(malloryConnects(h, 2222)).toEqual({ established: true, received: SSH_BANNER });
  });

  it("permission `allow 1024-65535 192.168.1.0/24 1024-65535` refuses S:22 with 606 but allows UDP 5353 → S", () => {
    const perms = permissions("allow 1024-65535 192.168.1.0/24 1024-65535", "deny 0-65535 0.0.0.0/0 0-65535");
    const { h, igd } = setup({ secureMode: false, permissions: perms });
    expect(map(h, 2222, 22, "192.168.1.20")).toMatchObject({ kind: "answered", code: 606 });
    expect(map(h, 5353, 5353, "192.168.1.20", "udp")).toMatchObject({ kind: "answered", code: 0 });
    expect(igd.redirects.list().map((r) => `${r.proto}/${r.externalPort}`)).toEqual(["udp/5353"]);
  });

  it("with no permission line at all every mapping is allowed (no match means allow)", () => {
    const { h } = setup({ secureMode: false, permissions: permissions("allow 8000-9000 10.0.0.0/8 8000-9000") });
    expect(map(h, 2222, 22, "192.168.1.20")).toMatchObject({ kind: "answered", code: 0 });
  });
});

describe("miniupnpd's other answers", () => {
  it("718 when another client holds the external port; the holder may update its own mapping", () => {
    const { h, igd } = setup({ secureMode: false });
    expect(map(h, 4444, 4444, "192.168.1.20")).toMatchObject({ code: 0 });
    expect(map(h, 4444, 4444, "192.168.1.10")).toMatchObject({ code: 718 });
    expect(map(h, 4444, 4445, "192.168.1.20")).toMatchObject({ code: 0 });
    expect(igd.redirects.get("tcp", 4444)?.internalPort).toBe(4445);
  });

  it("716 for external port 0, 729 for the IGD's own HTTP port", () => {
    const { h } = setup();
    expect(map(h, 0, 4444, "192.168.1.10")).toMatchObject({ code: 716 });
    expect(map(h, 5000, 4444, "192.168.1.10")).toMatchObject({ code: 729 });
  });

  it("an empty NewInternalClient means the requester (miniupnp issue #236)", () => {
    const { h, igd } = setup();
    expect(map(h, 4444, 4444, "")).toMatchObject({ code: 0 });
    expect(igd.redirects.get("tcp", 4444)?.internalClient).toBe(A("192.168.1.10")[0]);
  });

  it("the lease ends: the mapping and its DNAT are removed", () => {
    const { h, igd } = setup();
    let r: UpnpClientResult | null = null;
    upnpAddPortMapping(
      h.u,
      {
        clock: h.sim.clock,
        gateway: "192.168.1.1",
        external: 4444,
        internal: 4444,
        client: "",
        proto: "tcp",
        leaseSeconds: 30,
      },
      (x) => (r = x),
    );
    h.sim.run({ until: 5000 });
    expect(r).toMatchObject({ code: 0 });
    h.u.stack.listenTcp(4444, {});
    h.sim.run({ until: 40_000 });
    expect(igd.redirects.size).toBe(0);
    expect(malloryConnects(h, 4444).established).toBe(false);
  });

  it("no IGD on the router: the search times out", () => {
    const h = buildSeedHome();
    expect(map(h, 4444, 4444, "")).toEqual({ kind: "no-igd" });
  });
});

describe("SOAP and SSDP text", () => {
  it("reads miniupnpc's AddPortMapping body by local element names", () => {
    const body = soapRequestBody("AddPortMapping", [
      ["NewRemoteHost", ""],
      ["NewExternalPort", "2222"],
      ["NewInternalClient", "192.168.1.20"],
      ["NewPortMappingDescription", 'a<b & "c"'],
    ]);
    const args = parseSoapArguments(body);
    expect(args.get("NewExternalPort")).toBe("2222");
    expect(args.get("NewRemoteHost")).toBe("");
    expect(args.get("NewInternalClient")).toBe("192.168.1.20");
    expect(args.get("NewPortMappingDescription")).toBe('a<b & "c"');
  });

  it('accepts an M-SEARCH only with MAN "ssdp:discover"', () => {
    expect(parseMSearch('M-SEARCH * HTTP/1.1\r\nST: ssdp:all\r\nMAN: "ssdp:discover"\r\n\r\n')?.get("ST")).toBe(
      "ssdp:all",
    );
    expect(parseMSearch("M-SEARCH * HTTP/1.1\r\nST: ssdp:all\r\n\r\n")).toBeNull();
    expect(parseMSearch("NOTIFY * HTTP/1.1\r\n\r\n")).toBeNull();
  });

  it("parses LOCATION URLs", () => {
    expect(parseHttpUrl("http://192.168.1.1:5000/rootDesc.xml")).toEqual({
      host: "192.168.1.1",
      port: 5000,
      path: "/rootDesc.xml",
    });
    expect(parseHttpUrl("http://192.168.1.1")).toEqual({ host: "192.168.1.1", port: 80, path: "/" });
    expect(parseHttpUrl("http://192.168.1.1:0/")).toBeNull();
    expect(parseHttpUrl("ftp://x/")).toBeNull();
  });

  fcTest.prop([fc.string(), fc.string()])("never throws on arbitrary text", (a, b) => {
    parseSoapArguments(a + b);
    parseMSearch(a);
    parseHttpUrl(b);
  });

  fcTest.prop([fc.array(fc.tuple(fc.stringMatching(/^New[A-Z][a-zA-Z]{0,12}$/), fc.string()), { maxLength: 8 })])(
    "round-trips arguments through the envelope",
    (args) => {
      const parsed = parseSoapArguments(soapRequestBody("X", args));
      for (const [k] of args) expect(parsed.get(k)).toBe([...args].reverse().find(([kk]) => kk === k)![1]);
      expect(escapeXml("<&>")).toBe("&lt;&amp;&gt;");
    },
  );
});
