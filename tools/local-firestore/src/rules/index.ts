/**
 * Firestore Security Rules (rules_version = '2') for the local Firestore: a hand-written parser,
 * a static checker that rejects unsupported constructs when rules are loaded, and an evaluator
 * with production's error semantics, document-access limits and list ("rules are not filters")
 * judging.
 */
import { parseFieldPath } from "../fieldPath";
import type { StoredDocument, Value } from "../types";
import type { AllowStmt, MatchBlock, Method, RulesFile } from "./ast";
import { checkRules } from "./checker";
import { RulesEvalError, RulesFatalError } from "./errors";
import { EvalContext, Evaluator, type Frame, Slot } from "./evaluator";
import { matchPattern, type ReqSeg } from "./matcher";
import { parseRules } from "./parser";
import { NULL, NS_PER_SECOND, type RVal, fromJson, fromValue, resourceOf, str } from "./rvalue";

export { RulesCompileError } from "./errors";

export interface RulesAuth {
  uid: string;
  /** Decoded ID-token claims (plain JSON), including custom claims and `firebase.sign_in_provider`. */
  token: Record<string, unknown>;
}

/**
 * Filter operators, as the JS SDK spells them. The structured-query enum names (EQUAL, IN, ...)
 * are accepted too. Unary filters map to `==`: IS_NULL → `== null`, IS_NAN → `== NaN`.
 */
export type RulesFilterOp =
  | "=="
  | "!="
  | "<"
  | "<="
  | ">"
  | ">="
  | "in"
  | "not-in"
  | "array-contains"
  | "array-contains-any"
  | "EQUAL"
  | "NOT_EQUAL"
  | "LESS_THAN"
  | "LESS_THAN_OR_EQUAL"
  | "GREATER_THAN"
  | "GREATER_THAN_OR_EQUAL"
  | "IN"
  | "NOT_IN"
  | "ARRAY_CONTAINS"
  | "ARRAY_CONTAINS_ANY";

export interface RulesQueryFilter {
  /** Firestore field path: dot-separated, segments may be `backtick-quoted`; `__name__` for the document name. */
  fieldPath: string;
  op: RulesFilterOp;
  value: Value;
}

export interface RulesQuery {
  /**
   * A collection-group query: `RulesRequest.path` is `<parent path>/<collection id>` (parent may be
   * empty: just the collection id) and the query reads that collection id at any depth below the parent.
   */
  collectionGroup?: boolean;
  /** The AND-ed filters. For OR queries, call evaluate once per conjunction of the disjunctive normal form. */
  filters: RulesQueryFilter[];
  limit?: number;
  offset?: number;
  orderBy?: { fieldPath: string; direction?: "ASCENDING" | "DESCENDING" }[];
}

export interface RulesRequest {
  database: string;
  /** Document path relative to the documents root; for list, the collection path. */
  path: string;
  method: "get" | "list" | "create" | "update" | "delete";
  auth: RulesAuth | null;
  time: Date;
  /** The existing document (get/update/delete); undefined if none. */
  resource?: StoredDocument;
  /** `request.resource` for create/update: the document as it would be after the write. */
  newResource?: StoredDocument;
  /** For list. */
  query?: RulesQuery;
}

export interface RulesDataAccess {
  get(path: string): StoredDocument | undefined;
  getAfter(path: string): StoredDocument | undefined;
}

export interface RulesDecision {
  allowed: boolean;
  reason: string;
}

export interface EvaluateOptions {
  /**
   * Distinct documents get()/exists()/getAfter()/existsAfter() may read per request: production allows
   * 10 for single-document requests and queries, 20 for batched writes and transactions. Default 10.
   */
  maxDocAccess?: number;
  /**
   * Distinct documents read so far in this client request. Pass the same Set to every evaluate()
   * of one batched write or transaction so the limit spans the whole request, as in production.
   */
  accessLog?: Set<string>;
}

export interface CompiledRules {
  evaluate(req: RulesRequest, data: RulesDataAccess, options?: EvaluateOptions): RulesDecision;
}

/** Parses and checks a rules file. Throws {@link RulesCompileError} (with line and column) on any problem. */
export function compileRules(source: string): CompiledRules {
  const file = parseRules(source);
  checkRules(file);
  return new Ruleset(file);
}

const COVERS: Readonly<Record<Method, readonly RulesRequest["method"][]>> = {
  read: ["get", "list"],
  write: ["create", "update", "delete"],
  get: ["get"],
  list: ["list"],
  create: ["create"],
  update: ["update"],
  delete: ["delete"],
};

const OPS: Readonly<Record<string, string>> = {
  EQUAL: "==",
  NOT_EQUAL: "!=",
  LESS_THAN: "<",
  LESS_THAN_OR_EQUAL: "<=",
  GREATER_THAN: ">",
  GREATER_THAN_OR_EQUAL: ">=",
  IN: "in",
  NOT_IN: "not-in",
  ARRAY_CONTAINS: "array-contains",
  ARRAY_CONTAINS_ANY: "array-contains-any",
};

const MAX_QUERY_ALTERNATIVES = 1000;
const NOT_FILTERS = "rules are not filters: the query does not constrain resource.data";

type MapVal = Extract<RVal, { k: "map" }>;

interface Applicable {
  allow: AllowStmt;
  block: MatchBlock;
  frame: Frame;
}

/** One way of knowing a document the query can return: the field values its filters pin down. */
type Fact = { path: string[]; kind: "eq" | "contains"; value: Value };

function truncate(s: string, n = 160): string {
  const flat = s.replace(/\s+/g, " ");
  return flat.length > n ? `${flat.slice(0, n - 3)}...` : flat;
}

class Ruleset implements CompiledRules {
  constructor(private readonly file: RulesFile) {}

  evaluate(req: RulesRequest, data: RulesDataAccess, options: EvaluateOptions = {}): RulesDecision {
    const ctx = new EvalContext(req.database, data, options.maxDocAccess ?? 10, options.accessLog);
    try {
      if (req.method !== "list") return this.judge(req, ctx, this.resourceFor(req));
      const alternatives = this.queryAlternatives(req.query);
      let last: RulesDecision | null = null;
      for (const facts of alternatives) {
        const d = this.judge(req, ctx, this.symbolicResource(facts));
        if (!d.allowed) {
          return alternatives.length > 1
            ? { allowed: false, reason: `${d.reason} (for one of the query's alternatives)` }
            : d;
        }
        last = d;
      }
      return last ?? { allowed: false, reason: "empty query" };
    } catch (err) {
      if (err instanceof RulesFatalError) return { allowed: false, reason: `denied: ${err.message}` };
      throw err;
    }
  }

  // ---- request model ----

  private segments(req: RulesRequest): ReqSeg[] {
    const rel = req.path.split("/").filter((s) => s !== "");
    const base: ReqSeg[] = [{ lit: "databases" }, { lit: req.database }, { lit: "documents" }];
    if (req.method !== "list") return [...base, ...rel.map((lit) => ({ lit }))];
    if (req.query?.collectionGroup) {
      const collectionId = rel[rel.length - 1] ?? "";
      return [
        ...base,
        ...rel.slice(0, -1).map((lit) => ({ lit })),
        { sym: "gap" },
        { lit: collectionId },
        { sym: "doc" },
      ];
    }
    return [...base, ...rel.map((lit) => ({ lit })), { sym: "doc" }];
  }

  private resourceFor(req: RulesRequest): RVal {
    if (req.method === "create" || !req.resource) return NULL;
    return resourceOf(req.resource, req.database, req.path);
  }

  private requestValue(req: RulesRequest): RVal {
    const m = new Map<string, RVal>();
    m.set(
      "auth",
      req.auth
        ? {
            k: "map",
            v: new Map<string, RVal>([
              ["uid", str(req.auth.uid)],
              ["token", fromJson(req.auth.token)],
            ]),
          }
        : NULL,
    );
    m.set("method", str(req.method));
    m.set("time", { k: "timestamp", ns: BigInt(req.time.getTime()) * (NS_PER_SECOND / 1000n) });
    const rel = req.path.split("/").filter((s) => s !== "");
    const fullPath: RVal =
      req.method === "list" && req.query?.collectionGroup
        ? { k: "unknown", why: "request.path of a collection-group query is not a single path" }
        : { k: "path", segs: ["databases", req.database, "documents", ...rel] };
    m.set("path", fullPath);
    m.set(
      "resource",
      (req.method === "create" || req.method === "update") && req.newResource
        ? resourceOf(req.newResource, req.database, req.path)
        : NULL,
    );
    if (req.method === "list") {
      const q = req.query;
      const orderBy = new Map<string, RVal>();
      for (const o of q?.orderBy ?? [])
        orderBy.set(o.fieldPath, str(o.direction === "DESCENDING" ? "DESC" : "ASC"));
      m.set("query", {
        k: "map",
        v: new Map<string, RVal>([
          ["limit", q?.limit !== undefined ? { k: "int", v: BigInt(q.limit) } : NULL],
          ["offset", q?.offset !== undefined ? { k: "int", v: BigInt(q.offset) } : NULL],
          ["orderBy", orderBy.size > 0 ? { k: "map", v: orderBy } : NULL],
        ]),
      });
    }
    return { k: "map", v: m };
  }

  // ---- list judging ----

  /** The query's filters as sets of facts; `in`/`array-contains-any` expand into alternatives. */
  private queryAlternatives(q: RulesQuery | undefined): Fact[][] {
    let alts: Fact[][] = [[]];
    for (const f of q?.filters ?? []) {
      const op = OPS[f.op] ?? f.op;
      const path = parseFieldPath(f.fieldPath);
      let choices: Fact[];
      if (op === "==") choices = [{ path, kind: "eq", value: f.value }];
      else if (op === "array-contains") choices = [{ path, kind: "contains", value: f.value }];
      else if (op === "in" || op === "array-contains-any") {
        const values = f.value.arrayValue?.values ?? [];
        const kind = op === "in" ? "eq" : "contains";
        choices = values.map((value) => ({ path, kind, value }));
        if (choices.length === 0) continue;
      } else continue; // inequality filters pin no value: the field stays unknown
      const next: Fact[][] = [];
      for (const a of alts) for (const c of choices) next.push([...a, c]);
      if (next.length > MAX_QUERY_ALTERNATIVES) {
        throw new RulesFatalError(`query has more than ${MAX_QUERY_ALTERNATIVES} disjunctive alternatives`);
      }
      alts = next;
    }
    return alts;
  }

  /** A document the query could return, known only through the query's equality constraints. */
  private symbolicResource(facts: Fact[]): RVal {
    const data: MapVal = { k: "map", v: new Map(), partial: NOT_FILTERS };
    let id: RVal = {
      k: "unknown",
      why: "rules are not filters: resource.id of a queried document is not known",
    };
    let name: RVal = {
      k: "unknown",
      why: "rules are not filters: resource.__name__ of a queried document is not known",
    };
    for (const f of facts) {
      if (f.path.length === 1 && f.path[0] === "__name__") {
        if (f.kind === "eq") {
          const p = fromValue(f.value);
          if (p.k === "path") {
            name = p;
            id = str(p.segs[p.segs.length - 1] ?? "");
          }
        }
        continue;
      }
      let cur: MapVal | null = data;
      let prefix = NOT_FILTERS;
      for (let i = 0; i < f.path.length && cur?.partial !== undefined; i++) {
        const seg = f.path[i] ?? "";
        prefix = `${prefix}.${seg}`;
        if (i === f.path.length - 1) {
          cur.v.set(
            seg,
            f.kind === "eq"
              ? fromValue(f.value)
              : { k: "list", v: [fromValue(f.value)], partial: `${prefix} (only array-contains is known)` },
          );
          break;
        }
        let next = cur.v.get(seg);
        if (!next) {
          next = { k: "map", v: new Map(), partial: prefix };
          cur.v.set(seg, next);
        }
        cur = next.k === "map" ? next : null; // a fully known non-map value: nothing more to learn
      }
    }
    return {
      k: "map",
      v: new Map<string, RVal>([
        ["data", data],
        ["id", id],
        ["__name__", name],
      ]),
    };
  }

  // ---- matching and evaluation ----

  private applicable(req: RulesRequest, root: Frame): Applicable[] {
    const segs = this.segments(req);
    const out: Applicable[] = [];
    const walk = (blocks: MatchBlock[], start: number, parent: Frame): void => {
      for (const block of blocks) {
        for (const m of matchPattern(block.path, segs, start, this.file.version)) {
          const vars = new Map<string, Slot>();
          for (const [k, v] of m.bindings) vars.set(k, Slot.of(v));
          const frame: Frame = { vars, funcs: new Map(block.functions.map((f) => [f.name, f])), parent };
          if (m.end === segs.length) {
            for (const allow of block.allows) {
              if (allow.methods.some((x) => COVERS[x].includes(req.method)))
                out.push({ allow, block, frame });
            }
          }
          walk(block.matches, m.end, frame);
        }
      }
    };
    const service: Frame = {
      vars: new Map(),
      funcs: new Map(this.file.functions.map((f) => [f.name, f])),
      parent: root,
    };
    walk(this.file.matches, 0, service);
    return out;
  }

  private judge(req: RulesRequest, ctx: EvalContext, resource: RVal): RulesDecision {
    const root: Frame = {
      vars: new Map([
        ["request", Slot.of(this.requestValue(req))],
        ["resource", Slot.of(resource)],
      ]),
      funcs: new Map(),
      parent: null,
    };
    const candidates = this.applicable(req, root);
    const target = `${req.method} on /${req.path}${req.query?.collectionGroup ? " (collection group)" : ""}`;
    if (candidates.length === 0)
      return { allowed: false, reason: `denied: no allow statement matches ${target}` };
    const evaluator = new Evaluator(ctx);
    const failures: string[] = [];
    for (const { allow, block, frame } of candidates) {
      const where = `'${truncate(allow.text)}' at ${allow.line}:${allow.column} in match ${block.pathText}`;
      if (!allow.condition) return { allowed: true, reason: `allowed by ${where}` };
      try {
        const v = evaluator.eval(allow.condition, frame);
        if (v.k === "bool" && v.v) return { allowed: true, reason: `allowed by ${where}` };
        failures.push(v.k === "bool" ? `${where} is false` : `${where} evaluated to a non-boolean (${v.k})`);
      } catch (err) {
        if (!(err instanceof RulesEvalError)) throw err;
        failures.push(`${where} errored: ${err.message}`);
      }
    }
    return { allowed: false, reason: `denied ${target}: ${failures.join("; ")}` };
  }
}
