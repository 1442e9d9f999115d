import { status } from "@grpc/grpc-js";
import type { Caller } from "./auth";
import type { AccessCheck } from "./engine";
import { RpcError } from "./errors";
import { splitDocumentName } from "./paths";
import type { Filter, StructuredQuery } from "./query";
import { compileRules } from "./rules";
import type { CompiledRules, RulesAuth, RulesQuery, RulesQueryFilter, RulesRequest } from "./rules";
import type { Store } from "./store";
import type { StoredDocument } from "./types";

/** Security rules loaded per project (rules-unit-testing loads them per project id). */
export class RulesRegistry {
  private readonly byProject = new Map<string, CompiledRules>();

  /** Compiles and installs rules; throws RulesCompileError (with line and column) on any problem. */
  load(projectId: string, source: string): void {
    this.byProject.set(projectId, compileRules(source));
  }

  get(projectId: string): CompiledRules | undefined {
    return this.byProject.get(projectId);
  }

  clear(): void {
    this.byProject.clear();
  }
}

function projectOf(name: string): string {
  return /^projects\/([^/]+)\//.exec(name)?.[1] ?? "";
}

function denied(method: string, path: string, reason: string): RpcError {
  return new RpcError(
    status.PERMISSION_DENIED,
    `PERMISSION_DENIED: false for '${method}' @ ${path}: ${reason}. Missing or insufficient permissions.`,
  );
}

/** Splits a filter tree into its disjunctive normal form: a list of AND-ed conjunctions. */
function disjuncts(filter: Filter | undefined): Filter[][] {
  if (!filter) return [[]];
  const c = filter.compositeFilter;
  if (c) {
    const parts = (c.filters ?? []).map(disjuncts);
    if (c.op === "OR") return parts.flat();
    return parts.reduce<Filter[][]>((acc, p) => acc.flatMap((a) => p.map((b) => [...a, ...b])), [[]]);
  }
  return [[filter]];
}

function toRulesFilter(f: Filter): RulesQueryFilter | undefined {
  if (f.fieldFilter) {
    const fieldPath = f.fieldFilter.field?.fieldPath ?? "";
    const op = f.fieldFilter.op as RulesQueryFilter["op"];
    return { fieldPath, op, value: f.fieldFilter.value ?? {} };
  }
  if (f.unaryFilter) {
    const fieldPath = f.unaryFilter.field?.fieldPath ?? "";
    if (f.unaryFilter.op === "IS_NULL") return { fieldPath, op: "==", value: { nullValue: "NULL_VALUE" } };
    if (f.unaryFilter.op === "IS_NAN") return { fieldPath, op: "==", value: { doubleValue: Number.NaN } };
    if (f.unaryFilter.op === "IS_NOT_NULL")
      return { fieldPath, op: "!=", value: { nullValue: "NULL_VALUE" } };
    if (f.unaryFilter.op === "IS_NOT_NAN") return { fieldPath, op: "!=", value: { doubleValue: Number.NaN } };
  }
  return undefined;
}

/**
 * The security-rules access check: requests with admin credentials (`Bearer owner`) bypass
 * rules, as in production; others are judged against the project's loaded rules. A project
 * without loaded rules is open, as the official emulator is when started without a rules file.
 */
export function createRulesCheck(registry: RulesRegistry, store: Store): AccessCheck {
  const authOf = (caller: Caller): { admin: boolean; auth: RulesAuth | null } => {
    if (caller.kind === "admin") return { admin: true, auth: null };
    if (caller.kind === "user") return { admin: false, auth: { uid: caller.uid, token: caller.token } };
    return { admin: false, auth: null };
  };
  const plainData = {
    get: (path: string) => store.get(path),
    getAfter: (path: string) => store.get(path),
  };
  const relative = (rootedName: string): string => splitDocumentName(rootedName).path;

  return (caller, request) => {
    const { admin, auth } = authOf(caller);
    if (admin) return;
    const time = new Date();
    if (request.kind === "read") {
      for (const { name, doc } of request.docs) {
        const rules = registry.get(projectOf(name));
        if (!rules) continue;
        const path = relative(name);
        const req: RulesRequest = { database: "(default)", path, method: "get", auth, time, resource: doc };
        const d = rules.evaluate(req, absolute(plainData, name));
        if (!d.allowed) throw denied("get", path, d.reason);
      }
      return;
    }
    if (request.kind === "query") {
      const rules = registry.get(projectOf(request.parent));
      if (!rules) return;
      const q: StructuredQuery = request.query;
      const from = q.from?.[0];
      const parentPath = request.parent.endsWith("/documents") ? "" : relative(request.parent);
      const path = [parentPath, from?.collectionId ?? ""].filter((s) => s.length > 0).join("/");
      for (const conjunction of disjuncts(q.where)) {
        const filters = conjunction.map(toRulesFilter).filter((f): f is RulesQueryFilter => f !== undefined);
        const query: RulesQuery = {
          collectionGroup: from?.allDescendants === true,
          filters,
          ...(q.limit?.value !== undefined ? { limit: Number(q.limit.value) } : {}),
          ...(q.offset !== undefined ? { offset: q.offset } : {}),
          orderBy: (q.orderBy ?? []).map((o) => ({
            fieldPath: o.field?.fieldPath ?? "",
            direction: o.direction === "DESCENDING" ? ("DESCENDING" as const) : ("ASCENDING" as const),
          })),
        };
        const req: RulesRequest = { database: "(default)", path, method: "list", auth, time, query };
        const d = rules.evaluate(req, absolute(plainData, request.parent));
        if (!d.allowed) throw denied("list", path, d.reason);
      }
      return;
    }
    // Writes: judged one document at a time, with getAfter() seeing the whole batch applied.
    const after = new Map(request.changes.map((c) => [c.name, c.after] as const));
    const data = {
      get: (path: string) => store.get(path),
      getAfter: (path: string) => (after.has(path) ? after.get(path) : store.get(path)),
    };
    const accessLog = new Set<string>();
    for (const change of request.changes) {
      const rules = registry.get(projectOf(change.name));
      if (!rules) continue;
      const path = relative(change.name);
      const method = change.before
        ? change.after
          ? "update"
          : "delete"
        : change.after
          ? "create"
          : "delete";
      const req: RulesRequest = {
        database: "(default)",
        path,
        method,
        auth,
        time,
        resource: change.before,
        newResource: change.after,
      };
      const d = rules.evaluate(req, absolute(data, change.name), {
        maxDocAccess: request.changes.length > 1 ? 20 : 10,
        accessLog,
      });
      if (!d.allowed) throw denied(method, path, d.reason);
    }
  };
}

/** The rules engine addresses documents relative to the documents root; the store by full name. */
function absolute(
  data: { get(path: string): StoredDocument | undefined; getAfter(path: string): StoredDocument | undefined },
  anyName: string,
): { get(path: string): StoredDocument | undefined; getAfter(path: string): StoredDocument | undefined } {
  const idx = anyName.indexOf("/documents");
  const root = anyName.slice(0, idx + "/documents".length);
  const full = (p: string): string => (p.startsWith("projects/") ? p : `${root}/${p.replace(/^\/+/, "")}`);
  return { get: (p) => data.get(full(p)), getAfter: (p) => data.getAfter(full(p)) };
}
