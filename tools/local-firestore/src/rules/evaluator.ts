import type { StoredDocument } from "../types";
import type { Expr, FunctionDecl } from "./ast";
import { MAX_CALL_DEPTH } from "./checker";
import { RulesEvalError, RulesFatalError } from "./errors";
import { callMethod, callNamespace, callPureGlobal, isType, NAMESPACES } from "./library";
import {
  NULL,
  type RVal,
  bool,
  concrete,
  duration,
  fail,
  float,
  int,
  listContains,
  rCompare,
  rEquals,
  resourceOf,
  str,
  timestamp,
  typeName,
} from "./rvalue";

/** Document reads for get()/exists() (current state) and getAfter()/existsAfter() (after the write). */
export interface DocumentAccess {
  get(path: string): StoredDocument | undefined;
  getAfter(path: string): StoredDocument | undefined;
}

/** A variable binding. Function arguments are evaluated eagerly with their error kept; lets lazily. */
export class Slot {
  private state: { v: RVal } | { e: RulesEvalError } | { thunk: () => RVal };

  constructor(state: { v: RVal } | { e: RulesEvalError } | { thunk: () => RVal }) {
    this.state = state;
  }

  static of(v: RVal): Slot {
    return new Slot({ v });
  }

  get(): RVal {
    const s = this.state;
    if ("v" in s) return s.v;
    if ("e" in s) throw s.e;
    try {
      const v = s.thunk();
      this.state = { v };
      return v;
    } catch (e) {
      if (e instanceof RulesEvalError) this.state = { e };
      throw e;
    }
  }
}

export interface Frame {
  vars: ReadonlyMap<string, Slot>;
  funcs: ReadonlyMap<string, FunctionDecl>;
  parent: Frame | null;
}

/** Per-request evaluation state shared by all allow statements of the request. */
export class EvalContext {
  depth = 0;

  constructor(
    readonly database: string,
    private readonly data: DocumentAccess,
    readonly maxDocAccess: number,
    /** Distinct documents read so far; shared across the writes of one batch or transaction. */
    private readonly accessed: Set<string> = new Set(),
  ) {}

  /** Reads a document for get()/exists()/getAfter()/existsAfter(), counting distinct accesses. */
  fetch(fn: string, p: RVal): { doc: StoredDocument | undefined; rel: string } {
    if (p.k !== "path") fail(`${fn}() expects a path, got ${typeName(p)}`);
    const [d0, db, d2, ...rest] = p.segs;
    if (d0 !== "databases" || d2 !== "documents") {
      fail(`${fn}() path must start with /databases/<database>/documents/, got /${p.segs.join("/")}`);
    }
    if (db !== this.database)
      fail(`${fn}() cannot read database '${db ?? ""}' from rules for '${this.database}'`);
    if (rest.length === 0 || rest.length % 2 !== 0 || rest.some((s) => s === "")) {
      fail(`${fn}() path must name a document, got /${p.segs.join("/")}`);
    }
    const rel = rest.join("/");
    const after = fn === "getAfter" || fn === "existsAfter";
    const key = `${after ? "after" : "before"}:${rel}`;
    if (!this.accessed.has(key)) {
      if (this.accessed.size >= this.maxDocAccess) {
        throw new RulesFatalError(
          `document access limit exceeded: more than ${this.maxDocAccess} get()/exists()/getAfter()/existsAfter() calls in one request`,
        );
      }
      this.accessed.add(key);
    }
    return { doc: after ? this.data.getAfter(rel) : this.data.get(rel), rel };
  }
}

function lookupVar(frame: Frame | null, name: string): Slot | undefined {
  for (let f = frame; f; f = f.parent) {
    const s = f.vars.get(name);
    if (s) return s;
  }
  return undefined;
}

function lookupFunction(frame: Frame | null, name: string): { fn: FunctionDecl; frame: Frame } | undefined {
  for (let f = frame; f; f = f.parent) {
    const fn = f.funcs.get(name);
    if (fn) return { fn, frame: f };
  }
  return undefined;
}

function asBool(v: RVal, what: string): boolean {
  if (v.k !== "bool") fail(`${what} expects a bool, got ${typeName(v)}`);
  return v.v;
}

function access(v: RVal): RVal {
  if (v.k === "unknown") fail(v.why);
  return v;
}

function member(target: RVal, name: string): RVal {
  if (target.k === "map") {
    const v = target.v.get(name);
    if (v === undefined) {
      if (target.partial !== undefined) fail(`${target.partial}.${name}`);
      fail(`Property ${name} is undefined on object`);
    }
    return access(v);
  }
  if (target.k === "null") fail(`Null value error: cannot read property ${name} of null`);
  if (target.k === "unknown") fail(target.why);
  return fail(`cannot read property ${name} of ${typeName(target)}`);
}

function indexInto(target: RVal, index: RVal): RVal {
  switch (target.k) {
    case "map":
      if (index.k !== "string") fail(`map index must be a string, got ${typeName(index)}`);
      return member(target, index.v);
    case "list": {
      if (index.k !== "int") fail(`list index must be an int, got ${typeName(index)}`);
      const v = target.v[Number(index.v)];
      if (target.partial !== undefined) fail(target.partial);
      if (index.v < 0n || v === undefined) fail(`list index ${index.v.toString()} out of range`);
      return v;
    }
    case "string": {
      if (index.k !== "int") fail(`string index must be an int, got ${typeName(index)}`);
      const chars = Array.from(target.v);
      const c = chars[Number(index.v)];
      if (index.v < 0n || c === undefined) fail(`string index ${index.v.toString()} out of range`);
      return str(c);
    }
    case "path": {
      if (index.k !== "int") fail(`path index must be an int, got ${typeName(index)}`);
      const s = target.segs[Number(index.v)];
      if (index.v < 0n || s === undefined) fail(`path index ${index.v.toString()} out of range`);
      return str(s);
    }
    case "null":
      return fail("Null value error: cannot index null");
    default:
      concrete(target);
      return fail(`cannot index ${typeName(target)}`);
  }
}

function sliceOf(target: RVal, from: RVal, to: RVal): RVal {
  if (from.k !== "int" || to.k !== "int") fail("range bounds must be ints");
  const i = Number(from.v);
  const j = Number(to.v);
  const check = (len: number): void => {
    if (i < 0 || j < i || j > len) fail(`range [${i}:${j}] out of bounds for length ${len}`);
  };
  if (target.k === "list") {
    concrete(target);
    check(target.v.length);
    return { k: "list", v: target.v.slice(i, j) };
  }
  if (target.k === "string") {
    const chars = Array.from(target.v);
    check(chars.length);
    return str(chars.slice(i, j).join(""));
  }
  concrete(target);
  return fail(`cannot take a range of ${typeName(target)}`);
}

function arith(op: "+" | "-" | "*" | "/" | "%", a: RVal, b: RVal): RVal {
  if (a.k === "int" && b.k === "int") {
    switch (op) {
      case "+":
        return int(a.v + b.v);
      case "-":
        return int(a.v - b.v);
      case "*":
        return int(a.v * b.v);
      case "/":
        if (b.v === 0n) fail("integer division by zero");
        return int(a.v / b.v);
      case "%":
        if (b.v === 0n) fail("integer modulo by zero");
        return int(a.v % b.v);
    }
  }
  if ((a.k === "int" || a.k === "float") && (b.k === "int" || b.k === "float")) {
    const x = Number(a.v);
    const y = Number(b.v);
    switch (op) {
      case "+":
        return float(x + y);
      case "-":
        return float(x - y);
      case "*":
        return float(x * y);
      case "/":
        return float(x / y);
      case "%":
        return float(x % y);
    }
  }
  if (op === "+") {
    if (a.k === "string" && b.k === "string") return str(a.v + b.v);
    if (a.k === "list" && b.k === "list") {
      concrete(a);
      concrete(b);
      return { k: "list", v: [...a.v, ...b.v] };
    }
    if (a.k === "timestamp" && b.k === "duration") return timestamp(a.ns + b.ns);
    if (a.k === "duration" && b.k === "timestamp") return timestamp(a.ns + b.ns);
    if (a.k === "duration" && b.k === "duration") return duration(a.ns + b.ns);
  }
  if (op === "-") {
    if (a.k === "timestamp" && b.k === "duration") return timestamp(a.ns - b.ns);
    if (a.k === "timestamp" && b.k === "timestamp") return duration(a.ns - b.ns);
    if (a.k === "duration" && b.k === "duration") return duration(a.ns - b.ns);
  }
  concrete(a);
  concrete(b);
  return fail(`operator ${op} is not defined for ${typeName(a)} and ${typeName(b)}`);
}

function membership(item: RVal, container: RVal): boolean {
  switch (container.k) {
    case "list":
      return listContains(container.v, access(item), container.partial);
    case "set":
      return listContains(container.v, access(item), undefined);
    case "map":
      if (item.k !== "string") {
        concrete(item);
        return false;
      }
      if (container.v.has(item.v)) return true;
      if (container.partial !== undefined) fail(`${container.partial}.${item.v}`);
      return false;
    case "null":
      return fail("Null value error: 'in' on null");
    default:
      concrete(container);
      return fail(`'in' is not defined for ${typeName(container)}`);
  }
}

/** Evaluates rules expressions against a frame chain. Errors are thrown as {@link RulesEvalError}. */
export class Evaluator {
  constructor(private readonly ctx: EvalContext) {}

  eval(e: Expr, frame: Frame): RVal {
    try {
      return this.evalInner(e, frame);
    } catch (err) {
      if (err instanceof RulesEvalError && err.line === 0)
        throw new RulesEvalError(err.message, e.line, e.column);
      throw err;
    }
  }

  private evalInner(e: Expr, frame: Frame): RVal {
    switch (e.kind) {
      case "null":
        return NULL;
      case "bool":
        return bool(e.value);
      case "int":
        return int(e.value);
      case "float":
        return float(e.value);
      case "string":
        return str(e.value);
      case "bytes":
        return { k: "bytes", v: e.value };
      case "ident": {
        const slot = lookupVar(frame, e.name);
        if (!slot) return fail(`unknown variable '${e.name}'`);
        return access(slot.get());
      }
      case "member":
        return member(this.eval(e.target, frame), e.name);
      case "index":
        return indexInto(this.eval(e.target, frame), this.eval(e.index, frame));
      case "slice":
        return sliceOf(this.eval(e.target, frame), this.eval(e.from, frame), this.eval(e.to, frame));
      case "list":
        return { k: "list", v: e.items.map((x) => this.eval(x, frame)) };
      case "map": {
        const m = new Map<string, RVal>();
        for (const { key, value } of e.entries) {
          const k = this.eval(key, frame);
          if (k.k !== "string") fail(`map keys must be strings, got ${typeName(k)}`);
          m.set(k.v, this.eval(value, frame));
        }
        return { k: "map", v: m };
      }
      case "path": {
        const segs: string[] = [];
        for (const s of e.segments) {
          if ("text" in s) {
            segs.push(s.text);
            continue;
          }
          const v = this.eval(s.expr, frame);
          if (v.k === "string") segs.push(...v.v.split("/"));
          else if (v.k === "int") segs.push(v.v.toString());
          else if (v.k === "path") segs.push(...v.segs);
          else fail(`cannot interpolate ${typeName(v)} into a path`);
        }
        return { k: "path", segs };
      }
      case "unary": {
        const v = this.eval(e.operand, frame);
        if (e.op === "!") return bool(!asBool(v, "operator !"));
        if (v.k === "int") return int(-v.v);
        if (v.k === "float") return float(-v.v);
        if (v.k === "duration") return duration(-v.ns);
        concrete(v);
        return fail(`unary - is not defined for ${typeName(v)}`);
      }
      case "is":
        return bool(isType(this.eval(e.operand, frame), e.typeName));
      case "ternary":
        return asBool(this.eval(e.cond, frame), "?:") ? this.eval(e.then, frame) : this.eval(e.else, frame);
      case "binary":
        return this.binary(e, frame);
      case "call":
        return this.call(e, frame);
      case "method": {
        if (e.target.kind === "ident" && e.target.name in NAMESPACES && !lookupVar(frame, e.target.name)) {
          return callNamespace(
            e.target.name,
            e.name,
            e.args.map((a) => this.eval(a, frame)),
          );
        }
        const target = this.eval(e.target, frame);
        return callMethod(
          target,
          e.name,
          e.args.map((a) => this.eval(a, frame)),
        );
      }
    }
  }

  private binary(e: Expr & { kind: "binary" }, frame: Frame): RVal {
    if (e.op === "&&" || e.op === "||") return this.logical(e.op, e.left, e.right, frame);
    const a = this.eval(e.left, frame);
    const b = this.eval(e.right, frame);
    switch (e.op) {
      case "==":
        return bool(rEquals(a, b));
      case "!=":
        return bool(!rEquals(a, b));
      case "<":
        return bool(rCompare(a, b) < 0);
      case "<=":
        return bool(rCompare(a, b) <= 0);
      case ">":
        return bool(rCompare(a, b) > 0);
      case ">=":
        return bool(rCompare(a, b) >= 0);
      case "in":
        return bool(membership(a, b));
      default:
        return arith(e.op, a, b);
    }
  }

  /**
   * `false && error` = false, `error && false` = false, `true || error` = true, `error || true` = true;
   * otherwise an error on either side is the result.
   */
  private logical(op: "&&" | "||", left: Expr, right: Expr, frame: Frame): RVal {
    const decisive = op === "||";
    let leftError: RulesEvalError | null = null;
    try {
      const l = asBool(this.eval(left, frame), `operator ${op}`);
      if (l === decisive) return bool(decisive);
    } catch (err) {
      if (!(err instanceof RulesEvalError)) throw err;
      leftError = err;
    }
    const r = asBool(this.eval(right, frame), `operator ${op}`);
    if (r === decisive) return bool(decisive);
    if (leftError) throw leftError;
    return bool(!decisive);
  }

  private call(e: Expr & { kind: "call" }, frame: Frame): RVal {
    const user = lookupFunction(frame, e.name);
    if (user) return this.callUser(user.fn, user.frame, e.args, frame);
    const args = e.args.map((a) => this.eval(a, frame));
    const a0 = args[0] ?? NULL;
    switch (e.name) {
      case "get":
      case "getAfter": {
        const { doc, rel } = this.ctx.fetch(e.name, a0);
        return doc ? resourceOf(doc, this.ctx.database, rel) : NULL;
      }
      case "exists":
      case "existsAfter":
        return bool(this.ctx.fetch(e.name, a0).doc !== undefined);
      default:
        return callPureGlobal(e.name, a0);
    }
  }

  private callUser(fn: FunctionDecl, defining: Frame, argExprs: Expr[], caller: Frame): RVal {
    const vars = new Map<string, Slot>();
    fn.params.forEach((p, i) => {
      const argExpr = argExprs[i];
      if (!argExpr) return;
      try {
        vars.set(p, Slot.of(this.eval(argExpr, caller)));
      } catch (err) {
        if (!(err instanceof RulesEvalError)) throw err;
        vars.set(p, new Slot({ e: err }));
      }
    });
    if (this.ctx.depth >= MAX_CALL_DEPTH) {
      fail(`function call depth limit (${MAX_CALL_DEPTH}) exceeded calling ${fn.name}()`);
    }
    let body: Frame = { vars, funcs: new Map(), parent: defining };
    for (const l of fn.lets) {
      const letFrame = body;
      body = {
        vars: new Map([[l.name, new Slot({ thunk: () => this.eval(l.value, letFrame) })]]),
        funcs: new Map(),
        parent: letFrame,
      };
    }
    this.ctx.depth++;
    try {
      return this.eval(fn.body, body);
    } finally {
      this.ctx.depth--;
    }
  }
}
