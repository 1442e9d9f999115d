/**
 * Semantics where an emulator easily differs from production: aggregations over several fields,
 * NaN in range filters, numeric document ids (`__id<n>__`).
 */
import { AggregateField, FieldPath } from "firebase-admin/firestore";

import { codeOf, ids, useFirestore } from "./support";

const ctx = useFirestore("semantics");

describe("aggregations over different fields", () => {
  it("take only the documents that have every aggregated field, count included", async () => {
    const batch = ctx.db.batch();
    batch.set(ctx.col("scores").doc("a"), { points: 100, rating: 2 });
    batch.set(ctx.col("scores").doc("b"), { points: 100, rating: 4 });
    batch.set(ctx.col("scores").doc("c"), { points: 100, rating: 3 });
    batch.set(ctx.col("scores").doc("d"), { points: 50 }); // no rating: left out of every aggregation
    await batch.commit();
    const snap = await ctx
      .col("scores")
      .aggregate({
        n: AggregateField.count(),
        total: AggregateField.sum("points"),
        avgRating: AggregateField.average("rating"),
      })
      .get();
    expect(snap.data()).toEqual({ n: 3, total: 300, avgRating: 3 });
    // Each alone sees every document that has its field.
    expect(
      (
        await ctx
          .col("scores")
          .aggregate({ total: AggregateField.sum("points") })
          .get()
      ).data(),
    ).toEqual({
      total: 350,
    });
    expect((await ctx.col("scores").count().get()).data().count).toBe(4);
  });

  it("more than five aggregations are refused with INVALID_ARGUMENT and production's wording", async () => {
    const six = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`c${i}`, AggregateField.count()]));
    expect(await codeOf(ctx.col("scores").aggregate(six).get())).toBe(3);
    // The phrase the Firebase SDKs' integration tests expect from production.
    await expect(ctx.col("scores").aggregate(six).get()).rejects.toThrow(/maximum number of aggregations/);
  });

  it("a sum over a NaN is NaN, and array values are not summed but still count as present", async () => {
    const batch = ctx.db.batch();
    batch.set(ctx.col("books").doc("a"), { pages: 100, rating: 5 });
    batch.set(ctx.col("books").doc("b"), { pages: 50, rating: NaN });
    batch.set(ctx.col("books").doc("c"), { pages: 150, tags: [1, 2] });
    await batch.commit();
    const rated = await ctx
      .col("books")
      .aggregate({ r: AggregateField.sum("rating"), p: AggregateField.sum("pages") })
      .get();
    expect(rated.data().r).toBeNaN();
    expect(rated.data().p).toBe(150);
    const tagged = await ctx
      .col("books")
      .aggregate({
        t: AggregateField.sum("tags"),
        a: AggregateField.average("tags"),
        n: AggregateField.count(),
      })
      .get();
    expect(tagged.data()).toEqual({ t: 0, a: null, n: 1 });
  });
});

describe("NaN", () => {
  beforeEach(async () => {
    const batch = ctx.db.batch();
    batch.set(ctx.col("nums").doc("nan"), { x: NaN });
    batch.set(ctx.col("nums").doc("one"), { x: 1 });
    batch.set(ctx.col("nums").doc("minf"), { x: -Infinity });
    await batch.commit();
  });

  it("matches no range filter", async () => {
    expect(ids(await ctx.col("nums").where("x", "<", 5).get())).toEqual(["minf", "one"]);
    expect(ids(await ctx.col("nums").where("x", "<=", 1).get())).toEqual(["minf", "one"]);
    expect(ids(await ctx.col("nums").where("x", ">", -Infinity).get())).toEqual(["one"]);
    expect(ids(await ctx.col("nums").where("x", ">=", -Infinity).get())).toEqual(["minf", "one"]);
  });

  it("matches == NaN and sorts before every number", async () => {
    expect(ids(await ctx.col("nums").where("x", "==", NaN).get())).toEqual(["nan"]);
    expect(ids(await ctx.col("nums").orderBy("x").get())).toEqual(["nan", "minf", "one"]);
  });
});

describe("numeric document ids", () => {
  it("__id<n>__ ids are accepted and ordered by value before string ids", async () => {
    const batch = ctx.db.batch();
    for (const id of ["b", "__id10__", "A", "__id-3__", "__id2__"]) batch.set(ctx.col("ids").doc(id), { id });
    await batch.commit();
    expect((await ctx.col("ids").doc("__id10__").get()).get("id")).toBe("__id10__");
    expect(ids(await ctx.col("ids").get())).toEqual(["__id-3__", "__id2__", "__id10__", "A", "b"]);
    expect(ids(await ctx.col("ids").orderBy(FieldPath.documentId(), "desc").get())).toEqual([
      "b",
      "A",
      "__id10__",
      "__id2__",
      "__id-3__",
    ]);
  });
});
