import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { lexNft } from "./lexer.js";

const kinds = (text: string): string[] => lexNft(text, "t").tokens.map((t) => `${t.kind}:${t.text}`);

describe("lexNft", () => {
  it("reads words, numbers, strings, punctuation and separators with positions", () => {
    const { tokens, diagnostics } = lexNft('table inet fw4 {\n\tiifname "br-lan" tcp dport 22 accept; }', "f.nft");
    expect(diagnostics).toEqual([]);
    expect(tokens.map((t) => [t.kind, t.text, t.line, t.column])).toEqual([
      ["word", "table", 1, 1],
      ["word", "inet", 1, 7],
      ["word", "fw4", 1, 12],
      ["punct", "{", 1, 16],
      ["nl", "\n", 1, 17],
      ["word", "iifname", 2, 2],
      ["string", "br-lan", 2, 10],
      ["word", "tcp", 2, 19],
      ["word", "dport", 2, 23],
      ["number", "22", 2, 29],
      ["word", "accept", 2, 32],
      ["punct", ";", 2, 38],
      ["punct", "}", 2, 40],
      ["eof", "", 2, 41],
    ]);
    expect(tokens[0].source).toBe("f.nft");
  });

  it("recognises IPv4 and IPv6 literals before numbers and words", () => {
    expect(kinds("10.0.0.0/8 fe80::/10 ::1 2001:db8::1 ::ffff:192.0.2.1 192.0.2.1:80")).toEqual([
      "addr4:10.0.0.0",
      "punct:/",
      "number:8",
      "addr6:fe80::",
      "punct:/",
      "number:10",
      "addr6:::1",
      "addr6:2001:db8::1",
      "addr6:::ffff:192.0.2.1",
      "addr4:192.0.2.1",
      "punct::",
      "number:80",
      "eof:",
    ]);
  });

  it("keeps map colons, ranges and concatenation dots apart", () => {
    expect(kinds("{ established : accept, 80-90 . 22 }")).toEqual([
      "punct:{",
      "word:established",
      "punct::",
      "word:accept",
      "punct:,",
      "number:80",
      "punct:-",
      "number:90",
      "punct:.",
      "number:22",
      "punct:}",
      "eof:",
    ]);
    expect(kinds("0x10 1mbytes echo-request")).toEqual(["number:0x10", "word:1mbytes", "word:echo-request", "eof:"]);
  });

  it("drops comments, joins continued lines and keeps the next line's numbering", () => {
    const { tokens } = lexNft("a # comment\nb \\\n  c\nd", "t");
    expect(tokens.map((t) => [t.text, t.line, t.column])).toEqual([
      ["a", 1, 1],
      ["\n", 1, 12],
      ["b", 2, 1],
      ["c", 3, 3],
      ["\n", 3, 4],
      ["d", 4, 1],
      ["", 4, 2],
    ]);
  });

  it("reads $variables, @set references and two-character operators", () => {
    expect(kinds("$lan_if @blocked != <= >= ==")).toEqual([
      "var:lan_if",
      "setref:blocked",
      "punct:!=",
      "punct:<=",
      "punct:>=",
      "punct:==",
      "eof:",
    ]);
  });

  it("reports an unterminated string and a stray character at their positions", () => {
    const { diagnostics } = lexNft('ok\n  comment "oops\n  ` x', "bad.nft");
    expect(diagnostics.map((d) => [d.line, d.column, d.message])).toEqual([
      [2, 11, "unterminated string"],
      [3, 3, 'unexpected character "`"'],
    ]);
  });

  test.prop([fc.string({ maxLength: 200 })], { numRuns: 500 })("never throws; positions only move forward", (s) => {
    const { tokens } = lexNft(s, "p");
    expect(tokens[tokens.length - 1].kind).toBe("eof");
    for (let i = 1; i < tokens.length; i++) {
      const a = tokens[i - 1];
      const b = tokens[i];
      expect(b.line > a.line || (b.line === a.line && b.column > a.column)).toBe(true);
    }
  });
});
