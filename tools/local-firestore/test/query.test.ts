import { status } from "@grpc/grpc-js";

import { RpcError } from "../src/errors";
import type { Aggregation, Cursor, Filter, StructuredQuery } from "../src/query";
import { parseFieldPath } from "../src/fieldPath";
import { getFieldValue, runAggregationQuery, runQuery, validateQuery } from "../src/query";
import type { StoredDocument, Value } from "../src/types";

const ROOT = "projects/demo-test/databases/(default)/documents";

// ----- Value builders -------------------------------------------------------------------------

const int = (n: number | string): Value => ({ integerValue: String(n) });
const dbl = (n: number): Value => ({ doubleValue: n });
const str = (s: string): Value => ({ stringValue: s });
const bool = (b: boolean): Value => ({ booleanValue: b });
const ts = (seconds: number, nanos = 0): Value => ({ timestampValue: { seconds: String(seconds), nanos } });
const bytes = (...b: number[]): Value => ({ bytesValue: Uint8Array.from(b) });
const ref = (path: string): Value => ({ referenceValue: `${ROOT}/${path}` });
const geo = (latitude: number, longitude: number): Value => ({ geoPointValue: { latitude, longitude } });
const arr = (...values: Value[]): Value => ({ arrayValue: { values } });
const map = (fields: Record<string, Value>): Value => ({ mapValue: { fields } });
const vector = (...n: number[]): Value =>
  map({ __type__: str("__vector__"), value: arr(...n.map((x) => dbl(x))) });
const NULL: Value = { nullValue: "NULL_VALUE" };

// ----- Document and query builders ------------------------------------------------------------

function doc(path: string, fields: Record<string, Value> = {}): StoredDocument {
  return {
    name: `${ROOT}/${path}`,
    fields,
    createTime: { seconds: 100, nanos: 0 },
    updateTime: { seconds: 200, nanos: 0 },
  };
}

const fieldFilter = (fieldPath: string, op: string, value: Value): Filter => ({
  fieldFilter: { field: { fieldPath }, op, value },
});
const unary = (fieldPath: string, op: string): Filter => ({ unaryFilter: { field: { fieldPath }, op } });
const and = (...filters: Filter[]): Filter => ({ compositeFilter: { op: "AND", filters } });
const or = (...filters: Filter[]): Filter => ({ compositeFilter: { op: "OR", filters } });
const asc = (fieldPath: string) => ({ field: { fieldPath }, direction: "ASCENDING" });
const desc = (fieldPath: string) => ({ field: { fieldPath }, direction: "DESCENDING" });

/** A query on the root collection `c` with the given clauses. */
const q = (clauses: Partial<StructuredQuery> = {}): StructuredQuery => ({
  from: [{ collectionId: "c" }],
  ...clauses,
});

/** Document paths relative to the database root, in result order. */
function run(query: StructuredQuery, docs: StoredDocument[], parent = ROOT): string[] {
  return runQuery(query, parent, docs).map((d) => d.name.slice(ROOT.length + 1));
}

/** Ids of the `c/*` documents matching a single filter. */
const matching = (docs: StoredDocument[], where: Filter): string[] => run(q({ where }), docs);

function errorOf(fn: () => unknown): RpcError {
  try {
    fn();
  } catch (e) {
    if (e instanceof RpcError) return e;
    throw e;
  }
  throw new Error("expected an RpcError, but nothing was thrown");
}

function expectInvalid(query: StructuredQuery, message: RegExp): void {
  const err = errorOf(() => {
    validateQuery(query);
  });
  expect(err.code).toBe(status.INVALID_ARGUMENT);
  expect(err.message).toMatch(message);
  // runQuery validates the same way.
  expect(errorOf(() => runQuery(query, ROOT, [])).message).toBe(err.message);
}

// ----- Field paths ------------------------------------------------------------------------------

describe("parseFieldPath", () => {
  it("splits dotted identifiers", () => {
    expect(parseFieldPath("a")).toEqual(["a"]);
    expect(parseFieldPath("a.b_2._c")).toEqual(["a", "b_2", "_c"]);
    expect(parseFieldPath("__name__")).toEqual(["__name__"]);
  });

  it("handles backtick-quoted segments and escapes", () => {
    expect(parseFieldPath("a.`b.c`")).toEqual(["a", "b.c"]);
    expect(parseFieldPath("`a-b`.`1x`.c")).toEqual(["a-b", "1x", "c"]);
    expect(parseFieldPath("`we\\`ird\\\\`")).toEqual(["we`ird\\"]);
    expect(parseFieldPath("`ü mlaut`")).toEqual(["ü mlaut"]);
  });

  it.each([
    ["", /must not be empty/],
    ["a.", /must not end with '\.'/],
    ["a..b", /empty field name/],
    [".a", /empty field name/],
    ["`a", /unterminated backtick/],
    ["``", /empty field name/],
    ["`a`b", /expected '\.' after a quoted field name/],
    ["a-b", /"a-b" must be quoted/],
    ["1a", /"1a" must be quoted/],
    ["a b", /"a b" must be quoted/],
    ["`a\\", /escapes nothing/],
  ])("rejects %j", (path, message) => {
    const err = errorOf(() => parseFieldPath(path));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.message).toMatch(message);
  });
});

describe("getFieldValue", () => {
  const d = doc("c/d1", { a: map({ b: int(1), "x.y": str("dotted") }), s: str("top") });

  it("walks nested maps, including quoted segments", () => {
    expect(getFieldValue(d, "s")).toEqual(str("top"));
    expect(getFieldValue(d, "a.b")).toEqual(int(1));
    expect(getFieldValue(d, "a.`x.y`")).toEqual(str("dotted"));
    expect(getFieldValue(d, "a")).toEqual(map({ b: int(1), "x.y": str("dotted") }));
  });

  it("returns undefined for missing fields and paths through non-maps", () => {
    expect(getFieldValue(d, "missing")).toBeUndefined();
    expect(getFieldValue(d, "a.missing")).toBeUndefined();
    expect(getFieldValue(d, "s.inner")).toBeUndefined();
    expect(getFieldValue(d, "constructor")).toBeUndefined();
    expect(getFieldValue(d, "a.toString")).toBeUndefined();
  });

  it("yields the document name for __name__", () => {
    expect(getFieldValue(d, "__name__")).toEqual(ref("c/d1"));
    expect(getFieldValue(d, "`__name__`")).toEqual(ref("c/d1"));
  });

  it("rejects bad paths", () => {
    expect(errorOf(() => getFieldValue(d, "a..b")).code).toBe(status.INVALID_ARGUMENT);
  });
});

// ----- Scope ----------------------------------------------------------------------------------------

describe("collection scope", () => {
  const docs = [
    doc("c/root1"),
    doc("c/root2"),
    doc("other/o1"),
    doc("c10/x"),
    doc("c/root1/c/nested1"),
    doc("c/root1/sub/s1"),
    doc("c/root1/sub/s1/c/deep1"),
    doc("other/o1/c/nested2"),
    doc("c/root10/c/nested3"),
  ];

  it("selects only the direct children of the root", () => {
    expect(run(q(), docs)).toEqual(["c/root1", "c/root2"]);
  });

  it("selects only the direct children of a parent document", () => {
    expect(run(q(), docs, `${ROOT}/c/root1`)).toEqual(["c/root1/c/nested1"]);
    expect(run(q({ from: [{ collectionId: "sub" }] }), docs, `${ROOT}/c/root1`)).toEqual(["c/root1/sub/s1"]);
  });

  it("selects every collection with the id at any depth for collection groups", () => {
    expect(run(q({ from: [{ collectionId: "c", allDescendants: true }] }), docs)).toEqual([
      "c/root1",
      "c/root1/c/nested1",
      "c/root1/sub/s1/c/deep1",
      "c/root10/c/nested3",
      "c/root2",
      "other/o1/c/nested2",
    ]);
  });

  it("limits a collection group to descendants of the parent document (no prefix confusion)", () => {
    expect(run(q({ from: [{ collectionId: "c", allDescendants: true }] }), docs, `${ROOT}/c/root1`)).toEqual([
      "c/root1/c/nested1",
      "c/root1/sub/s1/c/deep1",
    ]);
  });

  it("selects every descendant for kindless all-descendants queries", () => {
    expect(run(q({ from: [{ allDescendants: true }] }), docs, `${ROOT}/c/root1`)).toEqual([
      "c/root1/c/nested1",
      "c/root1/sub/s1",
      "c/root1/sub/s1/c/deep1",
    ]);
  });

  it("ignores documents of other databases", () => {
    const foreign: StoredDocument = {
      ...doc("c/root1"),
      name: "projects/demo-test/databases/other/documents/c/x",
    };
    expect(run(q(), [foreign, doc("c/mine")])).toEqual(["c/mine"]);
  });
});

// ----- Filters --------------------------------------------------------------------------------------

describe("field filters", () => {
  const docs = [
    doc("c/int1", { a: int(1) }),
    doc("c/dbl1", { a: dbl(1.0) }),
    doc("c/int2", { a: int(2) }),
    doc("c/dbl2_5", { a: dbl(2.5) }),
    doc("c/nan", { a: dbl(NaN) }),
    doc("c/str1", { a: str("1") }),
    doc("c/strb", { a: str("b") }),
    doc("c/null", { a: NULL }),
    doc("c/true", { a: bool(true) }),
    doc("c/arr", { a: arr(int(1), str("x")) }),
    doc("c/missing", { b: int(1) }),
  ];

  it("EQUAL matches numbers across int and double, nothing else", () => {
    expect(matching(docs, fieldFilter("a", "EQUAL", int(1)))).toEqual(["c/dbl1", "c/int1"]);
    expect(matching(docs, fieldFilter("a", "EQUAL", dbl(1)))).toEqual(["c/dbl1", "c/int1"]);
    expect(matching(docs, fieldFilter("a", "EQUAL", str("1")))).toEqual(["c/str1"]);
    expect(matching(docs, fieldFilter("a", "EQUAL", int(3)))).toEqual([]);
  });

  it("EQUAL on arrays and maps compares the whole value", () => {
    expect(matching(docs, fieldFilter("a", "EQUAL", arr(int(1), str("x"))))).toEqual(["c/arr"]);
    expect(matching(docs, fieldFilter("a", "EQUAL", arr(int(1))))).toEqual([]);
  });

  it("NOT_EQUAL matches every other value of any type, but not null or missing fields", () => {
    // Ordered by a (the implicit order), then by name.
    expect(matching(docs, fieldFilter("a", "NOT_EQUAL", int(1)))).toEqual([
      "c/true",
      "c/nan",
      "c/int2",
      "c/dbl2_5",
      "c/str1",
      "c/strb",
      "c/arr",
    ]);
  });

  it("range filters only match values of the operand's type class", () => {
    expect(matching(docs, fieldFilter("a", "GREATER_THAN", int(1)))).toEqual(["c/int2", "c/dbl2_5"]);
    expect(matching(docs, fieldFilter("a", "GREATER_THAN_OR_EQUAL", dbl(1)))).toEqual([
      "c/dbl1",
      "c/int1",
      "c/int2",
      "c/dbl2_5",
    ]);
    // NaN sorts before every other number, but no range filter matches it (production).
    expect(matching(docs, fieldFilter("a", "LESS_THAN", int(2)))).toEqual(["c/dbl1", "c/int1"]);
    expect(matching(docs, fieldFilter("a", "LESS_THAN_OR_EQUAL", int(2)))).toEqual([
      "c/dbl1",
      "c/int1",
      "c/int2",
    ]);
    expect(matching(docs, fieldFilter("a", "GREATER_THAN", str("")))).toEqual(["c/str1", "c/strb"]);
    expect(matching(docs, fieldFilter("a", "LESS_THAN", str("b")))).toEqual(["c/str1"]);
    expect(matching(docs, fieldFilter("a", "GREATER_THAN", int(100)))).toEqual([]);
    expect(matching(docs, fieldFilter("a", "LESS_THAN", bool(true)))).toEqual([]);
  });

  it("IN matches any listed value (numbers across int and double)", () => {
    expect(matching(docs, fieldFilter("a", "IN", arr(int(1), str("b"))))).toEqual([
      "c/dbl1",
      "c/int1",
      "c/strb",
    ]);
    expect(matching(docs, fieldFilter("a", "IN", arr(NULL)))).toEqual(["c/null"]);
    expect(matching(docs, fieldFilter("a", "IN", arr(int(7), str("z"))))).toEqual([]);
  });

  it("NOT_IN excludes listed values, null and missing fields", () => {
    expect(
      matching(docs, fieldFilter("a", "NOT_IN", arr(int(1), str("b"), bool(true), arr(int(1), str("x"))))),
    ).toEqual(["c/nan", "c/int2", "c/dbl2_5", "c/str1"]);
    expect(matching(docs, fieldFilter("a", "NOT_IN", arr(dbl(NaN), int(2))))).toContain("c/int1");
    expect(matching(docs, fieldFilter("a", "NOT_IN", arr(dbl(NaN), int(2))))).not.toContain("c/nan");
  });

  it("NOT_IN with null in the list matches nothing", () => {
    expect(matching(docs, fieldFilter("a", "NOT_IN", arr(NULL, int(5))))).toEqual([]);
  });

  it("ARRAY_CONTAINS matches arrays holding the value", () => {
    const arrays = [
      doc("c/a1", { tags: arr(str("x"), int(1)) }),
      doc("c/a2", { tags: arr(dbl(1), NULL) }),
      doc("c/a3", { tags: arr(str("y")) }),
      doc("c/scalar", { tags: str("x") }),
      doc("c/none", {}),
    ];
    expect(matching(arrays, fieldFilter("tags", "ARRAY_CONTAINS", str("x")))).toEqual(["c/a1"]);
    expect(matching(arrays, fieldFilter("tags", "ARRAY_CONTAINS", int(1)))).toEqual(["c/a1", "c/a2"]);
    expect(matching(arrays, fieldFilter("tags", "ARRAY_CONTAINS", NULL))).toEqual(["c/a2"]);
    expect(matching(arrays, fieldFilter("tags", "ARRAY_CONTAINS", str("z")))).toEqual([]);
  });

  it("ARRAY_CONTAINS_ANY matches arrays holding any of the values", () => {
    const arrays = [
      doc("c/a1", { tags: arr(str("x"), int(1)) }),
      doc("c/a2", { tags: arr(str("y")) }),
      doc("c/a3", { tags: arr(str("z")) }),
      doc("c/scalar", { tags: str("y") }),
    ];
    expect(matching(arrays, fieldFilter("tags", "ARRAY_CONTAINS_ANY", arr(str("y"), dbl(1))))).toEqual([
      "c/a1",
      "c/a2",
    ]);
    expect(matching(arrays, fieldFilter("tags", "ARRAY_CONTAINS_ANY", arr(str("q"))))).toEqual([]);
  });

  it("filters nested fields by dotted path", () => {
    const nested = [
      doc("c/n1", { m: map({ x: int(5) }) }),
      doc("c/n2", { m: map({ x: int(6) }) }),
      doc("c/n3"),
    ];
    expect(matching(nested, fieldFilter("m.x", "EQUAL", int(6)))).toEqual(["c/n2"]);
    expect(matching(nested, fieldFilter("m.x", "LESS_THAN", int(10)))).toEqual(["c/n1", "c/n2"]);
  });

  it("filters on __name__ compare references", () => {
    const named = [doc("c/a"), doc("c/b"), doc("c/c")];
    expect(matching(named, fieldFilter("__name__", "EQUAL", ref("c/b")))).toEqual(["c/b"]);
    expect(matching(named, fieldFilter("__name__", "GREATER_THAN", ref("c/a")))).toEqual(["c/b", "c/c"]);
    expect(matching(named, fieldFilter("__name__", "IN", arr(ref("c/a"), ref("c/c"))))).toEqual([
      "c/a",
      "c/c",
    ]);
    expect(matching(named, fieldFilter("__name__", "NOT_EQUAL", ref("c/a")))).toEqual(["c/b", "c/c"]);
    expect(matching(named, fieldFilter("__name__", "EQUAL", ref("c/zzz")))).toEqual([]);
  });
});

describe("unary filters", () => {
  const docs = [
    doc("c/nan", { a: dbl(NaN) }),
    doc("c/null", { a: NULL }),
    doc("c/num", { a: int(3) }),
    doc("c/str", { a: str("s") }),
    doc("c/missing", {}),
  ];

  it("IS_NULL matches only present nulls", () => {
    expect(matching(docs, unary("a", "IS_NULL"))).toEqual(["c/null"]);
  });

  it("IS_NAN matches only NaN", () => {
    expect(matching(docs, unary("a", "IS_NAN"))).toEqual(["c/nan"]);
  });

  it("IS_NOT_NULL matches present non-null values (ordered by the field)", () => {
    expect(matching(docs, unary("a", "IS_NOT_NULL"))).toEqual(["c/nan", "c/num", "c/str"]);
  });

  it("IS_NOT_NAN matches present values that are neither NaN nor null", () => {
    expect(matching(docs, unary("a", "IS_NOT_NAN"))).toEqual(["c/num", "c/str"]);
  });
});

describe("composite filters", () => {
  const docs = [
    doc("c/1", { a: int(1), b: str("x"), c: bool(true) }),
    doc("c/2", { a: int(2), b: str("y"), c: bool(false) }),
    doc("c/3", { a: int(3), b: str("x"), c: bool(false) }),
    doc("c/4", { b: str("y"), c: bool(true) }),
  ];

  it("AND requires every filter", () => {
    expect(
      matching(docs, and(fieldFilter("b", "EQUAL", str("x")), fieldFilter("c", "EQUAL", bool(false)))),
    ).toEqual(["c/3"]);
  });

  it("OR requires any filter", () => {
    expect(
      matching(docs, or(fieldFilter("a", "EQUAL", int(1)), fieldFilter("b", "EQUAL", str("y")))),
    ).toEqual(["c/1", "c/2", "c/4"]);
  });

  it("nests arbitrarily", () => {
    const where = or(
      and(fieldFilter("b", "EQUAL", str("x")), fieldFilter("c", "EQUAL", bool(true))),
      and(fieldFilter("b", "EQUAL", str("y")), or(fieldFilter("a", "EQUAL", int(2)), unary("a", "IS_NULL"))),
    );
    expect(matching(docs, where)).toEqual(["c/1", "c/2"]);
  });

  it("an inequality inside OR orders by its field, which excludes documents without it", () => {
    // `a > 1 OR b == "y"` is ordered by a: c/4 matches `b == "y"` but has no a.
    expect(
      matching(docs, or(fieldFilter("a", "GREATER_THAN", int(1)), fieldFilter("b", "EQUAL", str("y")))),
    ).toEqual(["c/2", "c/3"]);
  });
});

// ----- Ordering -------------------------------------------------------------------------------------

describe("ordering", () => {
  it("orders across every value kind in Firestore's type order", () => {
    const docs = [
      doc("c/map", { v: map({ a: int(1) }) }),
      doc("c/vector", { v: vector(1, 2) }),
      doc("c/array", { v: arr(int(1)) }),
      doc("c/geo", { v: geo(1, 2) }),
      doc("c/ref", { v: ref("c/x") }),
      doc("c/bytes", { v: bytes(1, 2) }),
      doc("c/string", { v: str("abc") }),
      doc("c/time", { v: ts(1_700_000_000) }),
      doc("c/inf", { v: dbl(Infinity) }),
      doc("c/int10", { v: int(10) }),
      doc("c/half", { v: dbl(0.5) }),
      doc("c/negInf", { v: dbl(-Infinity) }),
      doc("c/nan", { v: dbl(NaN) }),
      doc("c/true", { v: bool(true) }),
      doc("c/false", { v: bool(false) }),
      doc("c/null", { v: NULL }),
      doc("c/absent", {}),
    ];
    const expected = [
      "c/null",
      "c/false",
      "c/true",
      "c/nan",
      "c/negInf",
      "c/half",
      "c/int10",
      "c/inf",
      "c/time",
      "c/string",
      "c/bytes",
      "c/ref",
      "c/geo",
      "c/array",
      "c/vector",
      "c/map",
    ];
    expect(run(q({ orderBy: [asc("v")] }), docs)).toEqual(expected);
    expect(run(q({ orderBy: [desc("v")] }), docs)).toEqual([...expected].reverse());
  });

  it("interleaves integers and doubles by numeric value", () => {
    const docs = [
      doc("c/a", { n: int(2) }),
      doc("c/b", { n: dbl(1.5) }),
      doc("c/c", { n: int(-3) }),
      doc("c/d", { n: dbl(2.25) }),
    ];
    expect(run(q({ orderBy: [asc("n")] }), docs)).toEqual(["c/c", "c/b", "c/a", "c/d"]);
  });

  it("orders by __name__ ascending without an explicit order", () => {
    expect(run(q(), [doc("c/b"), doc("c/c"), doc("c/a")])).toEqual(["c/a", "c/b", "c/c"]);
  });

  it("breaks ties by __name__ in the direction of the last explicit order", () => {
    const docs = [doc("c/a", { n: int(1) }), doc("c/b", { n: int(1) }), doc("c/c", { n: int(0) })];
    expect(run(q({ orderBy: [asc("n")] }), docs)).toEqual(["c/c", "c/a", "c/b"]);
    expect(run(q({ orderBy: [desc("n")] }), docs)).toEqual(["c/b", "c/a", "c/c"]);
  });

  it("honours an explicit __name__ order", () => {
    expect(run(q({ orderBy: [desc("__name__")] }), [doc("c/a"), doc("c/c"), doc("c/b")])).toEqual([
      "c/c",
      "c/b",
      "c/a",
    ]);
  });

  it("compares names segment by segment", () => {
    const docs = [doc("a-b/x/c/2"), doc("a/y/c/3"), doc("a/x/c/1")];
    // Segment-wise "a" < "a-b", although the string "a-b/…" < "a/…".
    expect(run(q({ from: [{ collectionId: "c", allDescendants: true }] }), docs)).toEqual([
      "a/x/c/1",
      "a/y/c/3",
      "a-b/x/c/2",
    ]);
  });

  it("excludes documents without an ordered field", () => {
    const docs = [
      doc("c/a", { n: int(1) }),
      doc("c/b", {}),
      doc("c/c", { n: NULL }),
      doc("c/d", { m: map({ n: int(1) }) }),
    ];
    expect(run(q({ orderBy: [asc("n")] }), docs)).toEqual(["c/c", "c/a"]);
    expect(run(q({ orderBy: [asc("m.n")] }), docs)).toEqual(["c/d"]);
  });

  it("orders by a multi-field order", () => {
    const docs = [
      doc("c/1", { a: int(1), b: int(2) }),
      doc("c/2", { a: int(1), b: int(1) }),
      doc("c/3", { a: int(0), b: int(9) }),
    ];
    expect(run(q({ orderBy: [asc("a"), desc("b")] }), docs)).toEqual(["c/3", "c/1", "c/2"]);
    expect(run(q({ orderBy: [desc("a"), asc("b")] }), docs)).toEqual(["c/2", "c/1", "c/3"]);
  });

  it("orders implicitly by inequality fields, sorted by path, before __name__", () => {
    const docs = [
      doc("c/1", { a: int(2), b: int(1) }),
      doc("c/2", { a: int(1), b: int(2) }),
      doc("c/3", { a: int(1), b: int(1) }),
      doc("c/4", { a: int(3), b: int(0) }),
    ];
    const where = and(fieldFilter("b", "GREATER_THAN", int(0)), fieldFilter("a", "GREATER_THAN", int(0)));
    expect(run(q({ where }), docs)).toEqual(["c/3", "c/2", "c/1"]);
  });

  it("appends implicit orders after explicit ones, in the last explicit direction", () => {
    const docs = [
      doc("c/1", { a: int(1), c: int(1) }),
      doc("c/2", { a: int(2), c: int(1) }),
      doc("c/3", { a: int(2), c: int(1) }),
      doc("c/4", { a: int(1), c: int(0) }),
    ];
    const where = fieldFilter("a", "NOT_EQUAL", int(99));
    // ORDER BY c DESC, a DESC, __name__ DESC
    expect(run(q({ where, orderBy: [desc("c")] }), docs)).toEqual(["c/3", "c/2", "c/1", "c/4"]);
  });

  it("does not add an implicit order for __name__ inequalities beyond the final __name__", () => {
    const docs = [doc("c/a", { n: int(2) }), doc("c/b", { n: int(1) }), doc("c/c", { n: int(3) })];
    const where = and(
      fieldFilter("__name__", "GREATER_THAN", ref("c/a")),
      fieldFilter("n", "GREATER_THAN", int(0)),
    );
    expect(run(q({ where }), docs)).toEqual(["c/b", "c/c"]);
  });
});

// ----- Cursors --------------------------------------------------------------------------------------

describe("cursors", () => {
  const docs = [1, 2, 3, 4, 5].map((n) => doc(`c/d${n}`, { n: int(n) }));
  const at = (values: Value[], before: boolean): Cursor => ({ values, before });
  const byN = (clauses: Partial<StructuredQuery>): string[] =>
    run(q({ orderBy: [asc("n")], ...clauses }), docs);

  it("startAt (before=true) is inclusive", () => {
    expect(byN({ startAt: at([int(3)], true) })).toEqual(["c/d3", "c/d4", "c/d5"]);
  });

  it("startAfter (before absent/false) is exclusive", () => {
    expect(byN({ startAt: { values: [int(3)] } })).toEqual(["c/d4", "c/d5"]);
    expect(byN({ startAt: at([int(3)], false) })).toEqual(["c/d4", "c/d5"]);
  });

  it("endBefore (before=true) is exclusive", () => {
    expect(byN({ endAt: at([int(3)], true) })).toEqual(["c/d1", "c/d2"]);
  });

  it("endAt (before=false) is inclusive", () => {
    expect(byN({ endAt: at([int(3)], false) })).toEqual(["c/d1", "c/d2", "c/d3"]);
  });

  it("combines start and end cursors", () => {
    expect(byN({ startAt: at([int(2)], false), endAt: at([int(4)], false) })).toEqual(["c/d3", "c/d4"]);
  });

  it("positions between existing values and compares int with double", () => {
    expect(byN({ startAt: at([dbl(2.5)], true) })).toEqual(["c/d3", "c/d4", "c/d5"]);
    expect(byN({ startAt: at([dbl(2)], false) })).toEqual(["c/d3", "c/d4", "c/d5"]);
  });

  it("works on descending orders", () => {
    const result = run(
      q({ orderBy: [desc("n")], startAt: at([int(4)], false), endAt: at([int(2)], false) }),
      docs,
    );
    expect(result).toEqual(["c/d3", "c/d2"]);
  });

  describe("prefix and full cursors", () => {
    const dupes = [
      doc("c/a", { n: int(1) }),
      doc("c/b", { n: int(2) }),
      doc("c/c", { n: int(2) }),
      doc("c/d", { n: int(3) }),
    ];
    const ordered = (clauses: Partial<StructuredQuery>): string[] =>
      run(q({ orderBy: [asc("n")], ...clauses }), dupes);

    it("a prefix cursor positions on the prefix only", () => {
      expect(ordered({ startAt: at([int(2)], false) })).toEqual(["c/d"]);
      expect(ordered({ startAt: at([int(2)], true) })).toEqual(["c/b", "c/c", "c/d"]);
      expect(ordered({ endAt: at([int(2)], true) })).toEqual(["c/a"]);
      expect(ordered({ endAt: at([int(2)], false) })).toEqual(["c/a", "c/b", "c/c"]);
    });

    it("a full cursor includes the implicit __name__", () => {
      expect(ordered({ startAt: at([int(2), ref("c/b")], false) })).toEqual(["c/c", "c/d"]);
      expect(ordered({ startAt: at([int(2), ref("c/b")], true) })).toEqual(["c/b", "c/c", "c/d"]);
      expect(ordered({ endAt: at([int(2), ref("c/c")], true) })).toEqual(["c/a", "c/b"]);
    });

    it("a __name__-only cursor works without explicit orders", () => {
      expect(run(q({ startAt: at([ref("c/b")], false) }), dupes)).toEqual(["c/c", "c/d"]);
      expect(run(q({ endAt: at([ref("c/b")], false) }), dupes)).toEqual(["c/a", "c/b"]);
    });

    it("cursor values may cover implicit inequality orders", () => {
      const where = fieldFilter("n", "GREATER_THAN_OR_EQUAL", int(1));
      expect(run(q({ where, startAt: at([int(2), ref("c/b")], false) }), dupes)).toEqual(["c/c", "c/d"]);
    });
  });
});

// ----- Offset, limit, projection ----------------------------------------------------------------------

describe("offset and limit", () => {
  const docs = [1, 2, 3, 4, 5].map((n) => doc(`c/d${n}`, { n: int(n) }));

  it("applies offset, then limit, after ordering", () => {
    expect(run(q({ orderBy: [desc("n")], offset: 1, limit: { value: 2 } }), docs)).toEqual(["c/d4", "c/d3"]);
    expect(run(q({ limit: { value: 2 } }), docs)).toEqual(["c/d1", "c/d2"]);
    expect(run(q({ offset: 3 }), docs)).toEqual(["c/d4", "c/d5"]);
    expect(run(q({ offset: 10 }), docs)).toEqual([]);
  });

  it("applies offset after cursors", () => {
    expect(run(q({ orderBy: [asc("n")], startAt: { values: [int(2)] }, offset: 1 }), docs)).toEqual([
      "c/d4",
      "c/d5",
    ]);
  });

  it("treats a limit wrapper without value as limit 0", () => {
    expect(run(q({ limit: {} }), docs)).toEqual([]);
  });
});

describe("projection", () => {
  const source = doc("c/p", {
    a: map({ b: int(1), c: map({ d: str("deep"), e: int(2) }) }),
    f: str("top"),
    g: arr(int(1)),
  });

  it("keeps only the selected fields, nested paths keeping their structure", () => {
    const [result] = runQuery(
      q({ select: { fields: [{ fieldPath: "a.c.d" }, { fieldPath: "f" }, { fieldPath: "missing.x" }] } }),
      ROOT,
      [source],
    );
    expect(result).toEqual({
      name: `${ROOT}/c/p`,
      fields: { a: map({ c: map({ d: str("deep") }) }), f: str("top") },
      createTime: { seconds: 100, nanos: 0 },
      updateTime: { seconds: 200, nanos: 0 },
    });
  });

  it("a selected parent wins over a selected child", () => {
    const [result] = runQuery(q({ select: { fields: [{ fieldPath: "a.b" }, { fieldPath: "a" }] } }), ROOT, [
      source,
    ]);
    expect(result?.fields).toEqual({ a: source.fields.a });
  });

  it("selecting only __name__ returns names without fields", () => {
    const result = runQuery(q({ select: { fields: [{ fieldPath: "__name__" }] } }), ROOT, [
      source,
      doc("c/q", { x: int(1) }),
    ]);
    expect(result.map((d) => [d.name.slice(ROOT.length + 1), d.fields])).toEqual([
      ["c/p", {}],
      ["c/q", {}],
    ]);
  });

  it("an empty field list returns whole documents (query.proto: 'If empty, all fields are returned')", () => {
    const [result] = runQuery(q({ select: { fields: [] } }), ROOT, [source]);
    expect(result?.fields).toEqual(source.fields);
  });

  it("projects after filtering and ordering on unselected fields", () => {
    const docs = [doc("c/1", { n: int(2), s: str("x") }), doc("c/2", { n: int(1), s: str("y") })];
    const result = runQuery(
      q({
        where: fieldFilter("n", "GREATER_THAN", int(0)),
        orderBy: [asc("n")],
        select: { fields: [{ fieldPath: "s" }] },
      }),
      ROOT,
      docs,
    );
    expect(result.map((d) => d.fields)).toEqual([{ s: str("y") }, { s: str("x") }]);
  });

  it("returns copies that do not share structure with the stored documents", () => {
    const stored = doc("c/x", { m: map({ v: int(1) }) });
    const [whole] = runQuery(q(), ROOT, [stored]);
    const [projected] = runQuery(q({ select: { fields: [{ fieldPath: "m.v" }] } }), ROOT, [stored]);
    expect(whole).toEqual(stored);
    expect(whole).not.toBe(stored);
    if (whole === undefined || projected === undefined) throw new Error("expected results");
    whole.fields.m = str("changed");
    whole.createTime.seconds = 1;
    projected.fields.m = str("changed");
    expect(stored.fields.m).toEqual(map({ v: int(1) }));
    expect(stored.createTime.seconds).toBe(100);
  });
});

// ----- Aggregations ---------------------------------------------------------------------------------

describe("aggregations", () => {
  const aggregate = (
    aggregations: Aggregation[],
    docs: StoredDocument[],
    clauses: Partial<StructuredQuery> = {},
  ) => runAggregationQuery({ structuredQuery: q(clauses), aggregations }, ROOT, docs);
  const numbers = [
    doc("c/1", { n: int(1) }),
    doc("c/2", { n: int(2) }),
    doc("c/3", { n: int(3) }),
    doc("c/4", { n: str("4") }),
    doc("c/5", { n: NULL }),
    doc("c/6", {}),
    doc("other/1", { n: int(100) }),
  ];

  it("count counts matching documents", () => {
    expect(aggregate([{ alias: "total", count: {} }], numbers)).toEqual({ total: int(6) });
    expect(
      aggregate([{ alias: "big", count: {} }], numbers, { where: fieldFilter("n", "GREATER_THAN", int(1)) }),
    ).toEqual({
      big: int(2),
    });
  });

  it("count honours upTo", () => {
    expect(aggregate([{ alias: "c", count: { upTo: { value: "4" } } }], numbers)).toEqual({ c: int(4) });
    expect(aggregate([{ alias: "c", count: { upTo: { value: "40" } } }], numbers)).toEqual({ c: int(6) });
  });

  it("count of nothing is 0", () => {
    expect(aggregate([{ alias: "c", count: {} }], [])).toEqual({ c: int(0) });
  });

  it("sum adds integers as an integer, skipping non-numeric values", () => {
    expect(aggregate([{ alias: "s", sum: { field: { fieldPath: "n" } } }], numbers)).toEqual({ s: int(6) });
  });

  it("sum is a double once any value is a double", () => {
    const docs = [doc("c/1", { n: int(1) }), doc("c/2", { n: dbl(0.5) })];
    expect(aggregate([{ alias: "s", sum: { field: { fieldPath: "n" } } }], docs)).toEqual({ s: dbl(1.5) });
  });

  it("sum overflowing int64 becomes a double", () => {
    const docs = [doc("c/1", { n: int("9223372036854775807") }), doc("c/2", { n: int(1) })];
    expect(aggregate([{ alias: "s", sum: { field: { fieldPath: "n" } } }], docs)).toEqual({
      s: dbl(9223372036854775808),
    });
    const exact = [doc("c/1", { n: int("9223372036854775807") }), doc("c/2", { n: int(-7) })];
    expect(aggregate([{ alias: "s", sum: { field: { fieldPath: "n" } } }], exact)).toEqual({
      s: int("9223372036854775800"),
    });
  });

  it("sum of nothing is integer 0", () => {
    expect(aggregate([{ alias: "s", sum: { field: { fieldPath: "n" } } }], [])).toEqual({ s: int(0) });
    expect(
      aggregate([{ alias: "s", sum: { field: { fieldPath: "n" } } }], [doc("c/x", { n: str("1") })]),
    ).toEqual({
      s: int(0),
    });
  });

  it("avg is a double over numeric values only", () => {
    expect(aggregate([{ alias: "a", avg: { field: { fieldPath: "n" } } }], numbers)).toEqual({ a: dbl(2) });
    const docs = [doc("c/1", { n: int(1) }), doc("c/2", { n: dbl(2.5) })];
    expect(aggregate([{ alias: "a", avg: { field: { fieldPath: "n" } } }], docs)).toEqual({ a: dbl(1.75) });
  });

  it("avg of nothing is null", () => {
    expect(aggregate([{ alias: "a", avg: { field: { fieldPath: "n" } } }], [])).toEqual({ a: NULL });
    expect(
      aggregate([{ alias: "a", avg: { field: { fieldPath: "n" } } }], [doc("c/x", { n: NULL })]),
    ).toEqual({
      a: NULL,
    });
  });

  it("NaN propagates through sum and avg", () => {
    const docs = [doc("c/1", { n: int(1) }), doc("c/2", { n: dbl(NaN) })];
    const result = aggregate(
      [
        { alias: "s", sum: { field: { fieldPath: "n" } } },
        { alias: "a", avg: { field: { fieldPath: "n" } } },
      ],
      docs,
    );
    expect(result.s?.doubleValue).toBeNaN();
    expect(result.a?.doubleValue).toBeNaN();
  });

  it("aggregates after the base query's ordering, offset and limit", () => {
    const clauses = { orderBy: [desc("n")], offset: 1, limit: { value: 1 } };
    expect(
      aggregate(
        [
          { alias: "c", count: {} },
          { alias: "s", sum: { field: { fieldPath: "n" } } },
        ],
        numbers,
        clauses,
      ),
    ).toEqual({ c: int(1), s: int(3) }); // n DESC: "4", 3, 2, 1, null → offset 1, limit 1 → 3
  });

  it("names unnamed aggregations field_1, field_2, …", () => {
    const result = aggregate(
      [
        { alias: "named", count: { upTo: { value: "1" } } },
        { count: {} },
        { alias: "field_2", count: {} },
        { alias: "", sum: { field: { fieldPath: "n" } } },
      ],
      numbers,
    );
    // With a sum over n in the query, only the documents that have n take part (c/6 lacks it).
    expect(result).toEqual({ named: int(1), field_1: int(5), field_2: int(5), field_3: int(6) });
  });

  it.each<[string, Aggregation[], RegExp]>([
    [
      "duplicate aliases",
      [
        { alias: "x", count: {} },
        { alias: "x", count: {} },
      ],
      /Duplicate alias "x"/,
    ],
    ["reserved aliases", [{ alias: "__x__", count: {} }], /reserved/],
    ["upTo 0", [{ alias: "x", count: { upTo: {} } }], /upTo must be a positive integer/],
    ["no operator", [{ alias: "x" }], /exactly one of count, sum, avg/],
    ["two operators", [{ alias: "x", count: {}, avg: { field: { fieldPath: "n" } } }], /exactly one of/],
    ["sum without a field", [{ alias: "x", sum: {} }], /sum requires a field path/],
    [
      "more than five",
      [1, 2, 3, 4, 5, 6].map((i) => ({ alias: `a${i}`, count: {} })),
      /exceeds the maximum number of aggregations \(5\)/,
    ],
  ])("rejects %s", (_name, aggregations, message) => {
    const err = errorOf(() => aggregate(aggregations, numbers));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.message).toMatch(message);
  });

  it("rejects an aggregation without a structured query", () => {
    expect(errorOf(() => runAggregationQuery({ aggregations: [] }, ROOT, [])).message).toMatch(
      /structuredQuery is required/,
    );
  });
});

// ----- Validation -----------------------------------------------------------------------------------

describe("validateQuery", () => {
  const many = (n: number): Value => arr(...Array.from({ length: n }, (_, i) => int(i)));

  it("accepts a valid query", () => {
    expect(() => {
      validateQuery(
        q({
          where: and(fieldFilter("a", "EQUAL", int(1)), fieldFilter("b", "GREATER_THAN", int(1))),
          orderBy: [asc("b")],
          startAt: { values: [int(1), ref("c/x")], before: true },
          offset: 0,
          limit: { value: 10 },
          select: { fields: [{ fieldPath: "a" }] },
        }),
      );
    }).not.toThrow();
  });

  it.each<[string, StructuredQuery, RegExp]>([
    ["no from", { from: [] }, /Exactly one collection selector/],
    [
      "two from entries",
      { from: [{ collectionId: "a" }, { collectionId: "b" }] },
      /Exactly one collection selector .*got 2/,
    ],
    ["a collection id with a slash", { from: [{ collectionId: "a/b" }] }, /Invalid collection id/],
    [
      "an unknown field operator",
      q({ where: fieldFilter("a", "LIKE", int(1)) }),
      /Unknown field filter operator "LIKE"/,
    ],
    [
      "an unknown unary operator",
      q({ where: unary("a", "IS_EMPTY") }),
      /Unknown unary filter operator "IS_EMPTY"/,
    ],
    [
      "an unknown composite operator",
      q({ where: { compositeFilter: { op: "XOR", filters: [] } } }),
      /Unknown composite/,
    ],
    ["an empty composite filter", q({ where: and() }), /needs at least one filter/],
    ["an empty filter", q({ where: {} }), /must set compositeFilter, fieldFilter or unaryFilter/],
    ["a bad field path", q({ where: fieldFilter("a..b", "EQUAL", int(1)) }), /Invalid field path "a\.\.b"/],
    [
      "a missing field path",
      q({ where: { fieldFilter: { op: "EQUAL", value: int(1) } } }),
      /requires a field path/,
    ],
    [
      "a missing value",
      q({ where: { fieldFilter: { field: { fieldPath: "a" }, op: "EQUAL" } } }),
      /has no value/,
    ],
    ["EQUAL null", q({ where: fieldFilter("a", "EQUAL", NULL) }), /EQUAL does not accept null.*IS_NULL/],
    ["EQUAL NaN", q({ where: fieldFilter("a", "EQUAL", dbl(NaN)) }), /EQUAL does not accept NaN.*IS_NAN/],
    ["NOT_EQUAL null", q({ where: fieldFilter("a", "NOT_EQUAL", NULL) }), /NOT_EQUAL does not accept null/],
    [
      "a range on NaN",
      q({ where: fieldFilter("a", "LESS_THAN", dbl(NaN)) }),
      /LESS_THAN does not accept NaN/,
    ],
    [
      "IN with a non-array",
      q({ where: fieldFilter("a", "IN", int(1)) }),
      /non-empty array value is required for IN/,
    ],
    ["IN with an empty array", q({ where: fieldFilter("a", "IN", arr()) }), /non-empty array/],
    [
      "IN with 31 values",
      q({ where: fieldFilter("a", "IN", many(31)) }),
      /IN filters support at most 30 values/,
    ],
    ["NOT_IN with 11 values", q({ where: fieldFilter("a", "NOT_IN", many(11)) }), /at most 10 values/],
    [
      "ARRAY_CONTAINS_ANY non-array",
      q({ where: fieldFilter("a", "ARRAY_CONTAINS_ANY", str("x")) }),
      /non-empty array/,
    ],
    [
      "two NOT_EQUAL filters",
      q({ where: and(fieldFilter("a", "NOT_EQUAL", int(1)), unary("b", "IS_NOT_NULL")) }),
      /Only one NOT_EQUAL/,
    ],
    [
      "two NOT_IN filters",
      q({ where: and(fieldFilter("a", "NOT_IN", arr(int(1))), fieldFilter("b", "NOT_IN", arr(int(1)))) }),
      /Only one NOT_IN/,
    ],
    [
      "NOT_IN with NOT_EQUAL",
      q({ where: and(fieldFilter("a", "NOT_IN", arr(int(1))), fieldFilter("b", "NOT_EQUAL", int(1))) }),
      /NOT_IN cannot be combined with NOT_EQUAL/,
    ],
    [
      "NOT_IN with IN",
      q({ where: and(fieldFilter("a", "NOT_IN", arr(int(1))), fieldFilter("b", "IN", arr(int(1)))) }),
      /NOT_IN cannot be combined with IN/,
    ],
    [
      "more than 30 disjunctions",
      q({ where: and(fieldFilter("a", "IN", many(6)), fieldFilter("b", "IN", many(6))) }),
      /36 disjunctions/,
    ],
    [
      "two ARRAY_CONTAINS in one conjunction",
      q({
        where: and(fieldFilter("a", "ARRAY_CONTAINS", int(1)), fieldFilter("b", "ARRAY_CONTAINS", int(1))),
      }),
      /At most one ARRAY_CONTAINS/,
    ],
    [
      "a __name__ filter on a string",
      q({ where: fieldFilter("__name__", "EQUAL", str("c/x")) }),
      /on __name__ must be references/,
    ],
    [
      "a __name__ IN with a string",
      q({ where: fieldFilter("__name__", "IN", arr(str("x"))) }),
      /on __name__ must be references/,
    ],
    ["a duplicate order", q({ orderBy: [asc("a"), desc("a")] }), /"a" is ordered more than once/],
    [
      "an unknown direction",
      q({ orderBy: [{ field: { fieldPath: "a" }, direction: "UP" }] }),
      /Unknown ORDER BY direction/,
    ],
    ["a bad order path", q({ orderBy: [asc("a.")] }), /Invalid field path/],
    [
      "a cursor longer than the order",
      q({ orderBy: [asc("a")], startAt: { values: [int(1), ref("c/x"), int(3)] } }),
      /startAt cursor has 3 values but the query orders by only 2/,
    ],
    [
      "an end cursor longer than the order",
      q({ endAt: { values: [ref("c/x"), int(1)] } }),
      /endAt cursor has 2 values/,
    ],
    [
      "a __name__ cursor that is not a reference",
      q({ startAt: { values: [str("x")] } }),
      /cursor value for __name__ must be a reference/,
    ],
    ["a negative limit", q({ limit: { value: -1 } }), /limit must be >= 0/],
    ["a negative offset", q({ offset: -2 }), /offset must be >= 0/],
    ["a bad select path", q({ select: { fields: [{ fieldPath: "`x" }] } }), /unterminated backtick/],
  ])("rejects %s", (_name, query, message) => {
    expectInvalid(query, message);
  });

  it("allows two ARRAY_CONTAINS in different disjunctions and 30 disjunctions", () => {
    expect(() => {
      validateQuery(
        q({
          where: or(fieldFilter("a", "ARRAY_CONTAINS", int(1)), fieldFilter("b", "ARRAY_CONTAINS", int(1))),
        }),
      );
      validateQuery(q({ where: and(fieldFilter("a", "IN", many(5)), fieldFilter("b", "IN", many(6))) }));
    }).not.toThrow();
  });

  it("refuses a findNearest without a query vector, measure or valid limit", () => {
    const err = errorOf(() => {
      validateQuery(q({ findNearest: {} }));
    });
    expect(err.code).toBe(status.INVALID_ARGUMENT);
  });
});

describe("numeric document ids in references", () => {
  it("sorts __id<n>__ segments before string ids, by numeric value", () => {
    const { compareReferences } = jest.requireActual<typeof import("../src/values")>("../src/values");
    const root = "projects/p/databases/(default)/documents/col/";
    expect(compareReferences(`${root}__id-9223372036854775808__`, `${root}1`)).toBeLessThan(0);
    expect(compareReferences(`${root}__id-9223372036854775808__`, `${root}Abc`)).toBeLessThan(0);
    expect(compareReferences(`${root}__id2__`, `${root}__id10__`)).toBeLessThan(0);
    expect(compareReferences(`${root}abc`, `${root}__id10__`)).toBeGreaterThan(0);
  });
});
