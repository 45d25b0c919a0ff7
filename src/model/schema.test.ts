import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { networkJsonSchema, networkJsonSchemaText } from "./schema.js";

const SCHEMA_FILE = new URL("../../schema/network.schema.json", import.meta.url);

describe("JSON Schema", () => {
  it("schema/network.schema.json is current (regenerate with npx tsx scripts/write-schema.ts)", async () => {
    const committed = await readFile(SCHEMA_FILE, "utf8");
    expect(JSON.parse(committed)).toEqual(JSON.parse(networkJsonSchemaText()));
  });

  it("describes every field and rejects unknown ones, so editors can autocomplete and flag typos", () => {
    const undocumented: string[] = [];
    const open: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (node === null || typeof node !== "object") return;
      const n = node as Record<string, unknown>;
      if (n.type === "object" && n.properties !== undefined) {
        if (n.additionalProperties !== false) open.push(path);
        for (const [k, v] of Object.entries(n.properties as Record<string, Record<string, unknown>>)) {
          if (typeof v.description !== "string") undocumented.push(`${path}.${k}`);
          walk(v, `${path}.${k}`);
        }
      }
      if (n.additionalProperties !== undefined) walk(n.additionalProperties, `${path}.*`);
      if (n.items !== undefined) walk(n.items, `${path}[]`);
      if (Array.isArray(n.anyOf)) for (const o of n.anyOf) walk(o, path);
    };
    walk(networkJsonSchema(), "$");
    expect(undocumented).toEqual([]);
    expect(open).toEqual([]);
  });

  it("gives editors the address formats and the network's required sections", () => {
    const s = networkJsonSchema() as {
      required: string[];
      properties: Record<string, { additionalProperties: { properties: Record<string, { format?: string }> } }>;
    };
    expect(s.required).toEqual(["name", "isp", "lans", "routers"]);
    expect(s.properties.hosts.additionalProperties.properties.address.format).toBe("ipv4");
    expect(s.properties.lans.additionalProperties.properties.prefix.format).toBe("cidrv4");
  });
});
