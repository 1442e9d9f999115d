/**
 * Vector search (`findNearest`) with the three distance measures, a distance result field and a
 * distance threshold, after the query's filters. Production also needs a vector index for the
 * field; the official emulator and this server serve the query without one.
 */
import { FieldValue } from "firebase-admin/firestore";

import { useFirestore } from "./support";

const ctx = useFirestore("vectors");

describe("findNearest", () => {
  beforeEach(async () => {
    const batch = ctx.db.batch();
    batch.set(ctx.col("items").doc("x"), { kind: "a", v: FieldValue.vector([1, 0]) });
    batch.set(ctx.col("items").doc("y"), { kind: "a", v: FieldValue.vector([0, 2]) });
    batch.set(ctx.col("items").doc("z"), { kind: "b", v: FieldValue.vector([3, 3]) });
    batch.set(ctx.col("items").doc("w"), { kind: "a", v: FieldValue.vector([1, 1, 1]) }); // other dimension
    batch.set(ctx.col("items").doc("n"), { kind: "a", v: [1, 0] }); // an array, not a vector
    await batch.commit();
  });

  const nearest = async (
    distanceMeasure: "EUCLIDEAN" | "COSINE" | "DOT_PRODUCT",
    extra: { distanceThreshold?: number } = {},
  ): Promise<Array<[string, number]>> => {
    const snap = await ctx
      .col("items")
      .findNearest({
        vectorField: "v",
        queryVector: [1, 0],
        limit: 10,
        distanceMeasure,
        distanceResultField: "d",
        ...extra,
      })
      .get();
    return snap.docs.map((d) => [d.id, Math.round((d.get("d") as number) * 1000) / 1000]);
  };

  it("EUCLIDEAN: nearest first", async () => {
    expect(await nearest("EUCLIDEAN")).toEqual([
      ["x", 0],
      ["y", 2.236],
      ["z", 3.606],
    ]);
  });

  it("COSINE: smallest angle first", async () => {
    expect(await nearest("COSINE")).toEqual([
      ["x", 0],
      ["z", 0.293],
      ["y", 1],
    ]);
  });

  it("DOT_PRODUCT: largest product first", async () => {
    expect(await nearest("DOT_PRODUCT")).toEqual([
      ["z", 3],
      ["x", 1],
      ["y", 0],
    ]);
  });

  it("distanceThreshold keeps distances up to it (DOT_PRODUCT: products from it)", async () => {
    expect((await nearest("EUCLIDEAN", { distanceThreshold: 2.5 })).map(([id]) => id)).toEqual(["x", "y"]);
    expect((await nearest("DOT_PRODUCT", { distanceThreshold: 1 })).map(([id]) => id)).toEqual(["z", "x"]);
  });

  it("applies the filters first, and the limit", async () => {
    const snap = await ctx
      .col("items")
      .where("kind", "==", "a")
      .findNearest({ vectorField: "v", queryVector: [3, 3], limit: 1, distanceMeasure: "EUCLIDEAN" })
      .get();
    expect(snap.docs.map((d) => d.id)).toEqual(["y"]);
    expect(snap.docs[0]?.get("d")).toBeUndefined();
  });
});
