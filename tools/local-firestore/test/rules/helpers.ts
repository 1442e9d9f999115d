import type { StoredDocument, Value } from "../../src/types";
import {
  compileRules,
  type CompiledRules,
  type RulesAuth,
  type RulesDataAccess,
  type RulesDecision,
  type RulesQuery,
  type RulesRequest,
} from "../../src/rules";

export const T0 = new Date("2024-05-01T12:00:00.000Z");

/** Plain JS to a Firestore Value: integers become integerValue, Date a timestamp. */
export function val(x: unknown): Value {
  if (x === null || x === undefined) return { nullValue: "NULL_VALUE" };
  if (typeof x === "boolean") return { booleanValue: x };
  if (typeof x === "number") return Number.isInteger(x) ? { integerValue: String(x) } : { doubleValue: x };
  if (typeof x === "string") return { stringValue: x };
  if (x instanceof Date) {
    const ms = x.getTime();
    return { timestampValue: { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 } };
  }
  if (x instanceof Uint8Array) return { bytesValue: x };
  if (Array.isArray(x)) return { arrayValue: { values: x.map(val) } };
  if (typeof x === "object") {
    if ("__ref" in x) return { referenceValue: (x as { __ref: string }).__ref };
    if ("__geo" in x) {
      const [latitude, longitude] = (x as { __geo: [number, number] }).__geo;
      return { geoPointValue: { latitude, longitude } };
    }
    return { mapValue: { fields: fields(x as Record<string, unknown>) } };
  }
  throw new Error(`cannot convert ${typeof x}`);
}

export function fields(o: Record<string, unknown>): Record<string, Value> {
  const out: Record<string, Value> = {};
  for (const [k, v] of Object.entries(o)) out[k] = val(v);
  return out;
}

export function doc(path: string, data: Record<string, unknown>): StoredDocument {
  return {
    name: `projects/demo-rules/databases/(default)/documents/${path}`,
    fields: fields(data),
    createTime: { seconds: 1, nanos: 0 },
    updateTime: { seconds: 1, nanos: 0 },
  };
}

/** An in-memory database for get()/exists() (before) and getAfter()/existsAfter() (after), counting reads. */
export class Store implements RulesDataAccess {
  readonly before = new Map<string, StoredDocument>();
  readonly after = new Map<string, StoredDocument>();
  reads: string[] = [];

  constructor(
    data: Record<string, Record<string, unknown>> = {},
    afterData?: Record<string, Record<string, unknown> | null>,
  ) {
    for (const [p, d] of Object.entries(data)) {
      this.before.set(p, doc(p, d));
      this.after.set(p, doc(p, d));
    }
    for (const [p, d] of Object.entries(afterData ?? {})) {
      if (d === null) this.after.delete(p);
      else this.after.set(p, doc(p, d));
    }
  }

  get(path: string): StoredDocument | undefined {
    this.reads.push(`get:${path}`);
    return this.before.get(path);
  }

  getAfter(path: string): StoredDocument | undefined {
    this.reads.push(`getAfter:${path}`);
    return this.after.get(path);
  }
}

export function user(uid: string, claims: Record<string, unknown> = {}): RulesAuth {
  return { uid, token: { sub: uid, firebase: { sign_in_provider: "password" }, ...claims } };
}

export interface Ask {
  method: RulesRequest["method"];
  path: string;
  auth?: RulesAuth | null;
  /** Existing document data (get/update/delete). */
  existing?: Record<string, unknown>;
  /** request.resource data (create/update). */
  incoming?: Record<string, unknown>;
  query?: RulesQuery;
  store?: Store;
  time?: Date;
  maxDocAccess?: number;
}

export function ask(rules: CompiledRules, a: Ask): RulesDecision {
  const req: RulesRequest = {
    database: "(default)",
    path: a.path,
    method: a.method,
    auth: a.auth ?? null,
    time: a.time ?? T0,
    ...(a.existing ? { resource: doc(a.path, a.existing) } : {}),
    ...(a.incoming ? { newResource: doc(a.path, a.incoming) } : {}),
    ...(a.query ? { query: a.query } : {}),
  };
  return rules.evaluate(
    req,
    a.store ?? new Store(),
    a.maxDocAccess !== undefined ? { maxDocAccess: a.maxDocAccess } : {},
  );
}

/** Rules with one `match /t/{id}` block whose `allow <methods>` condition is `cond`. */
export function ruleWith(cond: string, extra = "", methods = "read, write"): CompiledRules {
  return compileRules(`rules_version = '2';
service cloud.firestore {
  match /databases/{database}/documents {
    ${extra}
    match /t/{id} {
      allow ${methods}: if ${cond};
    }
  }
}`);
}

/** Evaluates a condition for `get /t/doc1` with optional existing data and auth. */
export function cond(
  expr: string,
  opts: { existing?: Record<string, unknown>; auth?: RulesAuth | null; extra?: string; store?: Store } = {},
): RulesDecision {
  return ask(ruleWith(expr, opts.extra ?? ""), {
    method: "get",
    path: "t/doc1",
    auth: opts.auth === undefined ? user("alice") : opts.auth,
    ...(opts.existing ? { existing: opts.existing } : {}),
    ...(opts.store ? { store: opts.store } : {}),
  });
}

export function allows(expr: string, opts: Parameters<typeof cond>[1] = {}): boolean {
  return cond(expr, opts).allowed;
}
