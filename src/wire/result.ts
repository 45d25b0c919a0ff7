// Errors are values inside the library (STYLE.md §3): parsers return a Result, never throw on bad input.

/** A wire-format problem: which protocol, which field, at which byte offset of the buffer given to `parse`. */
export interface WireError {
  readonly kind: "wire";
  readonly protocol: string;
  readonly field: string;
  readonly offset: number;
  readonly message: string;
}

export type Result<T, E = WireError> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: E };

export function ok<T>(value: T): { readonly ok: true; readonly value: T } {
  return { ok: true, value };
}

export function err(
  protocol: string,
  field: string,
  offset: number,
  message: string,
): { readonly ok: false; readonly error: WireError } {
  return { ok: false, error: { kind: "wire", protocol, field, offset, message } };
}

/** Renders a wire error the way the CLI prints it. */
export function formatWireError(e: WireError): string {
  return `${e.protocol}: ${e.field} at byte ${e.offset}: ${e.message}`;
}

export function isWireError(x: unknown): x is WireError {
  return typeof x === "object" && x !== null && (x as { kind?: unknown }).kind === "wire";
}
