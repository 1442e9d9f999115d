import type {
  AllowStmt,
  BinaryOp,
  Expr,
  FunctionDecl,
  MatchBlock,
  MatchSegment,
  Method,
  PathLiteralSegment,
  Pos,
  RulesFile,
} from "./ast";
import { RulesCompileError } from "./errors";
import { Lexer, type Token } from "./lexer";

const METHODS: readonly Method[] = ["read", "write", "get", "list", "create", "update", "delete"];
const RESERVED = new Set([
  "true",
  "false",
  "null",
  "in",
  "is",
  "if",
  "let",
  "return",
  "function",
  "match",
  "allow",
]);
const PATH_CHAR = /[A-Za-z0-9_\-.~%+@]/;

/** Recursive-descent parser for `rules_version = '2'; service cloud.firestore { ... }`. */
export function parseRules(source: string): RulesFile {
  return new Parser(source).parseFile();
}

class Parser {
  private readonly lx: Lexer;
  private buffered: Token | null = null;

  constructor(private readonly src: string) {
    this.lx = new Lexer(src);
  }

  // ---- token plumbing ----

  private peek(): Token {
    this.buffered ??= this.lx.next();
    return this.buffered;
  }

  private take(): Token {
    const t = this.peek();
    this.buffered = null;
    return t;
  }

  private isPunct(text: string): boolean {
    const t = this.peek();
    return t.kind === "punct" && t.text === text;
  }

  private isKeyword(word: string): boolean {
    const t = this.peek();
    return t.kind === "ident" && t.text === word;
  }

  private fail(t: Token | Pos, message: string): never {
    throw new RulesCompileError(message, t.line, t.column);
  }

  private describe(t: Token): string {
    if (t.kind === "eof") return "end of file";
    if (t.kind === "string") return `string '${t.text}'`;
    return `'${t.text}'`;
  }

  private expectPunct(text: string, context: string): Token {
    const t = this.peek();
    if (t.kind !== "punct" || t.text !== text)
      this.fail(t, `expected '${text}' ${context}, found ${this.describe(t)}`);
    return this.take();
  }

  private expectKeyword(word: string, context: string): Token {
    const t = this.peek();
    if (t.kind !== "ident" || t.text !== word)
      this.fail(t, `expected '${word}' ${context}, found ${this.describe(t)}`);
    return this.take();
  }

  private expectIdent(context: string): Token {
    const t = this.peek();
    if (t.kind !== "ident") this.fail(t, `expected an identifier ${context}, found ${this.describe(t)}`);
    if (RESERVED.has(t.text)) this.fail(t, `'${t.text}' is a reserved word and cannot be used ${context}`);
    return this.take();
  }

  private pos(t: Token): Pos {
    return { line: t.line, column: t.column };
  }

  // ---- declarations ----

  parseFile(): RulesFile {
    let version: 1 | 2 = 1;
    if (this.isKeyword("rules_version")) {
      this.take();
      this.expectPunct("=", "after rules_version");
      const v = this.peek();
      if (v.kind !== "string")
        this.fail(v, `expected a string after 'rules_version =', found ${this.describe(v)}`);
      this.take();
      if (v.text === "2") version = 2;
      else if (v.text === "1") version = 1;
      else this.fail(v, `unsupported rules_version '${v.text}' (supported: '1', '2')`);
      if (this.isPunct(";")) this.take();
    }
    const svc = this.expectKeyword("service", "at the top level");
    let name = this.expectIdent("as the service name").text;
    while (this.isPunct(".")) {
      this.take();
      name += "." + this.expectIdent("in the service name").text;
    }
    if (name !== "cloud.firestore")
      this.fail(svc, `unsupported service '${name}' (expected 'cloud.firestore')`);
    this.expectPunct("{", "after the service name");
    const functions: FunctionDecl[] = [];
    const matches: MatchBlock[] = [];
    while (!this.isPunct("}")) {
      const t = this.peek();
      if (this.isKeyword("function")) functions.push(this.parseFunction());
      else if (this.isKeyword("match")) matches.push(this.parseMatch());
      else if (this.isKeyword("allow")) this.fail(t, "'allow' statements must be inside a 'match' block");
      else this.fail(t, `expected 'match' or 'function', found ${this.describe(t)}`);
    }
    this.take();
    const end = this.peek();
    if (end.kind !== "eof") this.fail(end, `unexpected ${this.describe(end)} after the service block`);
    return { version, functions, matches };
  }

  private parseMatch(): MatchBlock {
    const kw = this.take();
    const t = this.peek();
    if (t.kind !== "punct" || t.text !== "/")
      this.fail(t, `expected a path starting with '/' after 'match', found ${this.describe(t)}`);
    const { segments, text } = this.readMatchPath(t.offset);
    this.expectPunct("{", `after the match path ${text}`);
    const block: MatchBlock = {
      ...this.pos(kw),
      path: segments,
      pathText: text,
      functions: [],
      allows: [],
      matches: [],
    };
    while (!this.isPunct("}")) {
      const s = this.peek();
      if (this.isKeyword("function")) block.functions.push(this.parseFunction());
      else if (this.isKeyword("match")) block.matches.push(this.parseMatch());
      else if (this.isKeyword("allow")) block.allows.push(this.parseAllow());
      else this.fail(s, `expected 'match', 'allow' or 'function', found ${this.describe(s)}`);
    }
    this.take();
    return block;
  }

  /** Reads `/a/{b}/{c=**}` from raw characters starting at the first '/'. */
  private readMatchPath(start: number): { segments: MatchSegment[]; text: string } {
    const src = this.src;
    let p = start;
    const segments: MatchSegment[] = [];
    while (src.charAt(p) === "/") {
      p++;
      if (src.charAt(p) === "{") {
        const close = src.indexOf("}", p);
        const inner = close < 0 ? "" : src.slice(p + 1, close);
        const m = /^([A-Za-z_][A-Za-z0-9_]*)(=\*\*)?$/.exec(inner);
        if (close < 0 || !m?.[1])
          throw this.lx.error(p, `malformed wildcard segment in match path (expected {name} or {name=**})`);
        segments.push(m[2] ? { kind: "recursive", name: m[1] } : { kind: "wildcard", name: m[1] });
        p = close + 1;
      } else {
        const segStart = p;
        while (p < src.length && PATH_CHAR.test(src.charAt(p))) p++;
        if (p === segStart) throw this.lx.error(p, "empty or malformed segment in match path");
        const text = src.slice(segStart, p);
        if (text.includes("*"))
          throw this.lx.error(segStart, "'*' is only allowed in a recursive wildcard {name=**}");
        segments.push({ kind: "literal", text });
      }
    }
    if (p < src.length && !/[\s{]/.test(src.charAt(p))) {
      throw this.lx.error(p, `unexpected character '${src.charAt(p)}' in match path`);
    }
    const recursive = segments.filter((s) => s.kind === "recursive").length;
    if (recursive > 1) throw this.lx.error(start, "a match path may contain at most one recursive wildcard");
    const text = src.slice(start, p);
    this.lx.pos = p;
    this.buffered = null;
    return { segments, text };
  }

  private parseAllow(): AllowStmt {
    const kw = this.take();
    const methods: Method[] = [];
    for (;;) {
      const t = this.peek();
      if (t.kind !== "ident" || !METHODS.includes(t.text as Method)) {
        this.fail(t, `expected a method (${METHODS.join(", ")}) after 'allow', found ${this.describe(t)}`);
      }
      this.take();
      methods.push(t.text as Method);
      if (!this.isPunct(",")) break;
      this.take();
    }
    let condition: Expr | null = null;
    if (this.isPunct(":")) {
      this.take();
      this.expectKeyword("if", "after 'allow <methods>:'");
      condition = this.parseExpr();
    }
    const endTok = this.peek();
    if (this.isPunct(";")) this.take();
    else if (!(
      this.isPunct("}") ||
      this.isKeyword("allow") ||
      this.isKeyword("match") ||
      this.isKeyword("function")
    )) {
      this.fail(endTok, `expected ';' after the allow condition, found ${this.describe(endTok)}`);
    }
    const text = this.src.slice(kw.offset, endTok.offset).trim();
    return { ...this.pos(kw), methods, condition, text };
  }

  private parseFunction(): FunctionDecl {
    const kw = this.take();
    const name = this.expectIdent("as the function name");
    this.expectPunct("(", `after function name '${name.text}'`);
    const params: string[] = [];
    if (!this.isPunct(")")) {
      for (;;) {
        const p = this.expectIdent("as a parameter name");
        if (params.includes(p.text)) this.fail(p, `duplicate parameter '${p.text}'`);
        params.push(p.text);
        if (!this.isPunct(",")) break;
        this.take();
      }
    }
    this.expectPunct(")", "after the parameter list");
    this.expectPunct("{", "to start the function body");
    const lets: FunctionDecl["lets"] = [];
    while (this.isKeyword("let")) {
      const l = this.take();
      const n = this.expectIdent("after 'let'");
      if (params.includes(n.text) || lets.some((x) => x.name === n.text)) {
        this.fail(n, `'${n.text}' is already defined in function '${name.text}'`);
      }
      this.expectPunct("=", `after 'let ${n.text}'`);
      const value = this.parseExpr();
      this.expectPunct(";", "after the let binding");
      lets.push({ name: n.text, value, ...this.pos(l) });
    }
    this.expectKeyword(
      "return",
      `in function '${name.text}' (a function body is 'let' bindings then 'return <expr>;')`,
    );
    const body = this.parseExpr();
    if (this.isPunct(";")) this.take();
    this.expectPunct("}", `to close function '${name.text}'`);
    return { ...this.pos(kw), name: name.text, params, lets, body };
  }

  // ---- expressions ----

  parseExpr(): Expr {
    const cond = this.parseBinary(0);
    if (!this.isPunct("?")) return cond;
    this.take();
    const then = this.parseExpr();
    this.expectPunct(":", "in conditional expression");
    const otherwise = this.parseExpr();
    return { kind: "ternary", cond, then, else: otherwise, line: cond.line, column: cond.column };
  }

  private static readonly LEVELS: readonly (readonly string[])[] = [
    ["||"],
    ["&&"],
    ["==", "!=", "<", "<=", ">", ">=", "in", "is"],
    ["+", "-"],
    ["*", "/", "%"],
  ];

  private binaryOpAt(level: number): string | null {
    const ops = Parser.LEVELS[level] ?? [];
    const t = this.peek();
    if (t.kind === "punct" && ops.includes(t.text)) return t.text;
    if (t.kind === "ident" && (t.text === "in" || t.text === "is") && ops.includes(t.text)) return t.text;
    return null;
  }

  private parseBinary(level: number): Expr {
    if (level >= Parser.LEVELS.length) return this.parseUnary();
    let left = this.parseBinary(level + 1);
    for (;;) {
      const op = this.binaryOpAt(level);
      if (op === null) return left;
      const opTok = this.take();
      if (op === "is") {
        const tn = this.peek();
        if (tn.kind !== "ident") this.fail(tn, `expected a type name after 'is', found ${this.describe(tn)}`);
        this.take();
        left = { kind: "is", operand: left, typeName: tn.text, ...this.pos(tn) };
        continue;
      }
      const right = this.parseBinary(level + 1);
      left = { kind: "binary", op: op as BinaryOp, left, right, ...this.pos(opTok) };
    }
  }

  private parseUnary(): Expr {
    const t = this.peek();
    if (t.kind === "punct" && (t.text === "!" || t.text === "-")) {
      this.take();
      const operand = this.parseUnary();
      if (t.text === "-" && operand.kind === "int")
        return { ...operand, value: -operand.value, ...this.pos(t) };
      if (t.text === "-" && operand.kind === "float")
        return { ...operand, value: -operand.value, ...this.pos(t) };
      return { kind: "unary", op: t.text, operand, ...this.pos(t) };
    }
    return this.parsePostfix(this.parsePrimary());
  }

  private parsePostfix(expr: Expr): Expr {
    for (;;) {
      if (this.isPunct(".")) {
        this.take();
        const name = this.peek();
        if (name.kind !== "ident")
          this.fail(name, `expected a member name after '.', found ${this.describe(name)}`);
        this.take();
        if (this.isPunct("(")) {
          const args = this.parseArgs();
          expr = { kind: "method", target: expr, name: name.text, args, ...this.pos(name) };
        } else {
          expr = { kind: "member", target: expr, name: name.text, ...this.pos(name) };
        }
      } else if (this.isPunct("[")) {
        const open = this.take();
        const index = this.parseExpr();
        if (this.isPunct(":")) {
          this.take();
          const to = this.parseExpr();
          this.expectPunct("]", "to close the range");
          expr = { kind: "slice", target: expr, from: index, to, ...this.pos(open) };
        } else {
          this.expectPunct("]", "to close the index");
          expr = { kind: "index", target: expr, index, ...this.pos(open) };
        }
      } else if (this.isPunct("(")) {
        this.fail(this.peek(), "only named functions and methods can be called");
      } else {
        return expr;
      }
    }
  }

  private parseArgs(): Expr[] {
    this.expectPunct("(", "to start the argument list");
    const args: Expr[] = [];
    if (!this.isPunct(")")) {
      for (;;) {
        args.push(this.parseExpr());
        if (!this.isPunct(",")) break;
        this.take();
      }
    }
    this.expectPunct(")", "to close the argument list");
    return args;
  }

  private parsePrimary(): Expr {
    const t = this.peek();
    const pos = this.pos(t);
    switch (t.kind) {
      case "int":
        this.take();
        if ((t.bigint ?? 0n) > 9223372036854775807n)
          this.fail(t, `integer literal ${t.text} is out of range`);
        return { kind: "int", value: t.bigint ?? 0n, ...pos };
      case "float":
        this.take();
        return { kind: "float", value: t.num ?? 0, ...pos };
      case "string":
        this.take();
        return { kind: "string", value: t.text, ...pos };
      case "bytes":
        this.take();
        return { kind: "bytes", value: t.bytes ?? new Uint8Array(), ...pos };
      case "eof":
        return this.fail(t, "unexpected end of file in expression");
      case "ident": {
        this.take();
        if (t.text === "true" || t.text === "false")
          return { kind: "bool", value: t.text === "true", ...pos };
        if (t.text === "null") return { kind: "null", ...pos };
        if (RESERVED.has(t.text)) this.fail(t, `unexpected '${t.text}' in expression`);
        if (this.isPunct("(")) return { kind: "call", name: t.text, args: this.parseArgs(), ...pos };
        return { kind: "ident", name: t.text, ...pos };
      }
      case "punct":
        break;
    }
    if (t.text === "(") {
      this.take();
      const e = this.parseExpr();
      this.expectPunct(")", "to close the parenthesis");
      return e;
    }
    if (t.text === "[") {
      this.take();
      const items: Expr[] = [];
      while (!this.isPunct("]")) {
        items.push(this.parseExpr());
        if (!this.isPunct(",")) break;
        this.take();
      }
      this.expectPunct("]", "to close the list");
      return { kind: "list", items, ...pos };
    }
    if (t.text === "{") {
      this.take();
      const entries: { key: Expr; value: Expr }[] = [];
      while (!this.isPunct("}")) {
        const key = this.parseExpr();
        this.expectPunct(":", "after a map key");
        const value = this.parseExpr();
        entries.push({ key, value });
        if (!this.isPunct(",")) break;
        this.take();
      }
      this.expectPunct("}", "to close the map");
      return { kind: "map", entries, ...pos };
    }
    if (t.text === "/") return this.parsePathLiteral(t);
    return this.fail(t, `unexpected ${this.describe(t)} in expression`);
  }

  /** `/databases/$(database)/documents/users/$(request.auth.uid)` */
  private parsePathLiteral(first: Token): Expr {
    const src = this.src;
    let p = first.offset;
    const segments: PathLiteralSegment[] = [];
    while (src.charAt(p) === "/") {
      p++;
      if (src.charAt(p) === "$" && src.charAt(p + 1) === "(") {
        this.lx.pos = p + 2;
        this.buffered = null;
        const expr = this.parseExpr();
        const close = this.expectPunct(")", "to close the path interpolation $(...)");
        segments.push({ expr });
        p = close.end;
      } else {
        const segStart = p;
        while (p < src.length && PATH_CHAR.test(src.charAt(p))) p++;
        if (p === segStart) throw this.lx.error(p, "empty or malformed segment in path literal");
        segments.push({ text: src.slice(segStart, p) });
      }
      if (src.charAt(p) === "$" || src.charAt(p) === "{") {
        throw this.lx.error(p, "a path segment must be either literal text or a single $(...) interpolation");
      }
    }
    this.lx.pos = p;
    this.buffered = null;
    return { kind: "path", segments, line: first.line, column: first.column };
  }
}
