/**
 * Aggregation queries: count, sum and average, over collections, filtered queries, limits and
 * collection groups; non-numeric values are ignored by sum and average.
 */
import { AggregateField } from "firebase-admin/firestore";

import { useFirestore } from "./support";

const ctx = useFirestore("aggregations");

describe("aggregations", () => {
  beforeEach(async () => {
    const batch = ctx.db.batch();
    const rows: Array<[string, Record<string, unknown>]> = [
      ["a", { x: 1, g: "odd" }],
      ["b", { x: 2, g: "even" }],
      ["c", { x: 3, g: "odd" }],
      ["d", { x: 4.5, g: "even" }],
      ["e", { x: "not a number", g: "odd" }],
      ["f", { g: "none" }],
      ["h", { x: null, g: "none" }],
    ];
    for (const [id, data] of rows) batch.set(ctx.col("rows").doc(id), data);
    await batch.commit();
  });

  it("count, sum and average in one query", async () => {
    const snap = await ctx
      .col("rows")
      .aggregate({ n: AggregateField.count(), s: AggregateField.sum("x"), a: AggregateField.average("x") })
      .get();
    // With a sum or average in the query, only documents that have x take part (f lacks it), count
    // included; sum and average use only the numeric values of x (1, 2, 3, 4.5).
    expect(snap.data()).toEqual({ n: 6, s: 10.5, a: 2.625 });
  });

  it("count() of a filtered query", async () => {
    const snap = await ctx.col("rows").where("g", "==", "odd").count().get();
    expect(snap.data().count).toBe(3);
  });

  it("sum of integers stays exact; average of a filtered query", async () => {
    const snap = await ctx
      .col("rows")
      .where("g", "==", "odd")
      .aggregate({ s: AggregateField.sum("x"), a: AggregateField.average("x") })
      .get();
    expect(snap.data()).toEqual({ s: 4, a: 2 });
  });

  it("aggregations respect limit", async () => {
    const snap = await ctx
      .col("rows")
      .orderBy("x")
      .limit(3)
      .aggregate({ n: AggregateField.count(), s: AggregateField.sum("x") })
      .get();
    // orderBy("x") keeps every document that has x, in value order: null (h), 1 (a), 2 (b), ...
    expect(snap.data()).toEqual({ n: 3, s: 3 });
  });

  it("over an empty result: count 0, sum 0, average null", async () => {
    const snap = await ctx
      .col("rows")
      .where("g", "==", "nothing")
      .aggregate({ n: AggregateField.count(), s: AggregateField.sum("x"), a: AggregateField.average("x") })
      .get();
    expect(snap.data()).toEqual({ n: 0, s: 0, a: null });
  });

  it("over a collection group", async () => {
    const group = ctx.id("grp");
    await ctx.db
      .batch()
      .set(ctx.col("rows").doc("a").collection(group).doc("1"), { v: 10 })
      .set(ctx.col("rows").doc("b").collection(group).doc("2"), { v: 20 })
      .set(ctx.db.collection(group).doc("3"), { v: 30 })
      .commit();
    const snap = await ctx.db
      .collectionGroup(group)
      .aggregate({ n: AggregateField.count(), s: AggregateField.sum("v") })
      .get();
    expect(snap.data()).toEqual({ n: 3, s: 60 });
  });

  it("reflect writes made just before", async () => {
    await ctx.col("rows").doc("z").set({ x: 100, g: "even" });
    const snap = await ctx
      .col("rows")
      .where("g", "==", "even")
      .aggregate({ s: AggregateField.sum("x") })
      .get();
    expect(snap.data().s).toBe(106.5);
  });
});
