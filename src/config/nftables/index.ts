// Public face of the nftables importer/exporter: text parser (and its file loader), diagnostics.
export type { NftDiagnostic } from "./diagnostics.js";
export { formatNftDiagnostic, hasNftErrors } from "./diagnostics.js";
export type { Token, TokenKind, LexResult } from "./lexer.js";
export { lexNft } from "./lexer.js";
export type { ParseNftOptions, ParseNftResult } from "./parser.js";
export { parseNftText, resolveIncludePath, PRIORITY_NAMES } from "./parser.js";
export { loadNftFile } from "./load.js";
export type { JsonNode, JsonEntry, JsonSyntaxError } from "./json-reader.js";
export { readNftJson, parseJsonWithPositions } from "./json-reader.js";
export { writeNftText, ruleText, exprText, selectorText, valueText, verdictText, nftString } from "./text-writer.js";
export { writeNftJson } from "./json-writer.js";
export { normalizeRuleset } from "./normalize.js";
