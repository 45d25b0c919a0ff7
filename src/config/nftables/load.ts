// File-reading entry point: the one place the nftables importer touches the filesystem. Includes are resolved
// relative to the including file, as nft does for relative paths (nft(8) INCLUDE FILES).

import { readFileSync } from "node:fs";
import type { NftDiagnostic } from "./diagnostics.js";
import type { ParseNftResult } from "./parser.js";
import { parseNftText } from "./parser.js";

function readText(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

export function loadNftFile(path: string): ParseNftResult {
  const text = readText(path);
  if (text === null) {
    const d: NftDiagnostic = {
      severity: "error",
      code: "file-not-found",
      message: `cannot read ${path}`,
      source: path,
      line: 1,
      column: 1,
    };
    return { ruleset: null, diagnostics: [d] };
  }
  return parseNftText(text, { source: path, readInclude: (p) => readText(p) });
}
