// Tokenizer for the nftables text language, modelled on nft's scanner.l: `#` comments to end of line, `\` line
// continuations, newlines kept as separators, quoted strings without escapes, IPv4/IPv6 literals recognised
// before numbers and words (longest match, as flex does), and `$var` / `@set` references. Every token keeps the
// source, 1-based line and column of its first character. Bad input becomes a diagnostic, never an exception.

import { parseIpv4, parseIpv6 } from "../../wire/address.js";
import type { NftDiagnostic } from "./diagnostics.js";

export type TokenKind =
  | "word"
  | "number"
  | "string"
  | "addr4"
  | "addr6"
  /** `$name`; text is the name. */
  | "var"
  /** `@name`; text is the name. */
  | "setref"
  | "punct"
  | "nl"
  | "eof";

export interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  readonly source: string;
  readonly line: number;
  readonly column: number;
}

export interface LexResult {
  readonly tokens: Token[];
  readonly diagnostics: NftDiagnostic[];
}

const Ch = {
  TAB: 9,
  NL: 10,
  CR: 13,
  SPACE: 32,
  BANG: 33,
  QUOTE: 34,
  HASH: 35,
  DOLLAR: 36,
  DOT: 46,
  D0: 48,
  D9: 57,
  COLON: 58,
  LT: 60,
  EQ: 61,
  GT: 62,
  AT: 64,
  UA: 65,
  UF: 70,
  UZ: 90,
  BACKSLASH: 92,
  UNDERSCORE: 95,
  LA: 97,
  LF: 102,
  LX: 120,
  LZ: 122,
  MINUS: 45,
} as const;

/** Single-character punctuation nft's grammar uses (scanner.l: "{" "}" "(" ")" "[" "]" ";" "," ":" "." …). */
const PUNCT = new Set("{}()[];,:./-=<>&|^!*+~");
const TWO_CHAR = new Set(["==", "!=", "<=", ">="]);

const isDigit = (c: number): boolean => c >= Ch.D0 && c <= Ch.D9;
const isAlpha = (c: number): boolean => (c >= Ch.UA && c <= Ch.UZ) || (c >= Ch.LA && c <= Ch.LZ);
const isHex = (c: number): boolean => isDigit(c) || (c >= Ch.UA && c <= Ch.UF) || (c >= Ch.LA && c <= Ch.LF);
const isWordStart = (c: number): boolean => isAlpha(c) || c === Ch.UNDERSCORE;
/** Identifier characters; `-` is one, as in nft's `string` rule (`echo-request`, `br-lan`). */
const isWordChar = (c: number): boolean => isWordStart(c) || isDigit(c) || c === Ch.MINUS;
const isNameChar = (c: number): boolean => isWordStart(c) || isDigit(c);

export function lexNft(text: string, source: string): LexResult {
  const tokens: Token[] = [];
  const diagnostics: NftDiagnostic[] = [];
  const n = text.length;
  let i = 0;
  let line = 1;
  let lineStart = 0;

  const push = (kind: TokenKind, value: string, start: number): void => {
    tokens.push({ kind, text: value, source, line, column: start - lineStart + 1 });
  };
  const error = (message: string, start: number): void => {
    diagnostics.push({
      severity: "error",
      code: "lex",
      message,
      source,
      line,
      column: start - lineStart + 1,
    });
  };
  const scan = (from: number, pred: (c: number) => boolean): number => {
    let j = from;
    while (j < n && pred(text.charCodeAt(j))) j++;
    return j;
  };

  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === Ch.SPACE || c === Ch.TAB || c === Ch.CR) {
      i++;
      continue;
    }
    if (c === Ch.NL) {
      push("nl", "\n", i);
      i++;
      line++;
      lineStart = i;
      continue;
    }
    if (c === Ch.HASH) {
      while (i < n && text.charCodeAt(i) !== Ch.NL) i++;
      continue;
    }
    if (c === Ch.BACKSLASH) {
      // A continuation: `\` then optional blanks then the newline, which is swallowed.
      let j = i + 1;
      while (
        j < n &&
        (text.charCodeAt(j) === Ch.SPACE || text.charCodeAt(j) === Ch.TAB || text.charCodeAt(j) === Ch.CR)
      )
        j++;
      if (j < n && text.charCodeAt(j) === Ch.NL) {
        i = j + 1;
        line++;
        lineStart = i;
        continue;
      }
      if (j >= n) {
        i = j;
        continue;
      }
      error("stray '\\' (a line continuation must end the line)", i);
      i++;
      continue;
    }
    if (c === Ch.QUOTE) {
      let j = i + 1;
      while (j < n && text.charCodeAt(j) !== Ch.QUOTE && text.charCodeAt(j) !== Ch.NL) j++;
      if (j >= n || text.charCodeAt(j) !== Ch.QUOTE) {
        error("unterminated string", i);
        i = j;
        continue;
      }
      push("string", text.slice(i + 1, j), i);
      i = j + 1;
      continue;
    }
    if (c === Ch.DOLLAR || c === Ch.AT) {
      const j = scan(i + 1, c === Ch.AT ? isWordChar : isNameChar);
      if (j === i + 1) {
        error(`'${text[i]}' must be followed by a name`, i);
        i++;
        continue;
      }
      push(c === Ch.DOLLAR ? "var" : "setref", text.slice(i + 1, j), i);
      i = j;
      continue;
    }
    if (isHex(c) || c === Ch.COLON) {
      // IPv6 first: a run of hex digits, colons and dots with at least two colons that parses as an address.
      const j = scan(i, (x) => isHex(x) || x === Ch.COLON || x === Ch.DOT);
      const cand = text.slice(i, j);
      if (countColons(cand) >= 2 && (j >= n || !isNameChar(text.charCodeAt(j))) && parseIpv6(cand) !== null) {
        push("addr6", cand, i);
        i = j;
        continue;
      }
    }
    if (isDigit(c)) {
      const j4 = scan(i, (x) => isDigit(x) || x === Ch.DOT);
      const cand = text.slice(i, j4);
      const ends = j4 >= n || !isNameChar(text.charCodeAt(j4));
      if (ends && parseIpv4(cand) !== null) {
        push("addr4", cand, i);
        i = j4;
        continue;
      }
      if (ends && cand.includes(".") && !cand.endsWith(".")) {
        // `1.2.3`: not an address, but one token so the parser can say so about the whole of it.
        push("word", cand, i);
        i = j4;
        continue;
      }
      let j: number;
      if (
        c === Ch.D0 &&
        i + 1 < n &&
        (text.charCodeAt(i + 1) | 0x20) === Ch.LX &&
        i + 2 < n &&
        isHex(text.charCodeAt(i + 2))
      )
        j = scan(i + 2, isHex);
      else j = scan(i, isDigit);
      if (j < n && isWordStart(text.charCodeAt(j))) {
        // `10mbytes`, `8021q`: a number glued to letters is one word, as nft's string rule reads it.
        const k = scan(j, isWordChar);
        push("word", text.slice(i, k), i);
        i = k;
        continue;
      }
      push("number", text.slice(i, j), i);
      i = j;
      continue;
    }
    if (isWordStart(c)) {
      let j = scan(i, isWordChar);
      // A trailing `-` belongs to punctuation (`a- b` is unusual but `-` never ends a name in nft output).
      while (j > i + 1 && text.charCodeAt(j - 1) === Ch.MINUS) j--;
      push("word", text.slice(i, j), i);
      i = j;
      continue;
    }
    if (i + 1 < n && TWO_CHAR.has(text.slice(i, i + 2))) {
      push("punct", text.slice(i, i + 2), i);
      i += 2;
      continue;
    }
    if (PUNCT.has(text[i])) {
      push("punct", text[i], i);
      i++;
      continue;
    }
    error(`unexpected character ${JSON.stringify(text[i])}`, i);
    i++;
  }
  tokens.push({ kind: "eof", text: "", source, line, column: i - lineStart + 1 });
  return { tokens, diagnostics };
}

function countColons(s: string): number {
  let k = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === Ch.COLON) k++;
  return k;
}

/** How a token reads in a message: `'accept'`, `string "x"`, `end of line`. */
export function describeToken(t: Token): string {
  switch (t.kind) {
    case "nl":
      return "end of line";
    case "eof":
      return "end of input";
    case "string":
      return `string "${t.text}"`;
    case "var":
      return `'$${t.text}'`;
    case "setref":
      return `'@${t.text}'`;
    default:
      return `'${t.text}'`;
  }
}
