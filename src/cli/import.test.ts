import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEPENDENCIES, SETS_MAPS_NAT } from "../config/nftables/json-reader.fixture.js";
import { runCli } from "./program.js";

const dir = mkdtempSync(join(tmpdir(), "mallory-import-"));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(argv, {
    out: (s) => (out += s),
    err: (s) => (err += s),
    color: false,
  });
  return { code, out, err };
}

const ROUTER = `table inet r {
  chain srcnat {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "eth0" masquerade
  }
  chain helper {
    return
  }
  chain input {
    type filter hook input priority filter; policy drop;
    ct state established,related accept
    jump helper
  }
  chain dstnat {
    type nat hook prerouting priority dstnat; policy accept;
    tcp dport 8080 dnat ip to 192.168.1.10:80
  }
}
`;

describe("mallory import", () => {
  it("prints chains in hook order with each rule's origin (nft text)", async () => {
    const p = file("router.nft", ROUTER);
    const r = await cli("import", p, "--type", "nft");
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    expect(r.out.split("\n")).toEqual([
      `table inet r  (${p}:1:1)`,
      `  chain dstnat: nat hook prerouting priority -100 policy accept  (${p}:14:3)`,
      `    ${p}:16:5  tcp dport 8080 dnat ip to 192.168.1.10:80`,
      `  chain input: filter hook input priority 0 policy drop  (${p}:9:3)`,
      `    ${p}:11:5  ct state established,related accept`,
      `    ${p}:12:5  jump helper`,
      `  chain srcnat: nat hook postrouting priority 100 policy accept  (${p}:2:3)`,
      `    ${p}:4:5  meta oifname "eth0" masquerade`,
      `  chain helper (regular)  (${p}:6:3)`,
      `    ${p}:7:5  return`,
      "",
    ]);
  });

  it("reads kernel JSON and points at the JSON objects", async () => {
    const p = file("k.json", DEPENDENCIES.json);
    const r = await cli("import", p, "--type", "nft-json");
    expect(r.code).toBe(0);
    expect(r.out).toContain(`  chain c: filter hook input priority 0 policy accept  (${p}:1:177)\n`);
    expect(r.out).toMatch(new RegExp(`\\n    ${p}:1:\\d+  tcp dport 22 accept\\n`));
  });

  it("--json prints {tables: [...]} with chains in hook order, origins, rule text and IR", async () => {
    const p = file("sets.json", SETS_MAPS_NAT.json);
    const r = await cli("import", p, "--type", "nft-json", "--json");
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as {
      tables: {
        family: string;
        origin: string;
        chains: {
          name: string;
          base: { hook: string } | null;
          rules: { origin: string; text: string; exprs: unknown[] }[];
        }[];
        sets: { name: string; elements: string[] }[];
        maps: { name: string; elements: { key: string; data: string }[] }[];
      }[];
    };
    const t = doc.tables[0];
    expect(t.family).toBe("inet");
    expect(t.chains.map((c) => c.name)).toEqual(["pre", "input", "post", "other"]);
    expect(t.chains[1].rules[0]).toMatchObject({
      origin: expect.stringMatching(new RegExp(`^${p}:1:\\d+$`)),
      text: 'meta iif "lo" accept comment "loopback"',
      exprs: [{ kind: "match", left: { kind: "meta", key: "iif" } }, { kind: "accept" }],
    });
    expect(t.sets[0]).toMatchObject({
      name: "allowed",
      elements: ["192.0.2.0/24", "198.51.100.1-198.51.100.9", "203.0.113.5"],
    });
    expect(t.maps[0].elements).toEqual([
      { key: "22", data: "accept" },
      { key: "23", data: "drop" },
    ]);
  });

  it("prints positioned diagnostics and exits 1 on errors, without a stack trace", async () => {
    const p = file(
      "bad.json",
      '{"nftables": [{"table": {"family": "ip", "name": "t"}},\n  {"rule": {"family": "ip", "table": "t", "chain": "x", "expr": []}}]}',
    );
    const r = await cli("import", p, "--type", "nft-json");
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(r.err).toBe(`${p}:2:12: error: chain x is not declared before its rules\n`);
    const q = file("bad.nft", "table ip t {\n  chain c {\n    frobnicate\n  }\n}\n");
    const s = await cli("import", q, "--type", "nft");
    expect(s.code).toBe(1);
    expect(s.err).toMatch(new RegExp(`^${q}:3:5: error: `));
    expect(s.err).not.toMatch(/\n\s+at /);
    const missing = await cli("import", join(dir, "nope.nft"), "--type", "nft");
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/nope\.nft:1:1: error: /);
  });

  it("rejects an unknown --type as a usage error", async () => {
    expect((await cli("import", "x", "--type", "iptables")).code).toBe(2);
    expect((await cli("import", "x")).code).toBe(2);
  });
});
