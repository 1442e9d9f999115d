/** Syntax tree of a rules file. Every node carries the 1-based line and column where it starts. */

export interface Pos {
  line: number;
  column: number;
}

export type Expr =
  | (Pos & { kind: "null" })
  | (Pos & { kind: "bool"; value: boolean })
  | (Pos & { kind: "int"; value: bigint })
  | (Pos & { kind: "float"; value: number })
  | (Pos & { kind: "string"; value: string })
  | (Pos & { kind: "bytes"; value: Uint8Array })
  | (Pos & { kind: "ident"; name: string })
  | (Pos & { kind: "member"; target: Expr; name: string })
  | (Pos & { kind: "index"; target: Expr; index: Expr })
  | (Pos & { kind: "slice"; target: Expr; from: Expr; to: Expr })
  | (Pos & { kind: "call"; name: string; args: Expr[] })
  | (Pos & { kind: "method"; target: Expr; name: string; args: Expr[] })
  | (Pos & { kind: "unary"; op: "!" | "-"; operand: Expr })
  | (Pos & { kind: "binary"; op: BinaryOp; left: Expr; right: Expr })
  | (Pos & { kind: "is"; operand: Expr; typeName: string })
  | (Pos & { kind: "ternary"; cond: Expr; then: Expr; else: Expr })
  | (Pos & { kind: "list"; items: Expr[] })
  | (Pos & { kind: "map"; entries: { key: Expr; value: Expr }[] })
  | (Pos & { kind: "path"; segments: PathLiteralSegment[] });

export type BinaryOp =
  "||" | "&&" | "==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "+" | "-" | "*" | "/" | "%";

export type PathLiteralSegment = { text: string } | { expr: Expr };

export type MatchSegment =
  | { kind: "literal"; text: string }
  | { kind: "wildcard"; name: string }
  | { kind: "recursive"; name: string };

export type Method = "read" | "write" | "get" | "list" | "create" | "update" | "delete";

export interface FunctionDecl extends Pos {
  name: string;
  params: string[];
  lets: { name: string; value: Expr; line: number; column: number }[];
  body: Expr;
}

export interface AllowStmt extends Pos {
  methods: Method[];
  condition: Expr | null;
  /** Source text of the statement, for decision reasons. */
  text: string;
}

export interface MatchBlock extends Pos {
  path: MatchSegment[];
  pathText: string;
  functions: FunctionDecl[];
  allows: AllowStmt[];
  matches: MatchBlock[];
}

export interface RulesFile {
  version: 1 | 2;
  functions: FunctionDecl[];
  matches: MatchBlock[];
}
