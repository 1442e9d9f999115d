import { RulesCompileError } from "./errors";

export type TokenKind = "ident" | "int" | "float" | "string" | "bytes" | "punct" | "eof";

export interface Token {
  kind: TokenKind;
  /** Identifier name, punctuation text, or decoded string contents. */
  text: string;
  /** Numeric value for int (as bigint-compatible decimal) / float tokens. */
  num?: number;
  bigint?: bigint;
  bytes?: Uint8Array;
  offset: number;
  end: number;
  line: number;
  column: number;
}

const PUNCT2 = ["==", "!=", "<=", ">=", "&&", "||"];
const PUNCT1 = "{}()[];,.:?=<>!+-*/%";

/**
 * An on-demand lexer: the parser pulls tokens one at a time and, for path literals (which are
 * context-sensitive in the rules grammar), reads the source directly and repositions `pos`.
 */
export class Lexer {
  pos = 0;
  private readonly lineStarts: number[] = [0];

  constructor(readonly src: string) {
    for (let i = 0; i < src.length; i++) if (src[i] === "\n") this.lineStarts.push(i + 1);
  }

  lineCol(offset: number): { line: number; column: number } {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.lineStarts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (this.lineStarts[lo] ?? 0) + 1 };
  }

  error(offset: number, message: string): RulesCompileError {
    const { line, column } = this.lineCol(offset);
    return new RulesCompileError(message, line, column);
  }

  /** Skips whitespace and comments from `pos`. */
  skipTrivia(): void {
    const s = this.src;
    for (;;) {
      const c = s.charAt(this.pos);
      if (c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f" || c === "\v") {
        this.pos++;
      } else if (c === "/" && s.charAt(this.pos + 1) === "/") {
        while (this.pos < s.length && s.charAt(this.pos) !== "\n") this.pos++;
      } else if (c === "/" && s.charAt(this.pos + 1) === "*") {
        const end = s.indexOf("*/", this.pos + 2);
        if (end < 0) throw this.error(this.pos, "unterminated block comment");
        this.pos = end + 2;
      } else {
        return;
      }
    }
  }

  next(): Token {
    this.skipTrivia();
    const s = this.src;
    const start = this.pos;
    const mk = (kind: TokenKind, text: string, extra: Partial<Token> = {}): Token => ({
      kind,
      text,
      offset: start,
      end: this.pos,
      ...this.lineCol(start),
      ...extra,
    });
    if (start >= s.length) return mk("eof", "<end of file>");
    const c = s.charAt(start);
    if (/[A-Za-z_]/.test(c)) {
      if ((c === "b" || c === "B") && (s.charAt(start + 1) === "'" || s.charAt(start + 1) === '"')) {
        this.pos++;
        const str = this.readString();
        return mk("bytes", str, { bytes: Buffer.from(str, "latin1") });
      }
      if ((c === "r" || c === "R") && (s.charAt(start + 1) === "'" || s.charAt(start + 1) === '"')) {
        this.pos++;
        return mk("string", this.readString(true));
      }
      while (/[A-Za-z0-9_]/.test(s.charAt(this.pos))) this.pos++;
      return mk("ident", s.slice(start, this.pos));
    }
    if (/[0-9]/.test(c)) return this.readNumber(mk);
    if (c === "'" || c === '"') return mk("string", this.readString());
    const two = s.slice(start, start + 2);
    if (PUNCT2.includes(two)) {
      this.pos += 2;
      return mk("punct", two);
    }
    if (PUNCT1.includes(c)) {
      this.pos++;
      return mk("punct", c);
    }
    throw this.error(start, `unexpected character '${c}'`);
  }

  private readNumber(mk: (kind: TokenKind, text: string, extra?: Partial<Token>) => Token): Token {
    const s = this.src;
    const start = this.pos;
    if (s.charAt(start) === "0" && (s.charAt(start + 1) === "x" || s.charAt(start + 1) === "X")) {
      this.pos += 2;
      while (/[0-9A-Fa-f]/.test(s.charAt(this.pos))) this.pos++;
      const text = s.slice(start, this.pos);
      if (text.length === 2) throw this.error(start, "malformed hexadecimal literal");
      return mk("int", text, { bigint: BigInt(text) });
    }
    while (/[0-9]/.test(s.charAt(this.pos))) this.pos++;
    let isFloat = false;
    if (s.charAt(this.pos) === "." && /[0-9]/.test(s.charAt(this.pos + 1))) {
      isFloat = true;
      this.pos++;
      while (/[0-9]/.test(s.charAt(this.pos))) this.pos++;
    }
    if (s.charAt(this.pos) === "e" || s.charAt(this.pos) === "E") {
      let p = this.pos + 1;
      if (s.charAt(p) === "+" || s.charAt(p) === "-") p++;
      if (/[0-9]/.test(s.charAt(p))) {
        isFloat = true;
        this.pos = p;
        while (/[0-9]/.test(s.charAt(this.pos))) this.pos++;
      }
    }
    if (/[A-Za-z_]/.test(s.charAt(this.pos))) throw this.error(this.pos, "malformed number literal");
    const text = s.slice(start, this.pos);
    if (isFloat) return mk("float", text, { num: Number(text) });
    const big = BigInt(text);
    if (big > 9223372036854775808n) throw this.error(start, `integer literal ${text} is out of range`);
    return mk("int", text, { bigint: big });
  }

  private readString(raw = false): string {
    const s = this.src;
    const quote = s.charAt(this.pos);
    const start = this.pos;
    this.pos++;
    let out = "";
    for (;;) {
      if (this.pos >= s.length) throw this.error(start, "unterminated string literal");
      const c = s.charAt(this.pos);
      if (c === "\n") throw this.error(start, "unterminated string literal (newline in string)");
      if (c === quote) {
        this.pos++;
        return out;
      }
      if (c === "\\" && !raw) {
        const e = s.charAt(this.pos + 1);
        const escStart = this.pos;
        this.pos += 2;
        switch (e) {
          case "n":
            out += "\n";
            break;
          case "r":
            out += "\r";
            break;
          case "t":
            out += "\t";
            break;
          case "b":
            out += "\b";
            break;
          case "f":
            out += "\f";
            break;
          case "v":
            out += "\v";
            break;
          case "a":
            out += "\x07";
            break;
          case "\\":
          case "'":
          case '"':
          case "`":
          case "?":
            out += e;
            break;
          case "x":
          case "X":
            out += String.fromCodePoint(this.readHex(2, escStart));
            break;
          case "u":
            out += String.fromCodePoint(this.readHex(4, escStart));
            break;
          case "U":
            out += String.fromCodePoint(this.readHex(8, escStart));
            break;
          default:
            if (/[0-3]/.test(e) && /[0-7]{2}/.test(s.slice(this.pos, this.pos + 2))) {
              out += String.fromCodePoint(parseInt(s.slice(this.pos - 1, this.pos + 2), 8));
              this.pos += 2;
              break;
            }
            throw this.error(escStart, `invalid escape sequence '\\${e}'`);
        }
        continue;
      }
      out += c;
      this.pos++;
    }
  }

  private readHex(n: number, escStart: number): number {
    const hex = this.src.slice(this.pos, this.pos + n);
    if (hex.length !== n || !/^[0-9A-Fa-f]+$/.test(hex)) {
      throw this.error(escStart, "invalid hexadecimal escape sequence");
    }
    this.pos += n;
    const cp = parseInt(hex, 16);
    if (cp > 0x10ffff) throw this.error(escStart, "invalid code point in escape sequence");
    return cp;
  }
}
