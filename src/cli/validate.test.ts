import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./program.js";

const EXAMPLES = new URL("../../examples/", import.meta.url);

async function run(argv: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(argv, {
    out: (s) => {
      out += s;
    },
    err: (s) => {
      err += s;
    },
    color: false,
  });
  return { code, out, err };
}

describe("mallory validate", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "mallory-validate-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ["seed-home.yaml", "ok: seed-home — 1 router, 2 hosts, 2 internet hosts, 3 intents\n"],
    ["seed-home-hardened.yaml", "ok: seed-home-hardened — 1 router, 2 hosts, 2 internet hosts, 3 intents\n"],
  ])("accepts examples/%s with a one-line summary and exit 0", async (file, summary) => {
    const r = await run(["validate", new URL(file, EXAMPLES).pathname]);
    expect(r).toEqual({ code: 0, out: summary, err: "" });
  });

  it("prints file:line:col: error: lines and exits 1, with no stack trace", async () => {
    const path = join(dir, "bad.yaml");
    await writeFile(
      path,
      [
        "name: bad",
        "isp: { gateway: 198.51.100.1, prefix: 198.51.100.0/24 }",
        "lans: { home: { prefix: 192.168.1.0/24 } }",
        "routers:",
        "  r:",
        "    wan: { interface: wan, address: 198.51.100.2/24, gateway: 198.51.100.1 }",
        "    lans: [ { lan: home, interface: lan, address: 192.168.1.1 } ]",
        "hosts:",
        "  s: { lan: home, address: 192.168.1.300 }",
        "",
      ].join("\n"),
    );
    const r = await run(["validate", path]);
    expect(r.code).toBe(1);
    expect(r.err).toBe("");
    expect(r.out).toBe(
      `${path}:9:28: error: hosts.s.address: expected an IPv4 address like 192.168.1.10, got "192.168.1.300"\n`,
    );
    expect(r.out).not.toMatch(/\n\s+at /);
  });

  it("prints warnings and still exits 0 when only warnings were found", async () => {
    const path = join(dir, "warn.yaml");
    await writeFile(
      path,
      [
        "name: warn",
        "isp: { gateway: 198.51.100.1, prefix: 198.51.100.0/24 }",
        "lans: { home: { prefix: 192.168.1.0/24 } }",
        "routers:",
        "  r:",
        "    wan: { interface: wan, address: 198.51.100.2/24, gateway: 198.51.100.1 }",
        "    lans: [ { lan: home, interface: lan, address: 192.168.1.1 } ]",
        "    port_forwards: [ { proto: tcp, port: 2222, to: s, to_port: 22 } ]",
        "hosts:",
        "  s: { lan: home, address: 192.168.1.20 }",
        "",
      ].join("\n"),
    );
    const r = await run(["validate", path]);
    expect(r.code).toBe(0);
    expect(r.out.split("\n")).toEqual([
      `${path}:8:64: warning: routers.r.port_forwards[0]: host "s" has no service on 22/tcp (add it to hosts.s.services, or the forward only reaches a closed port)`,
      "ok: warn — 1 router, 1 host, 0 internet hosts, 0 intents (1 warning)",
      "",
    ]);
  });

  it("parses inline nftables and reports its errors at their line and column in the YAML file", async () => {
    const path = join(dir, "nft.yaml");
    await writeFile(
      path,
      [
        "name: nft",
        "isp: { gateway: 198.51.100.1, prefix: 198.51.100.0/24 }",
        "lans: { home: { prefix: 192.168.1.0/24 } }",
        "routers:",
        "  r:",
        "    wan: { interface: wan, address: 198.51.100.2/24, gateway: 198.51.100.1 }",
        "    lans: [ { lan: home, interface: lan, address: 192.168.1.1 } ]",
        "    firewall: |",
        "      table inet filter {",
        "        chain forward {",
        "          type filter hook forward priority filter; policy drop;",
        "          bogus thing",
        "        }",
        "      }",
        "",
      ].join("\n"),
    );
    const r = await run(["validate", path]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(new RegExp(`^${path}:12:11: error: routers\\.r\\.firewall: unknown expression 'bogus'`));
  });

  it("parses a firewall file and reports its errors in that file", async () => {
    await writeFile(join(dir, "s.nft"), "table inet filter {\n  chain input {\n    frobnicate\n  }\n}\n");
    const path = join(dir, "file.yaml");
    await writeFile(
      path,
      [
        "name: file",
        "isp: { gateway: 198.51.100.1, prefix: 198.51.100.0/24 }",
        "lans: { home: { prefix: 192.168.1.0/24 } }",
        "routers:",
        "  r:",
        "    wan: { interface: wan, address: 198.51.100.2/24, gateway: 198.51.100.1 }",
        "    lans: [ { lan: home, interface: lan, address: 192.168.1.1 } ]",
        "hosts:",
        "  s: { lan: home, address: 192.168.1.20, firewall: { file: s.nft } }",
        "",
      ].join("\n"),
    );
    const r = await run(["validate", path]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      new RegExp(`^${join(dir, "s.nft")}:3:5: error: hosts\\.s\\.firewall: unknown expression 'frobnicate'`),
    );
  });

  it("exits 1 for a missing file and 2 for a missing argument", async () => {
    const missing = join(dir, "nope.yaml");
    expect(await run(["validate", missing])).toEqual({
      code: 1,
      out: `${missing}:1:1: error: file not found\n`,
      err: "",
    });
    const usage = await run(["validate"]);
    expect(usage.code).toBe(2);
    expect(usage.err).toContain("missing required argument");
  });
});
