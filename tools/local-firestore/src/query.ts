/**
 * The query engine: evaluates Firestore v1 StructuredQuery and StructuredAggregationQuery
 * messages over an in-memory set of documents, with production Firestore's semantics.
 *
 * Pure module: no I/O, no state. The inputs are the plain objects @grpc/proto-loader decodes
 * (camelCase keys, enums as names, int64 as decimal strings, unset fields absent), so every
 * field of the request shapes below is optional and validated here.
 *
 * Semantics follow the Firestore backend as documented in query.proto and as mirrored by the
 * client SDKs' local query matching (firebase-js-sdk `queryMatches`), in particular:
 * - A document without a filtered field never matches that filter (also `!=` and `not-in`).
 * - Range filters only match values of the operand's type class (int and double together).
 * - Documents that lack any field of the normalized ORDER BY are excluded, including the
 *   fields ordered implicitly because of inequality filters (also inside OR filters).
 */

import { invalidArgument } from "./errors";
import { parseFieldPath } from "./fieldPath";
import type { Fields, StoredDocument, Value } from "./types";
import {
  compareStrings,
  compareValues,
  integerOf,
  isNaNValue,
  isNullValue,
  valueKind,
  valuesEqual,
} from "./values";

// ---------------------------------------------------------------------------------------------
// Request shapes (google.firestore.v1.StructuredQuery and friends, as decoded by proto-loader).
// Enum fields are typed `string` because they arrive unchecked from the wire.
// ---------------------------------------------------------------------------------------------

export interface FieldReference {
  fieldPath?: string;
}

/** `op`: one of {@link FieldOperator}. */
export interface FieldFilter {
  field?: FieldReference;
  op?: string;
  value?: Value;
}

/** `op`: one of {@link UnaryOperator}. */
export interface UnaryFilter {
  op?: string;
  field?: FieldReference;
}

/** `op`: "AND" or "OR". */
export interface CompositeFilter {
  op?: string;
  filters?: Filter[];
}

/** Exactly one member is set. */
export interface Filter {
  compositeFilter?: CompositeFilter;
  fieldFilter?: FieldFilter;
  unaryFilter?: UnaryFilter;
}

/** `direction`: "ASCENDING" (the default) or "DESCENDING". */
export interface Order {
  field?: FieldReference;
  direction?: string;
}

/** A position in the query's (normalized) order; `before` puts it just before the position. */
export interface Cursor {
  values?: Value[];
  before?: boolean;
}

export interface CollectionSelector {
  collectionId?: string;
  allDescendants?: boolean;
}

export interface Projection {
  fields?: FieldReference[];
}

/** google.protobuf.Int32Value / Int64Value; proto-loader drops `value` when it is 0. */
export interface IntWrapper {
  value?: number | string;
}

export interface StructuredQuery {
  select?: Projection;
  from?: CollectionSelector[];
  where?: Filter;
  orderBy?: Order[];
  startAt?: Cursor;
  endAt?: Cursor;
  offset?: number;
  limit?: IntWrapper;
  findNearest?: FindNearest;
}

/** `distanceMeasure`: "EUCLIDEAN", "COSINE" or "DOT_PRODUCT". */
export interface FindNearest {
  vectorField?: FieldReference;
  queryVector?: Value;
  distanceMeasure?: string;
  limit?: IntWrapper;
  distanceResultField?: string;
  distanceThreshold?: { value?: number };
}

export interface Aggregation {
  alias?: string;
  count?: { upTo?: IntWrapper };
  sum?: { field?: FieldReference };
  avg?: { field?: FieldReference };
}

export interface StructuredAggregationQuery {
  structuredQuery?: StructuredQuery;
  aggregations?: Aggregation[];
}

export const FIELD_OPERATORS = [
  "LESS_THAN",
  "LESS_THAN_OR_EQUAL",
  "GREATER_THAN",
  "GREATER_THAN_OR_EQUAL",
  "EQUAL",
  "NOT_EQUAL",
  "ARRAY_CONTAINS",
  "IN",
  "ARRAY_CONTAINS_ANY",
  "NOT_IN",
] as const;
export type FieldOperator = (typeof FIELD_OPERATORS)[number];

export const UNARY_OPERATORS = ["IS_NAN", "IS_NULL", "IS_NOT_NAN", "IS_NOT_NULL"] as const;
export type UnaryOperator = (typeof UNARY_OPERATORS)[number];

// Production limits.
const MAX_DISJUNCTIONS = 30;
const MAX_IN_VALUES = 30;
const MAX_NOT_IN_VALUES = 10;
const MAX_INEQUALITY_FIELDS = 10;
const MAX_AGGREGATIONS = 5;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

const NAME_FIELD = "__name__";
const NULL_VALUE: Value = { nullValue: "NULL_VALUE" };

// ---------------------------------------------------------------------------------------------
// Field paths
// ---------------------------------------------------------------------------------------------

/**
 * Splits a field path such as `a.b` or ``a.`b.c`.`d\`e` `` into its segments. Unquoted segments
 * must be identifiers (ASCII letters, digits and `_`, not starting with a digit); any other name
 * must be backtick-quoted, with `\` escaping the next character inside the quotes.
 */
/** A parsed field path. `key` identifies the path independently of its quoting. */
interface FieldRef {
  readonly text: string;
  readonly segments: readonly string[];
  readonly key: string;
  readonly isName: boolean;
}

function toFieldRef(text: string): FieldRef {
  const segments = parseFieldPath(text);
  return {
    text,
    segments,
    key: JSON.stringify(segments),
    isName: segments.length === 1 && segments[0] === NAME_FIELD,
  };
}

function requireFieldRef(ref: FieldReference | undefined, where: string): FieldRef {
  if (ref?.fieldPath === undefined || ref.fieldPath === "") {
    throw invalidArgument(`Invalid query. ${where} requires a field path.`);
  }
  return toFieldRef(ref.fieldPath);
}

function compareFieldRefs(a: FieldRef, b: FieldRef): number {
  const n = Math.min(a.segments.length, b.segments.length);
  for (let i = 0; i < n; i++) {
    const c = compareStrings(a.segments[i] ?? "", b.segments[i] ?? "");
    if (c !== 0) return c;
  }
  return a.segments.length - b.segments.length;
}

function lookup(doc: StoredDocument, ref: FieldRef): Value | undefined {
  if (ref.isName) return { referenceValue: doc.name };
  let fields: Fields | undefined = doc.fields;
  let value: Value | undefined;
  for (const segment of ref.segments) {
    if (fields === undefined || !Object.hasOwn(fields, segment)) return undefined;
    value = fields[segment];
    fields = value?.mapValue?.fields;
  }
  return value;
}

/**
 * The value at a dotted field path, or undefined when the document lacks it. `__name__` yields
 * the document's name as a referenceValue. The returned Value is the stored object, not a copy.
 */
export function getFieldValue(doc: StoredDocument, fieldPath: string): Value | undefined {
  return lookup(doc, toFieldRef(fieldPath));
}

// ---------------------------------------------------------------------------------------------
// Compilation (validation + normalization)
// ---------------------------------------------------------------------------------------------

type Leaf =
  | { kind: "field"; field: FieldRef; op: FieldOperator; value: Value }
  | { kind: "unary"; field: FieldRef; op: UnaryOperator };

type CompiledFilter = Leaf | { kind: "composite"; op: "AND" | "OR"; filters: CompiledFilter[] };

interface SortKey {
  field: FieldRef;
  descending: boolean;
}

interface Bound {
  /** Cursor values paired with the sort key they position on (a prefix of the order). */
  components: { key: SortKey; value: Value }[];
  inclusive: boolean;
}

interface Plan {
  collectionId: string | undefined;
  allDescendants: boolean;
  filter: CompiledFilter | undefined;
  /** Normalized order: explicit, then implicit inequality fields, then `__name__`. */
  order: SortKey[];
  start: Bound | undefined;
  end: Bound | undefined;
  offset: number;
  limit: number | undefined;
  /** Projected fields (`__name__` removed); undefined returns whole documents. */
  projection: FieldRef[] | undefined;
  nearest: Nearest | undefined;
}

interface Nearest {
  field: FieldRef;
  query: number[];
  measure: "EUCLIDEAN" | "COSINE" | "DOT_PRODUCT";
  limit: number;
  resultField: FieldRef | undefined;
  threshold: number | undefined;
}

const MAX_NEAREST_LIMIT = 1000;
const MAX_VECTOR_DIMENSION = 2048;

/** The components of a vector value (`{__type__: "__vector__", value: [...]}`), or undefined. */
function vectorOf(v: Value | undefined): number[] | undefined {
  if (v === undefined || valueKind(v) !== "vector") return undefined;
  const elements = v.mapValue?.fields?.value?.arrayValue?.values ?? [];
  const out: number[] = [];
  for (const e of elements) {
    if (e.doubleValue !== undefined) out.push(e.doubleValue);
    else if (e.integerValue !== undefined) out.push(Number(e.integerValue));
    else return undefined;
  }
  return out;
}

function compileNearest(f: FindNearest, hasOrder: boolean): Nearest {
  const field = requireFieldRef(f.vectorField, "findNearest");
  const query = vectorOf(f.queryVector);
  if (query === undefined || query.length === 0) {
    throw invalidArgument("Invalid query. findNearest requires a non-empty vector as queryVector.");
  }
  if (query.length > MAX_VECTOR_DIMENSION) {
    throw invalidArgument(`Invalid query. Vector dimension cannot exceed ${MAX_VECTOR_DIMENSION}.`);
  }
  const measure = f.distanceMeasure;
  if (measure !== "EUCLIDEAN" && measure !== "COSINE" && measure !== "DOT_PRODUCT") {
    throw invalidArgument(`Invalid query. findNearest needs a distance measure, got "${measure ?? ""}".`);
  }
  const limit = Number(f.limit?.value ?? 0);
  if (!Number.isInteger(limit) || limit <= 0 || limit > MAX_NEAREST_LIMIT) {
    throw invalidArgument(`Invalid query. findNearest limit must be between 1 and ${MAX_NEAREST_LIMIT}.`);
  }
  if (hasOrder)
    throw invalidArgument("Invalid query. findNearest cannot be combined with orderBy or cursors.");
  return {
    field,
    query,
    measure,
    limit,
    resultField: f.distanceResultField ? toFieldRef(f.distanceResultField) : undefined,
    threshold: f.distanceThreshold === undefined ? undefined : (f.distanceThreshold.value ?? 0),
  };
}

function distance(measure: Nearest["measure"], a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  let sq = 0;
  a.forEach((x, i) => {
    const y = b[i] ?? 0;
    dot += x * y;
    na += x * x;
    nb += y * y;
    sq += (x - y) ** 2;
  });
  if (measure === "EUCLIDEAN") return Math.sqrt(sq);
  if (measure === "DOT_PRODUCT") return dot;
  return 1 - dot / (Math.sqrt(na) * Math.sqrt(nb));
}

/**
 * Vector search: the filtered documents whose vector field has the query's dimension, nearest
 * first (DOT_PRODUCT: largest first), within the threshold, at most `limit`.
 */
function nearestOf(n: Nearest, docs: StoredDocument[]): Array<{ doc: StoredDocument; distance: number }> {
  const scored: Array<{ doc: StoredDocument; distance: number }> = [];
  for (const doc of docs) {
    const v = vectorOf(lookup(doc, n.field));
    if (v?.length !== n.query.length) continue;
    const d = distance(n.measure, n.query, v);
    if (Number.isNaN(d)) continue; // cosine with a zero vector
    if (n.threshold !== undefined && (n.measure === "DOT_PRODUCT" ? d < n.threshold : d > n.threshold))
      continue;
    scored.push({ doc, distance: d });
  }
  scored.sort((x, y) => (n.measure === "DOT_PRODUCT" ? y.distance - x.distance : x.distance - y.distance));
  return scored.slice(0, n.limit);
}

const RANGE_OPERATORS: ReadonlySet<string> = new Set([
  "LESS_THAN",
  "LESS_THAN_OR_EQUAL",
  "GREATER_THAN",
  "GREATER_THAN_OR_EQUAL",
]);

/** Operators that force their field into the implicit ORDER BY (query.proto's "inequality"). */
function isInequality(leaf: Leaf): boolean {
  if (leaf.kind === "unary") return leaf.op === "IS_NOT_NULL" || leaf.op === "IS_NOT_NAN";
  return RANGE_OPERATORS.has(leaf.op) || leaf.op === "NOT_EQUAL" || leaf.op === "NOT_IN";
}

function isFieldOperator(op: string | undefined): op is FieldOperator {
  return (FIELD_OPERATORS as readonly (string | undefined)[]).includes(op);
}

function isUnaryOperator(op: string | undefined): op is UnaryOperator {
  return (UNARY_OPERATORS as readonly (string | undefined)[]).includes(op);
}

function arrayElements(v: Value): Value[] | undefined {
  return v.arrayValue === undefined ? undefined : (v.arrayValue.values ?? []);
}

function compileFieldFilter(f: FieldFilter): Leaf {
  if (!isFieldOperator(f.op)) {
    throw invalidArgument(`Invalid query. Unknown field filter operator "${f.op ?? ""}".`);
  }
  const op = f.op;
  const field = requireFieldRef(f.field, `A ${op} filter`);
  const value = f.value;
  if (value === undefined) {
    throw invalidArgument(`Invalid query. The ${op} filter on "${field.text}" has no value.`);
  }

  if (op === "IN" || op === "NOT_IN" || op === "ARRAY_CONTAINS_ANY") {
    const elements = arrayElements(value);
    if (elements === undefined || elements.length === 0) {
      throw invalidArgument(`Invalid query. A non-empty array value is required for ${op} filters.`);
    }
    const max = op === "NOT_IN" ? MAX_NOT_IN_VALUES : MAX_IN_VALUES;
    if (elements.length > max) {
      throw invalidArgument(
        `Invalid query. ${op} filters support at most ${max} values, got ${elements.length}.`,
      );
    }
    if (field.isName) {
      if (op === "ARRAY_CONTAINS_ANY") {
        throw invalidArgument(`Invalid query. ${op} cannot be used on __name__.`);
      }
      if (!elements.every((e) => e.referenceValue !== undefined)) {
        throw invalidArgument(`Invalid query. ${op} filter values on __name__ must be references.`);
      }
    }
    return { kind: "field", field, op, value };
  }

  if (op !== "ARRAY_CONTAINS" && (isNullValue(value) || isNaNValue(value))) {
    const what = isNullValue(value) ? "null" : "NaN";
    const unary = isNullValue(value) ? "IS_NULL / IS_NOT_NULL" : "IS_NAN / IS_NOT_NAN";
    throw invalidArgument(
      `Invalid query. ${op} does not accept ${what} on "${field.text}"; use a unary ${unary} filter.`,
    );
  }
  if (field.isName) {
    if (op === "ARRAY_CONTAINS") throw invalidArgument(`Invalid query. ${op} cannot be used on __name__.`);
    if (value.referenceValue === undefined) {
      throw invalidArgument(`Invalid query. ${op} filter values on __name__ must be references.`);
    }
  }
  return { kind: "field", field, op, value };
}

function compileFilter(filter: Filter): CompiledFilter {
  if (filter.compositeFilter !== undefined) {
    const { op, filters } = filter.compositeFilter;
    if (op !== "AND" && op !== "OR") {
      throw invalidArgument(`Invalid query. Unknown composite filter operator "${op ?? ""}".`);
    }
    if (filters === undefined || filters.length === 0) {
      throw invalidArgument(`Invalid query. A composite ${op} filter needs at least one filter.`);
    }
    return { kind: "composite", op, filters: filters.map(compileFilter) };
  }
  if (filter.fieldFilter !== undefined) return compileFieldFilter(filter.fieldFilter);
  if (filter.unaryFilter !== undefined) {
    const { op } = filter.unaryFilter;
    if (!isUnaryOperator(op)) {
      throw invalidArgument(`Invalid query. Unknown unary filter operator "${op ?? ""}".`);
    }
    return { kind: "unary", op, field: requireFieldRef(filter.unaryFilter.field, `A ${op} filter`) };
  }
  throw invalidArgument("Invalid query. A filter must set compositeFilter, fieldFilter or unaryFilter.");
}

function leavesOf(filter: CompiledFilter): Leaf[] {
  return filter.kind === "composite" ? filter.filters.flatMap(leavesOf) : [filter];
}

/** Number of terms in the disjunctive normal form; IN and ARRAY_CONTAINS_ANY expand per value. */
function disjunctionCount(filter: CompiledFilter): number {
  if (filter.kind === "composite") {
    const counts = filter.filters.map(disjunctionCount);
    return filter.op === "AND" ? counts.reduce((a, b) => a * b, 1) : counts.reduce((a, b) => a + b, 0);
  }
  if (filter.kind === "field" && (filter.op === "IN" || filter.op === "ARRAY_CONTAINS_ANY")) {
    return arrayElements(filter.value)?.length ?? 1;
  }
  return 1;
}

/** DNF terms at leaf granularity (IN is kept as one leaf). Only called once the size is bounded. */
function dnfTerms(filter: CompiledFilter): Leaf[][] {
  if (filter.kind !== "composite") return [[filter]];
  const parts = filter.filters.map(dnfTerms);
  if (filter.op === "OR") return parts.flat();
  return parts.reduce<Leaf[][]>((acc, terms) => acc.flatMap((a) => terms.map((t) => [...a, ...t])), [[]]);
}

/** The operator combination rules the backend enforces (query.proto "Requires:" clauses). */
function checkFilterCombinations(filter: CompiledFilter): void {
  const leaves = leavesOf(filter);
  const count = (pred: (l: Leaf) => boolean): number => leaves.filter(pred).length;
  const notEqualLike = count(
    (l) =>
      (l.kind === "field" && l.op === "NOT_EQUAL") ||
      (l.kind === "unary" && (l.op === "IS_NOT_NULL" || l.op === "IS_NOT_NAN")),
  );
  const notIn = count((l) => l.kind === "field" && l.op === "NOT_IN");
  const disjunctive = count((l) => l.kind === "field" && (l.op === "IN" || l.op === "ARRAY_CONTAINS_ANY"));

  if (notEqualLike > 1) {
    throw invalidArgument(
      "Invalid query. Only one NOT_EQUAL, IS_NOT_NULL or IS_NOT_NAN filter is allowed per query.",
    );
  }
  if (notIn > 1) throw invalidArgument("Invalid query. Only one NOT_IN filter is allowed per query.");
  if (notIn > 0 && notEqualLike > 0) {
    throw invalidArgument(
      "Invalid query. NOT_IN cannot be combined with NOT_EQUAL, IS_NOT_NULL or IS_NOT_NAN.",
    );
  }
  if (notIn > 0 && disjunctive > 0) {
    throw invalidArgument("Invalid query. NOT_IN cannot be combined with IN or ARRAY_CONTAINS_ANY.");
  }

  const disjunctions = disjunctionCount(filter);
  if (disjunctions > MAX_DISJUNCTIONS) {
    throw invalidArgument(
      `Invalid query. The filter has ${disjunctions} disjunctions in disjunctive normal form; the limit is ${MAX_DISJUNCTIONS}.`,
    );
  }
  for (const term of dnfTerms(filter)) {
    const arrayContains = term.filter((l) => l.kind === "field" && l.op === "ARRAY_CONTAINS").length;
    const arrayContainsAny = term.filter((l) => l.kind === "field" && l.op === "ARRAY_CONTAINS_ANY").length;
    if (arrayContains + arrayContainsAny > 1) {
      throw invalidArgument(
        "Invalid query. At most one ARRAY_CONTAINS or ARRAY_CONTAINS_ANY filter is allowed per disjunction.",
      );
    }
  }

  const inequalityFields = new Set(leaves.filter(isInequality).map((l) => l.field.key));
  if (inequalityFields.size > MAX_INEQUALITY_FIELDS) {
    throw invalidArgument(
      `Invalid query. Range and inequality filters may reference at most ${MAX_INEQUALITY_FIELDS} fields.`,
    );
  }
}

/**
 * The order production uses: explicit orders, then every inequality-filtered field not already
 * ordered (sorted by field path), then `__name__`; implicit orders take the direction of the last
 * explicit one (ascending if none).
 */
function normalizeOrder(orderBy: Order[], filter: CompiledFilter | undefined): SortKey[] {
  const order: SortKey[] = [];
  const seen = new Set<string>();
  for (const o of orderBy) {
    const field = requireFieldRef(o.field, "ORDER BY");
    if (
      o.direction !== undefined &&
      !["ASCENDING", "DESCENDING", "DIRECTION_UNSPECIFIED"].includes(o.direction)
    ) {
      throw invalidArgument(`Invalid query. Unknown ORDER BY direction "${o.direction}".`);
    }
    if (seen.has(field.key)) {
      throw invalidArgument(`Invalid query. "${field.text}" is ordered more than once.`);
    }
    seen.add(field.key);
    order.push({ field, descending: o.direction === "DESCENDING" });
  }
  const descending = order.at(-1)?.descending ?? false;
  const implicit = new Map<string, FieldRef>();
  for (const leaf of filter === undefined ? [] : leavesOf(filter)) {
    if (isInequality(leaf) && !leaf.field.isName && !seen.has(leaf.field.key)) {
      implicit.set(leaf.field.key, leaf.field);
    }
  }
  for (const field of [...implicit.values()].sort(compareFieldRefs)) order.push({ field, descending });
  const name = toFieldRef(NAME_FIELD);
  if (!seen.has(name.key)) order.push({ field: name, descending });
  return order;
}

function compileCursor(cursor: Cursor, order: SortKey[], which: "startAt" | "endAt"): Bound {
  const values = cursor.values ?? [];
  if (values.length > order.length) {
    throw invalidArgument(
      `Invalid query. The ${which} cursor has ${values.length} values but the query orders by only ${order.length} fields.`,
    );
  }
  const components = values.map((value, i) => {
    const key = order[i] as SortKey; // i < order.length, checked above
    if (key.field.isName && value.referenceValue === undefined) {
      throw invalidArgument(`Invalid query. The ${which} cursor value for __name__ must be a reference.`);
    }
    return { key, value };
  });
  // startAt: `before` starts at the position (inclusive). endAt: `before` ends before it (exclusive).
  const before = cursor.before === true;
  return { components, inclusive: which === "startAt" ? before : !before };
}

function nonNegative(value: number | string | undefined, what: string): number {
  const n = Number(value ?? 0);
  if (!Number.isInteger(n) || n < 0) {
    throw invalidArgument(`Invalid query. ${what} must be >= 0, got ${String(value)}.`);
  }
  return n;
}

function compileQuery(query: StructuredQuery): Plan {
  const from = query.from ?? [];
  if (from.length !== 1) {
    throw invalidArgument(
      `Invalid query. Exactly one collection selector is supported in "from", got ${from.length}.`,
    );
  }
  const selector = from[0] ?? {};
  const collectionId = selector.collectionId === "" ? undefined : selector.collectionId;
  if (collectionId?.includes("/")) {
    throw invalidArgument(`Invalid query. Invalid collection id "${collectionId}".`);
  }

  const filter = query.where === undefined ? undefined : compileFilter(query.where);
  if (filter !== undefined) checkFilterCombinations(filter);
  const order = normalizeOrder(query.orderBy ?? [], filter);

  let projection: FieldRef[] | undefined;
  const selected = query.select?.fields ?? [];
  if (selected.length > 0) {
    projection = selected.map((f) => requireFieldRef(f, "SELECT")).filter((f) => !f.isName);
  }

  return {
    collectionId,
    allDescendants: selector.allDescendants === true,
    filter,
    order,
    start: query.startAt === undefined ? undefined : compileCursor(query.startAt, order, "startAt"),
    end: query.endAt === undefined ? undefined : compileCursor(query.endAt, order, "endAt"),
    offset: nonNegative(query.offset, "offset"),
    limit: query.limit === undefined ? undefined : nonNegative(query.limit.value, "limit"),
    projection,
    nearest:
      query.findNearest === undefined
        ? undefined
        : compileNearest(
            query.findNearest,
            (query.orderBy ?? []).length > 0 || query.startAt !== undefined || query.endAt !== undefined,
          ),
  };
}

/**
 * The collection id a query reads (of a collection, or of a collection group), to narrow the documents it is run
 * over; undefined when it names none (a kindless query over all descendants), which reads every document.
 */
export function queryCollectionId(query: StructuredQuery | undefined): string | undefined {
  const id = query?.from?.[0]?.collectionId;
  return typeof id === "string" && id.length > 0 ? id : undefined;
}

/** Throws an INVALID_ARGUMENT RpcError describing the first problem found in the query. */
export function validateQuery(query: StructuredQuery): void {
  compileQuery(query);
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

function inScope(name: string, prefix: string, plan: Plan): boolean {
  if (!name.startsWith(prefix)) return false;
  const rest = name.slice(prefix.length).split("/");
  if (rest.length % 2 !== 0 || (!plan.allDescendants && rest.length !== 2)) return false;
  return plan.collectionId === undefined || rest[rest.length - 2] === plan.collectionId;
}

function matchesFieldFilter(doc: StoredDocument, f: Extract<Leaf, { kind: "field" }>): boolean {
  const v = lookup(doc, f.field);
  if (v === undefined) return false;
  const operand = f.value;
  switch (f.op) {
    case "EQUAL":
      return valuesEqual(v, operand);
    case "NOT_EQUAL":
      // Any type may differ; null is excluded like a missing field.
      return !isNullValue(v) && !valuesEqual(v, operand);
    case "LESS_THAN":
    case "LESS_THAN_OR_EQUAL":
    case "GREATER_THAN":
    case "GREATER_THAN_OR_EQUAL": {
      // NaN is ordered before all numbers, but no range filter matches it (only `== NaN` does).
      if (valueKind(v) !== valueKind(operand) || isNaNValue(v)) return false;
      const c = compareValues(v, operand);
      if (f.op === "LESS_THAN") return c < 0;
      if (f.op === "LESS_THAN_OR_EQUAL") return c <= 0;
      if (f.op === "GREATER_THAN") return c > 0;
      return c >= 0;
    }
    case "IN":
      return (arrayElements(operand) ?? []).some((e) => valuesEqual(v, e));
    case "NOT_IN": {
      const excluded = arrayElements(operand) ?? [];
      // `not-in [..., null, ...]` matches nothing (as the SDKs' local matching does).
      if (excluded.some(isNullValue)) return false;
      return !isNullValue(v) && !excluded.some((e) => valuesEqual(v, e));
    }
    case "ARRAY_CONTAINS":
      return (arrayElements(v) ?? []).some((e) => valuesEqual(e, operand));
    case "ARRAY_CONTAINS_ANY": {
      const wanted = arrayElements(operand) ?? [];
      return (arrayElements(v) ?? []).some((e) => wanted.some((w) => valuesEqual(e, w)));
    }
  }
}

function matchesUnaryFilter(doc: StoredDocument, f: Extract<Leaf, { kind: "unary" }>): boolean {
  const v = lookup(doc, f.field);
  if (v === undefined) return false;
  switch (f.op) {
    case "IS_NULL":
      return isNullValue(v);
    case "IS_NAN":
      return isNaNValue(v);
    case "IS_NOT_NULL":
      return !isNullValue(v);
    case "IS_NOT_NAN":
      // Production treats this as `!= NaN`, which (like every `!=`) also excludes null.
      return !isNullValue(v) && !isNaNValue(v);
  }
}

function matches(doc: StoredDocument, filter: CompiledFilter): boolean {
  switch (filter.kind) {
    case "composite":
      return filter.op === "AND"
        ? filter.filters.every((f) => matches(doc, f))
        : filter.filters.some((f) => matches(doc, f));
    case "field":
      return matchesFieldFilter(doc, filter);
    case "unary":
      return matchesUnaryFilter(doc, filter);
  }
}

/** The value a document sorts by; only used on documents that have every order field. */
function sortValue(doc: StoredDocument, key: SortKey): Value {
  return lookup(doc, key.field) ?? NULL_VALUE;
}

function compareDocs(order: SortKey[], a: StoredDocument, b: StoredDocument): number {
  for (const key of order) {
    const c = compareValues(sortValue(a, key), sortValue(b, key));
    if (c !== 0) return key.descending ? -c : c;
  }
  return 0;
}

/** <0 when the bound sorts before the document, >0 after, 0 at it (on the bound's prefix). */
function compareBoundToDoc(bound: Bound, doc: StoredDocument): number {
  for (const { key, value } of bound.components) {
    const c = compareValues(value, sortValue(doc, key));
    if (c !== 0) return key.descending ? -c : c;
  }
  return 0;
}

function withinBounds(plan: Plan, doc: StoredDocument): boolean {
  if (plan.start !== undefined) {
    const c = compareBoundToDoc(plan.start, doc);
    if (plan.start.inclusive ? c > 0 : c >= 0) return false;
  }
  if (plan.end !== undefined) {
    const c = compareBoundToDoc(plan.end, doc);
    if (plan.end.inclusive ? c < 0 : c <= 0) return false;
  }
  return true;
}

/** Selected documents, in query order, after offset and limit. Returns the stored objects. */
function execute(plan: Plan, parent: string, docs: Iterable<StoredDocument>): StoredDocument[] {
  const prefix = `${parent.replace(/\/+$/, "")}/`;
  const selected: StoredDocument[] = [];
  for (const doc of docs) {
    if (!inScope(doc.name, prefix, plan)) continue;
    if (plan.order.some((key) => lookup(doc, key.field) === undefined)) continue;
    if (plan.filter !== undefined && !matches(doc, plan.filter)) continue;
    if (!withinBounds(plan, doc)) continue;
    selected.push(doc);
  }
  selected.sort((a, b) => compareDocs(plan.order, a, b));
  if (plan.nearest !== undefined) return nearestOf(plan.nearest, selected).map((r) => r.doc);
  const end = plan.limit === undefined ? undefined : plan.offset + plan.limit;
  return selected.slice(plan.offset, end);
}

/** Assigns an own property even for keys like `__proto__`. */
function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Sets a (possibly nested) field of `fields`, creating maps on the way. */
function setPath(fields: Fields, segments: readonly string[], value: Value): void {
  let target = fields;
  segments.forEach((segment, i) => {
    if (i === segments.length - 1) {
      setOwn(target, segment, value);
      return;
    }
    const existing = target[segment];
    if (existing?.mapValue === undefined) setOwn<Value>(target, segment, { mapValue: { fields: {} } });
    const next = target[segment]?.mapValue;
    if (next === undefined) return;
    next.fields ??= {};
    target = next.fields;
  });
}

function project(doc: StoredDocument, paths: FieldRef[]): Fields {
  // A selected path makes any selected sub-path redundant: keep only the shortest prefixes.
  const isPrefix = (p: FieldRef, q: FieldRef): boolean =>
    p.segments.length < q.segments.length && p.segments.every((s, i) => s === q.segments[i]);
  const kept = paths.filter((q) => !paths.some((p) => isPrefix(p, q)));

  const out: Fields = {};
  for (const path of kept) {
    const value = lookup(doc, path);
    if (value === undefined) continue;
    let fields = out;
    path.segments.forEach((segment, i) => {
      if (i === path.segments.length - 1) {
        setOwn(fields, segment, structuredClone(value));
        return;
      }
      if (!Object.hasOwn(fields, segment)) setOwn<Value>(fields, segment, { mapValue: { fields: {} } });
      const container = fields[segment];
      if (container?.mapValue?.fields === undefined) throw new Error("projection: expected a map container");
      fields = container.mapValue.fields;
    });
  }
  return out;
}

/**
 * Runs a query over `docs` (every document of the database) and returns copies of the matching
 * documents in query order. `parent` is the full resource name the collections hang under:
 * `projects/{p}/databases/{d}/documents` or a document below it.
 */
export function runQuery(
  query: StructuredQuery,
  parent: string,
  docs: Iterable<StoredDocument>,
): StoredDocument[] {
  const plan = compileQuery(query);
  const nearest = plan.nearest;
  return execute(plan, parent, docs).map((doc) => {
    const out: StoredDocument =
      plan.projection === undefined
        ? structuredClone(doc)
        : {
            name: doc.name,
            fields: project(doc, plan.projection),
            createTime: { ...doc.createTime },
            updateTime: { ...doc.updateTime },
          };
    if (nearest?.resultField !== undefined) {
      const v = vectorOf(lookup(doc, nearest.field)) ?? [];
      setPath(out.fields, nearest.resultField.segments, {
        doubleValue: distance(nearest.measure, nearest.query, v),
      });
    }
    return out;
  });
}

// ---------------------------------------------------------------------------------------------
// Aggregations
// ---------------------------------------------------------------------------------------------

type CompiledAggregation =
  | { alias: string; kind: "count"; upTo: bigint | undefined }
  | { alias: string; kind: "sum" | "avg"; field: FieldRef };

function compileAggregations(aggregations: Aggregation[]): CompiledAggregation[] {
  if (aggregations.length > MAX_AGGREGATIONS) {
    throw invalidArgument(
      // "maximum number of aggregations" is production's phrase (the SDKs' integration tests match it).
      `The query has ${aggregations.length} aggregations, which exceeds the maximum number of aggregations (${MAX_AGGREGATIONS}).`,
    );
  }
  const explicit = new Set<string>();
  for (const a of aggregations) {
    if (a.alias === undefined || a.alias === "") continue;
    if (/^__.*__$/.test(a.alias)) {
      throw invalidArgument(`Invalid aggregation query. Alias "${a.alias}" is reserved.`);
    }
    if (explicit.has(a.alias)) {
      throw invalidArgument(`Invalid aggregation query. Duplicate alias "${a.alias}".`);
    }
    explicit.add(a.alias);
  }
  // Unnamed aggregations become field_1, field_2, ... (skipping names already taken).
  let next = 1;
  const defaultAlias = (): string => {
    while (explicit.has(`field_${next}`)) next++;
    return `field_${next++}`;
  };

  return aggregations.map((a): CompiledAggregation => {
    const alias = a.alias === undefined || a.alias === "" ? defaultAlias() : a.alias;
    const set = [a.count, a.sum, a.avg].filter((x) => x !== undefined).length;
    if (set !== 1) {
      throw invalidArgument(
        `Invalid aggregation query. Aggregation "${alias}" must set exactly one of count, sum, avg.`,
      );
    }
    if (a.count !== undefined) {
      if (a.count.upTo === undefined) return { alias, kind: "count", upTo: undefined };
      const raw = String(a.count.upTo.value ?? 0);
      if (!/^\d+$/.test(raw) || BigInt(raw) === 0n) {
        throw invalidArgument(
          `Invalid aggregation query. count upTo must be a positive integer, got ${raw}.`,
        );
      }
      const upTo = BigInt(raw);
      return { alias, kind: "count", upTo };
    }
    if (a.sum !== undefined) return { alias, kind: "sum", field: requireFieldRef(a.sum.field, "sum") };
    return { alias, kind: "avg", field: requireFieldRef(a.avg?.field, "avg") };
  });
}

/** Sums the numeric values of a field; non-numeric values (null included) are skipped. */
function sumField(
  rows: StoredDocument[],
  field: FieldRef,
): { ints: bigint; doubles: number; n: number; anyDouble: boolean } {
  let ints = 0n;
  let doubles = 0;
  let n = 0;
  let anyDouble = false;
  for (const doc of rows) {
    const v = lookup(doc, field);
    if (v?.integerValue !== undefined) {
      ints += integerOf(v);
      n++;
    } else if (v?.doubleValue !== undefined) {
      doubles += v.doubleValue;
      anyDouble = true;
      n++;
    }
  }
  return { ints, doubles, n, anyDouble };
}

function evaluateAggregation(agg: CompiledAggregation, rows: StoredDocument[]): Value {
  switch (agg.kind) {
    case "count": {
      const n = BigInt(rows.length);
      return { integerValue: String(agg.upTo !== undefined && agg.upTo < n ? agg.upTo : n) };
    }
    case "sum": {
      // An integer while every value is an integer and the total fits int64; otherwise a double.
      const { ints, doubles, anyDouble } = sumField(rows, agg.field);
      if (!anyDouble && ints >= INT64_MIN && ints <= INT64_MAX) return { integerValue: ints.toString() };
      return { doubleValue: Number(ints) + doubles };
    }
    case "avg": {
      const { ints, doubles, n } = sumField(rows, agg.field);
      return n === 0 ? { ...NULL_VALUE } : { doubleValue: (Number(ints) + doubles) / n };
    }
  }
}

/**
 * Runs an aggregation query and returns its single result row: alias -> value. The base
 * query's filters, cursors, offset and limit apply before aggregating.
 */
export function runAggregationQuery(
  aggQuery: StructuredAggregationQuery,
  parent: string,
  docs: Iterable<StoredDocument>,
): Record<string, Value> {
  if (aggQuery.structuredQuery === undefined) {
    throw invalidArgument("Invalid aggregation query. structuredQuery is required.");
  }
  const plan = compileQuery(aggQuery.structuredQuery);
  const aggregations = compileAggregations(aggQuery.aggregations ?? []);
  // Production reads every aggregation from the index entries of all the aggregated fields at once,
  // so only documents that have each sum/avg field take part in any aggregation (count included).
  const fields = aggregations.flatMap((a) => (a.kind === "count" ? [] : [a.field]));
  const rows = execute(plan, parent, docs).filter((doc) => fields.every((f) => lookup(doc, f) !== undefined));
  const result: Record<string, Value> = {};
  for (const agg of aggregations) setOwn(result, agg.alias, evaluateAggregation(agg, rows));
  return result;
}

// ---------------------------------------------------------------------------------------------
// Index needs (what indexes.ts checks against firestore.indexes.json)
// ---------------------------------------------------------------------------------------------

/** A field of an index lookup: `text` as written in the query, `key` independent of quoting. */
export interface IndexedField {
  text: string;
  key: string;
}

/** What one disjunction of a query reads from indexes. */
export interface IndexNeed {
  /** Fields filtered by equality (`==`, `in`, `is null`, `is NaN`): any order, any direction. */
  equality: IndexedField[];
  /** Fields filtered by `array-contains` / `array-contains-any`: an array-contains index entry. */
  arrayContains: IndexedField[];
  /** The normalized order without `__name__`: explicit orders, then inequality fields. */
  order: Array<IndexedField & { descending: boolean }>;
}

export interface QueryIndexNeeds {
  collectionId: string | undefined;
  allDescendants: boolean;
  /** One entry per term of the filter's disjunctive normal form (one when there is no OR). */
  terms: IndexNeed[];
  /** A findNearest query reads a vector index: its field and the query vector's dimension. */
  vector: { field: IndexedField; dimension: number } | undefined;
}

/**
 * The index lookups production needs to serve `query`: per DNF term, its equality-type fields and
 * the normalized order. `__name__` is left out (every index ends with it). Throws like runQuery
 * for an invalid query.
 */
export function indexNeeds(query: StructuredQuery): QueryIndexNeeds {
  const plan = compileQuery(query);
  const field = (ref: FieldRef): IndexedField => ({ text: ref.text, key: ref.key });
  const order = plan.order
    .filter((k) => !k.field.isName)
    .map((k) => ({ ...field(k.field), descending: k.descending }));
  const terms = plan.filter === undefined ? [[]] : dnfTerms(plan.filter);
  return {
    collectionId: plan.collectionId,
    allDescendants: plan.allDescendants,
    vector:
      plan.nearest === undefined
        ? undefined
        : { field: field(plan.nearest.field), dimension: plan.nearest.query.length },
    terms: terms.map((term) => {
      const equality = new Map<string, IndexedField>();
      const arrayContains = new Map<string, IndexedField>();
      for (const leaf of term) {
        if (leaf.field.isName || isInequality(leaf)) continue;
        const target =
          leaf.kind === "field" && (leaf.op === "ARRAY_CONTAINS" || leaf.op === "ARRAY_CONTAINS_ANY")
            ? arrayContains
            : equality;
        target.set(leaf.field.key, field(leaf.field));
      }
      // A field that is also ordered is read from the order part of the index.
      for (const o of order) equality.delete(o.key);
      return { equality: [...equality.values()], arrayContains: [...arrayContains.values()], order };
    }),
  };
}
