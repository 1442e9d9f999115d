/**
 * Query filters: every field operator, null / NaN (unary filters), composite AND / OR,
 * nested fields and document-id filters. Results are compared as exact id lists: where a query
 * has an inequality (<, <=, >, >=, !=, not-in) Firestore orders by that field first, so the
 * order is part of what is checked.
 */
import { FieldPath, Filter } from "firebase-admin/firestore";
import type { Query } from "firebase-admin/firestore";

import { ids, useFirestore } from "./support";

const ctx = useFirestore("query-filters");

async function seed(): Promise<void> {
  const docs: Record<string, Record<string, unknown>> = {
    d1: { n: 1, s: "a", tags: ["x", "y"], g: "g1", m: { k: 1 } },
    d2: { n: 2, s: "b", tags: ["y"], g: "g1", m: { k: 2 } },
    d3: { n: 3, s: "c", tags: [], g: "g2" },
    d4: { n: 4, s: "d", tags: ["z"], g: "g2" },
    d5: { n: "4", s: "e", g: "g3" },
    d6: { n: null, s: "f", g: "g3" },
    d7: { n: Number.NaN, s: "g", g: "g3" },
    d8: { s: "h", g: "g3" },
    d9: { n: 2.5, s: "i", tags: ["x"], g: "g1" },
  };
  const batch = ctx.db.batch();
  for (const [id, data] of Object.entries(docs)) batch.set(ctx.col("items").doc(id), data);
  await batch.commit();
}

const run = async (q: Query): Promise<string[]> => ids(await q.get());

describe("query filters", () => {
  beforeEach(seed);

  it("== matches equal values of the same type only", async () => {
    expect(await run(ctx.col("items").where("n", "==", 2))).toEqual(["d2"]);
    expect(await run(ctx.col("items").where("n", "==", "4"))).toEqual(["d5"]);
    expect(await run(ctx.col("items").where("n", "==", 2.5))).toEqual(["d9"]);
  });

  it("!= matches every present, non-null value that differs (any type), ordered by the field", async () => {
    expect(await run(ctx.col("items").where("n", "!=", 2))).toEqual(["d7", "d1", "d9", "d3", "d4", "d5"]);
  });

  it("< <= > >= compare within one type only", async () => {
    // (Lower bounds keep NaN, which sorts before every number, out of the question.)
    expect(await run(ctx.col("items").where("n", ">", 0).where("n", "<", 3))).toEqual(["d1", "d2", "d9"]);
    expect(await run(ctx.col("items").where("n", ">=", 2).where("n", "<=", 3))).toEqual(["d2", "d9", "d3"]);
    expect(await run(ctx.col("items").where("n", ">", 2))).toEqual(["d9", "d3", "d4"]);
    expect(await run(ctx.col("items").where("n", ">=", 4))).toEqual(["d4"]);
    expect(await run(ctx.col("items").where("n", ">=", ""))).toEqual(["d5"]);
    expect(await run(ctx.col("items").where("s", ">", "c").where("s", "<=", "e"))).toEqual(["d4", "d5"]);
  });

  it("in matches any listed value", async () => {
    expect(await run(ctx.col("items").where("n", "in", [1, 3, "4", 99]))).toEqual(["d1", "d3", "d5"]);
  });

  it("not-in excludes listed values, null and missing fields, ordered by the field", async () => {
    expect(await run(ctx.col("items").where("n", "not-in", [1, 3]))).toEqual(["d7", "d2", "d9", "d4", "d5"]);
  });

  it("array-contains and array-contains-any", async () => {
    expect(await run(ctx.col("items").where("tags", "array-contains", "y"))).toEqual(["d1", "d2"]);
    expect(await run(ctx.col("items").where("tags", "array-contains-any", ["x", "z"]))).toEqual([
      "d1",
      "d4",
      "d9",
    ]);
  });

  it("== null and == NaN (sent as IS_NULL / IS_NAN) match only null and NaN", async () => {
    expect(await run(ctx.col("items").where("n", "==", null))).toEqual(["d6"]);
    expect(await run(ctx.col("items").where("n", "==", Number.NaN))).toEqual(["d7"]);
  });

  it("!= null and != NaN (IS_NOT_NULL / IS_NOT_NAN) skip missing fields; != NaN also skips null", async () => {
    expect((await run(ctx.col("items").where("n", "!=", null))).sort()).toEqual(
      ["d1", "d2", "d3", "d4", "d5", "d7", "d9"].sort(),
    );
    expect((await run(ctx.col("items").where("n", "!=", Number.NaN))).sort()).toEqual(
      ["d1", "d2", "d3", "d4", "d5", "d9"].sort(),
    );
  });

  it("filters on nested fields", async () => {
    expect(await run(ctx.col("items").where("m.k", ">=", 2))).toEqual(["d2"]);
    expect(await run(ctx.col("items").where(new FieldPath("m", "k"), "==", 1))).toEqual(["d1"]);
  });

  it("filters on the document id", async () => {
    const col = ctx.col("items");
    expect(await run(col.where(FieldPath.documentId(), "==", col.doc("d3")))).toEqual(["d3"]);
    expect(await run(col.where(FieldPath.documentId(), "in", ["d4", "d2", "nope"]))).toEqual(["d2", "d4"]);
    expect(await run(col.where(FieldPath.documentId(), ">", "d7"))).toEqual(["d8", "d9"]);
  });

  it("several where() clauses are ANDed", async () => {
    expect(await run(ctx.col("items").where("g", "==", "g1").where("n", ">", 1))).toEqual(["d2", "d9"]);
  });

  it("Filter.or matches either branch, Filter.and nests inside it", async () => {
    const col = ctx.col("items");
    expect(await run(col.where(Filter.or(Filter.where("n", "==", 1), Filter.where("s", "==", "d"))))).toEqual(
      ["d1", "d4"],
    );
    expect(
      await run(
        col.where(
          Filter.or(
            Filter.and(Filter.where("g", "==", "g1"), Filter.where("tags", "array-contains", "x")),
            Filter.where("n", "==", null),
          ),
        ),
      ),
    ).toEqual(["d1", "d6", "d9"]);
  });

  it("Filter.and of an OR and an equality", async () => {
    const q = ctx
      .col("items")
      .where(
        Filter.and(
          Filter.where("g", "in", ["g1", "g2"]),
          Filter.or(Filter.where("s", "==", "a"), Filter.where("s", "==", "d"), Filter.where("s", "==", "h")),
        ),
      );
    expect(await run(q)).toEqual(["d1", "d4"]);
  });

  it("a filter on a field no document has matches nothing", async () => {
    expect(await run(ctx.col("items").where("absent", "==", 1))).toEqual([]);
  });
});
