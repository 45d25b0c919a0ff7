// Maps a path into the loaded YAML (`["routers", "router", "wan", "address"]`) back to line:column, through the
// `yaml` package's node ranges and a LineCounter. Every diagnostic of the model goes through here, so a message
// always points at the key or value it is about, never at "somewhere in the file".
import { isMap, isScalar, isSeq, Scalar } from "yaml";
import type { Document, LineCounter, Node } from "yaml";
import type { SourcePos } from "./types.js";

export type YamlPath = readonly PropertyKey[];

interface Found {
  readonly node: Node | null;
  readonly keyNode: Node | null;
}

function rangeStart(n: unknown): number | null {
  const range = (n as { range?: [number, number, number] | null } | null)?.range;
  return range ? range[0] : null;
}

export class YamlLocator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
    private readonly file: string,
    private readonly text: string,
  ) {}

  /** Position of a byte offset in the text. */
  at(offset: number): SourcePos {
    const p = this.lines.linePos(offset);
    return { file: this.file, line: p.line, column: p.col };
  }

  /** The node at `path` and the key node naming it; the walk stops (returning nulls) where the path leaves the tree. */
  private find(path: YamlPath): Found {
    let node: unknown = this.doc.contents;
    let keyNode: Node | null = null;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => {
          const k: unknown = isScalar(p.key) ? p.key.value : p.key;
          return String(k) === String(seg);
        });
        if (pair === undefined) return { node: null, keyNode: null };
        keyNode = pair.key as Node | null;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === "number") {
        node = node.items[seg];
        keyNode = null;
        if (node === undefined) return { node: null, keyNode: null };
      } else {
        return { node: null, keyNode: null };
      }
    }
    return { node: (node ?? null) as Node | null, keyNode };
  }

  /** The value at `path`; falls back to its key, then to the nearest ancestor that exists. */
  value(path: YamlPath): SourcePos {
    const { node, keyNode } = this.find(path);
    const start = rangeStart(node) ?? rangeStart(keyNode);
    if (start !== null) return this.at(start);
    return path.length > 0 ? this.key(path.slice(0, -1)) : this.at(this.documentStart());
  }

  /** The key naming the value at `path` (for a list item, the item itself); falls back to the nearest ancestor. */
  key(path: YamlPath): SourcePos {
    if (path.length === 0) return this.at(this.documentStart());
    const { node, keyNode } = this.find(path);
    const start = rangeStart(keyNode) ?? rangeStart(node);
    return start !== null ? this.at(start) : this.key(path.slice(0, -1));
  }

  /**
   * Position of character `offset` inside the string scalar at `path`: exact for plain and quoted one-line
   * scalars without escapes, the scalar's start for other styles.
   */
  inString(path: YamlPath, offset: number): SourcePos {
    const { node } = this.find(path);
    const start = rangeStart(node);
    if (start === null || !isScalar(node)) return this.value(path);
    if (node.type === Scalar.PLAIN) return this.at(start + offset);
    if (node.type === Scalar.QUOTE_DOUBLE || node.type === Scalar.QUOTE_SINGLE) return this.at(start + 1 + offset);
    return this.at(start);
  }

  /**
   * Where the text of the string scalar at `path` begins. For a literal block (`|`) that is the first content
   * line at its indentation, and lines of the text map one to one onto lines of the file (`lineExact`).
   */
  textStart(path: YamlPath): { at: SourcePos; lineExact: boolean } {
    const { node } = this.find(path);
    const start = rangeStart(node);
    if (start === null || !isScalar(node)) return { at: this.value(path), lineExact: false };
    if (node.type !== Scalar.BLOCK_LITERAL) {
      const quoted = node.type === Scalar.QUOTE_DOUBLE || node.type === Scalar.QUOTE_SINGLE;
      return { at: this.at(quoted ? start + 1 : start), lineExact: false };
    }
    const headerEnd = this.text.indexOf("\n", start);
    if (headerEnd < 0) return { at: this.at(start), lineExact: false };
    const header = this.at(start);
    // The block's indentation is that of its first non-empty line (YAML 1.2 §8.1.1.1, auto-detection).
    let indent = 0;
    let i = headerEnd + 1;
    while (i < this.text.length) {
      let j = i;
      while (this.text[j] === " ") j++;
      if (this.text[j] !== "\n" && this.text[j] !== "\r") {
        indent = j - i;
        break;
      }
      const next = this.text.indexOf("\n", i);
      if (next < 0) break;
      i = next + 1;
    }
    return { at: { file: this.file, line: header.line + 1, column: indent + 1 }, lineExact: true };
  }

  private documentStart(): number {
    return rangeStart(this.doc.contents) ?? 0;
  }
}
