/**
 * Query ordering and paging: Firestore's cross-type value order, implicit __name__ ordering,
 * limit / limitToLast / offset, cursors (values and document snapshots) and select().
 */
import { FieldPath, GeoPoint, Timestamp } from "firebase-admin/firestore";

import { ids, useFirestore } from "./support";

const ctx = useFirestore("query-order");

describe("cross-type ordering", () => {
  // Expected ascending order. Ids are deliberately not in value order.
  const values: Array<[string, () => unknown]> = [
    ["k-null", () => null],
    ["x-false", () => false],
    ["c-true", () => true],
    ["q-nan", () => Number.NaN],
    ["a-neg-inf", () => Number.NEGATIVE_INFINITY],
    ["m-neg", () => -5],
    ["b-one", () => 1],
    ["y-one-and-half", () => 1.5],
    ["d-inf", () => Number.POSITIVE_INFINITY],
    ["r-ts1", () => Timestamp.fromMillis(1_000_000)],
    ["e-ts2", () => Timestamp.fromMillis(2_000_000)],
    ["s-empty-string", () => ""],
    ["f-str-a", () => "a"],
    ["t-str-b", () => "b"],
    ["g-str-bmp-max", () => "\uffff"],
    // U+1F600 is a surrogate pair in UTF-16 (0xD83D...), so it sorts *before* U+FFFF by UTF-16
    // code units, but after it by UTF-8 bytes, which is Firestore's string order.
    ["u-str-emoji", () => "\u{1F600}"],
    ["h-bytes0", () => Buffer.from([0x00])],
    ["v-bytes1", () => Buffer.from([0x01, 0x02])],
    ["i-ref-a", () => ctx.col("other").doc("a")],
    ["w-ref-b", () => ctx.col("other").doc("b")],
    ["j-geo1", () => new GeoPoint(0, 0)],
    ["z-geo2", () => new GeoPoint(1, -1)],
    ["l-arr-empty", () => []],
    ["n-arr-1", () => [1]],
    ["o-arr-1-a", () => [1, "a"]],
    ["p-map-empty", () => ({})],
    ["zz-map-a", () => ({ a: 1 })],
    ["aa-map-b", () => ({ b: 0 })],
  ];
  const ascending = values.map(([id]) => id);

  beforeEach(async () => {
    const batch = ctx.db.batch();
    for (const [id, value] of values) batch.set(ctx.col("mixed").doc(id), { v: value() });
    batch.set(ctx.col("mixed").doc("no-field"), { other: 1 });
    await batch.commit();
  });

  it("orderBy asc follows null < booleans < numbers (NaN first) < timestamps < strings < bytes < references < geopoints < arrays < maps", async () => {
    expect(ids(await ctx.col("mixed").orderBy("v").get())).toEqual(ascending);
  });

  it("orderBy desc is the exact reverse; documents without the field are left out", async () => {
    expect(ids(await ctx.col("mixed").orderBy("v", "desc").get())).toEqual([...ascending].reverse());
  });
});

describe("implicit __name__ ordering", () => {
  beforeEach(async () => {
    const batch = ctx.db.batch();
    // Ties on n; ids out of insertion order.
    for (const [id, n] of [
      ["c", 2],
      ["a", 1],
      ["e", 3],
      ["b", 2],
      ["d", 2],
    ] as const) {
      batch.set(ctx.col("t").doc(id), { n, label: `${id}${n}` });
    }
    await batch.commit();
  });

  it("no orderBy returns documents by id", async () => {
    expect(ids(await ctx.col("t").get())).toEqual(["a", "b", "c", "d", "e"]);
  });

  it("ties on the ordered field are broken by id, ascending for asc", async () => {
    expect(ids(await ctx.col("t").orderBy("n").get())).toEqual(["a", "b", "c", "d", "e"]);
  });

  it("and descending when the last orderBy is desc", async () => {
    expect(ids(await ctx.col("t").orderBy("n", "desc").get())).toEqual(["e", "d", "c", "b", "a"]);
  });

  it("an explicit orderBy(documentId(), 'desc') orders by id", async () => {
    expect(ids(await ctx.col("t").orderBy(FieldPath.documentId(), "desc").get())).toEqual([
      "e",
      "d",
      "c",
      "b",
      "a",
    ]);
  });

  it("limit, limitToLast and offset", async () => {
    const byN = ctx.col("t").orderBy("n");
    expect(ids(await byN.limit(2).get())).toEqual(["a", "b"]);
    expect(ids(await byN.limitToLast(2).get())).toEqual(["d", "e"]);
    expect(ids(await byN.offset(1).limit(3).get())).toEqual(["b", "c", "d"]);
    expect(ids(await byN.offset(10).get())).toEqual([]);
    expect(ids(await ctx.col("t").orderBy("n", "desc").limitToLast(2).get())).toEqual(["b", "a"]);
  });

  it("value cursors: startAt, startAfter, endAt, endBefore", async () => {
    const byN = ctx.col("t").orderBy("n");
    expect(ids(await byN.startAt(2).get())).toEqual(["b", "c", "d", "e"]);
    expect(ids(await byN.startAfter(2).get())).toEqual(["e"]);
    expect(ids(await byN.endAt(2).get())).toEqual(["a", "b", "c", "d"]);
    expect(ids(await byN.endBefore(2).get())).toEqual(["a"]);
    expect(ids(await byN.startAfter(1).endBefore(3).get())).toEqual(["b", "c", "d"]);
    // Two-field cursor: (n, id).
    const byNAndId = ctx.col("t").orderBy("n").orderBy(FieldPath.documentId());
    expect(ids(await byNAndId.startAfter(2, "b").get())).toEqual(["c", "d", "e"]);
    expect(ids(await byNAndId.endAt(2, "c").get())).toEqual(["a", "b", "c"]);
  });

  it("cursors on desc order", async () => {
    const desc = ctx.col("t").orderBy("n", "desc");
    expect(ids(await desc.startAfter(2).get())).toEqual(["a"]);
    expect(ids(await desc.startAt(2).get())).toEqual(["d", "c", "b", "a"]);
    expect(ids(await desc.endBefore(2).get())).toEqual(["e"]);
  });

  it("document snapshot cursors continue after that exact document among ties", async () => {
    const c = await ctx.col("t").doc("c").get();
    const byN = ctx.col("t").orderBy("n");
    expect(ids(await byN.startAfter(c).get())).toEqual(["d", "e"]);
    expect(ids(await byN.startAt(c).get())).toEqual(["c", "d", "e"]);
    expect(ids(await byN.endBefore(c).get())).toEqual(["a", "b"]);
    expect(ids(await byN.endAt(c).get())).toEqual(["a", "b", "c"]);
    // Without orderBy, a snapshot cursor orders by id.
    expect(ids(await ctx.col("t").startAfter(c).get())).toEqual(["d", "e"]);
    // On a desc order the tie-break is by id desc.
    expect(ids(await ctx.col("t").orderBy("n", "desc").startAfter(c).get())).toEqual(["b", "a"]);
  });

  it("pages through a query with limit and startAfter(last snapshot)", async () => {
    const pages: string[][] = [];
    let q = ctx.col("t").orderBy("n", "desc").limit(2);
    for (;;) {
      const snap = await q.get();
      if (snap.empty) break;
      pages.push(ids(snap));
      const last = snap.docs[snap.docs.length - 1];
      if (!last) break;
      q = ctx.col("t").orderBy("n", "desc").limit(2).startAfter(last);
    }
    expect(pages).toEqual([["e", "d"], ["c", "b"], ["a"]]);
  });

  it("select returns only the chosen fields; select() returns ids only", async () => {
    const snap = await ctx.col("t").orderBy("n").select("label").limit(2).get();
    expect(snap.docs.map((d) => d.data())).toEqual([{ label: "a1" }, { label: "b2" }]);
    const bare = await ctx.col("t").select().get();
    expect(ids(bare)).toEqual(["a", "b", "c", "d", "e"]);
    expect(bare.docs.every((d) => Object.keys(d.data()).length === 0)).toBe(true);
  });

  it("select of a nested field returns it inside its map", async () => {
    await ctx
      .col("nested")
      .doc("x")
      .set({ m: { a: 1, b: 2 }, top: true });
    const snap = await ctx.col("nested").select("m.a").get();
    expect(snap.docs[0]?.data()).toEqual({ m: { a: 1 } });
  });
});
