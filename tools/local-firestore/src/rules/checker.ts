import type { Expr, FunctionDecl, MatchBlock, RulesFile } from "./ast";
import { RulesCompileError } from "./errors";
import { GLOBAL_FUNCTIONS, METHOD_ARITY, NAMESPACES, TYPE_NAMES } from "./library";

/** Variables every condition can see. */
export const GLOBAL_VARIABLES: readonly string[] = ["request", "resource"];

/** Maximum nesting of user function calls, as in production. */
export const MAX_CALL_DEPTH = 20;

interface Scope {
  vars: ReadonlySet<string>;
  funcs: ReadonlyMap<string, FunctionDecl>;
  parent: Scope | null;
}

function lookupVar(scope: Scope | null, name: string): boolean {
  for (let s = scope; s; s = s.parent) if (s.vars.has(name)) return true;
  return false;
}

function lookupFunction(scope: Scope | null, name: string): FunctionDecl | undefined {
  for (let s = scope; s; s = s.parent) {
    const f = s.funcs.get(name);
    if (f) return f;
  }
  return undefined;
}

function err(pos: { line: number; column: number }, message: string): RulesCompileError {
  return new RulesCompileError(message, pos.line, pos.column);
}

function arityText(counts: readonly number[]): string {
  return counts.map(String).join(" or ");
}

/**
 * Static checks done when rules are loaded: every identifier resolves, every function, namespace
 * member and method exists with a valid argument count, `is` names a type, and no function is
 * (mutually) recursive. Anything unsupported fails here, loudly, instead of denying at runtime.
 */
export function checkRules(file: RulesFile): void {
  const calls = new Map<FunctionDecl, Set<FunctionDecl>>();

  const functionScope = (fns: FunctionDecl[], what: string): Map<string, FunctionDecl> => {
    const m = new Map<string, FunctionDecl>();
    for (const f of fns) {
      if (m.has(f.name)) throw err(f, `function '${f.name}' is already defined in ${what}`);
      m.set(f.name, f);
    }
    return m;
  };

  const checkExpr = (e: Expr, scope: Scope, current: FunctionDecl | null): void => {
    const rec = (x: Expr): void => {
      checkExpr(x, scope, current);
    };
    switch (e.kind) {
      case "null":
      case "bool":
      case "int":
      case "float":
      case "string":
      case "bytes":
        return;
      case "ident":
        if (lookupVar(scope, e.name)) return;
        if (e.name in NAMESPACES) {
          throw err(e, `'${e.name}' is a namespace; use it as ${e.name}.<function>(...)`);
        }
        if (e.name in GLOBAL_FUNCTIONS || lookupFunction(scope, e.name)) {
          throw err(e, `'${e.name}' is a function and must be called`);
        }
        throw err(e, `unknown variable '${e.name}'`);
      case "member":
        if (e.target.kind === "ident" && e.target.name in NAMESPACES && !lookupVar(scope, e.target.name)) {
          throw err(e, `'${e.target.name}.${e.name}' is not supported (namespace members must be called)`);
        }
        rec(e.target);
        return;
      case "index":
        rec(e.target);
        rec(e.index);
        return;
      case "slice":
        rec(e.target);
        rec(e.from);
        rec(e.to);
        return;
      case "call": {
        e.args.forEach(rec);
        const f = lookupFunction(scope, e.name);
        if (f) {
          if (f.params.length !== e.args.length) {
            throw err(
              e,
              `function '${e.name}' takes ${f.params.length} argument(s), called with ${e.args.length}`,
            );
          }
          if (current) {
            let set = calls.get(current);
            if (!set) calls.set(current, (set = new Set()));
            set.add(f);
          }
          return;
        }
        const arity = GLOBAL_FUNCTIONS[e.name];
        if (!arity) throw err(e, `unknown or unsupported function '${e.name}()'`);
        if (!arity.includes(e.args.length)) {
          throw err(
            e,
            `function '${e.name}()' takes ${arityText(arity)} argument(s), called with ${e.args.length}`,
          );
        }
        return;
      }
      case "method": {
        e.args.forEach(rec);
        if (e.target.kind === "ident" && e.target.name in NAMESPACES && !lookupVar(scope, e.target.name)) {
          const members = NAMESPACES[e.target.name] ?? {};
          const arity = members[e.name];
          if (!arity) throw err(e, `unknown or unsupported function '${e.target.name}.${e.name}()'`);
          if (!arity.includes(e.args.length)) {
            throw err(
              e,
              `function '${e.target.name}.${e.name}()' takes ${arityText(arity)} argument(s), called with ${e.args.length}`,
            );
          }
          return;
        }
        rec(e.target);
        const arity = METHOD_ARITY[e.name];
        if (!arity) throw err(e, `unknown or unsupported method '${e.name}()'`);
        if (!arity.includes(e.args.length)) {
          throw err(
            e,
            `method '${e.name}()' takes ${arityText(arity)} argument(s), called with ${e.args.length}`,
          );
        }
        return;
      }
      case "unary":
        rec(e.operand);
        return;
      case "binary":
        rec(e.left);
        rec(e.right);
        return;
      case "is":
        rec(e.operand);
        if (!TYPE_NAMES.has(e.typeName)) throw err(e, `unknown type '${e.typeName}' after 'is'`);
        return;
      case "ternary":
        rec(e.cond);
        rec(e.then);
        rec(e.else);
        return;
      case "list":
        e.items.forEach(rec);
        return;
      case "map":
        for (const { key, value } of e.entries) {
          rec(key);
          rec(value);
        }
        return;
      case "path":
        for (const s of e.segments) if ("expr" in s) rec(s.expr);
        return;
    }
  };

  const checkFunction = (f: FunctionDecl, scope: Scope): void => {
    let s: Scope = { vars: new Set(f.params), funcs: new Map(), parent: scope };
    for (const l of f.lets) {
      checkExpr(l.value, s, f);
      s = { vars: new Set([l.name]), funcs: new Map(), parent: s };
    }
    checkExpr(f.body, s, f);
  };

  const checkMatch = (m: MatchBlock, parent: Scope, version: 1 | 2): void => {
    const rIdx = m.path.findIndex((s) => s.kind === "recursive");
    if (version === 1 && rIdx >= 0 && rIdx !== m.path.length - 1) {
      throw err(
        m,
        "in rules_version '1' a recursive wildcard must be the last path segment (use rules_version = '2')",
      );
    }
    const names = new Set<string>();
    for (const s of m.path) {
      if (s.kind === "literal") continue;
      if (names.has(s.name)) throw err(m, `wildcard '${s.name}' appears twice in the match path`);
      names.add(s.name);
    }
    const scope: Scope = { vars: names, funcs: functionScope(m.functions, `match ${m.pathText}`), parent };
    for (const f of m.functions) checkFunction(f, scope);
    for (const a of m.allows) if (a.condition) checkExpr(a.condition, scope, null);
    for (const child of m.matches) checkMatch(child, scope, version);
  };

  const root: Scope = { vars: new Set(GLOBAL_VARIABLES), funcs: new Map(), parent: null };
  const service: Scope = {
    vars: new Set(),
    funcs: functionScope(file.functions, "the service block"),
    parent: root,
  };
  for (const f of file.functions) checkFunction(f, service);
  for (const m of file.matches) checkMatch(m, service, file.version);

  // Recursion (direct or mutual) is not allowed.
  const state = new Map<FunctionDecl, "visiting" | "done">();
  const visit = (f: FunctionDecl, stack: FunctionDecl[]): void => {
    const st = state.get(f);
    if (st === "done") return;
    if (st === "visiting") {
      const cycle = [...stack.slice(stack.indexOf(f)), f].map((x) => x.name).join(" -> ");
      throw err(f, `recursive function calls are not allowed: ${cycle}`);
    }
    state.set(f, "visiting");
    for (const g of calls.get(f) ?? []) visit(g, [...stack, f]);
    state.set(f, "done");
  };
  for (const f of calls.keys()) visit(f, []);
}
