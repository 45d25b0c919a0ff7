// The network model (ARCHITECTURE.md layer 4): the YAML format, its schema, the loader and the typed Network.
export { loadNetwork, parseNetwork, firewallPosition } from "./load.js";
export type { LoadResult, ParseOptions } from "./load.js";
export { NetworkSchema, networkJsonSchema, networkJsonSchemaText, Expect } from "./schema.js";
export type { NetworkDoc } from "./schema.js";
export { INTERNET } from "./cross-check.js";
export { parseIntent, parseUpnpPermission } from "./intent.js";
export type { ParsedIntent, ParsedPermission, TextError } from "./intent.js";
export { formatModelDiagnostic, summarizeNetwork } from "./format.js";
export type * from "./types.js";
