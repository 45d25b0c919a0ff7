// Writes schema/network.schema.json from the zod schema of src/model (run: npx tsx scripts/write-schema.ts).
// src/model/schema.test.ts fails when the committed file is out of date.
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { networkJsonSchemaText } from "../src/model/schema.js";

const target = fileURLToPath(new URL("../schema/network.schema.json", import.meta.url));
await writeFile(target, networkJsonSchemaText());
process.stdout.write(`wrote ${target}\n`);
