/**
 * Query Explain: `explain()` answers the plan (the indexes used) without running the query, and
 * with `analyze` the results plus execution statistics; `explainStream()` ends.
 */
import { useFirestore } from "./support";

const ctx = useFirestore("explain");

describe("Query Explain", () => {
  beforeEach(async () => {
    const batch = ctx.db.batch();
    for (const [id, n] of [
      ["a", 1],
      ["b", 2],
      ["c", 3],
    ] as const)
      batch.set(ctx.col("items").doc(id), { n, kind: "k" });
    await batch.commit();
  });

  it("without analyze returns the plan summary and no results", async () => {
    const q = ctx.col("items").where("n", ">", 1);
    const { metrics, snapshot } = await q.explain({ analyze: false });
    expect(snapshot).toBeNull();
    expect(metrics.executionStats).toBeNull();
    expect(metrics.planSummary.indexesUsed.length).toBeGreaterThan(0);
    expect(JSON.stringify(metrics.planSummary.indexesUsed)).toContain("n ASC");
  });

  it("with analyze returns the results and the execution statistics", async () => {
    const q = ctx.col("items").where("n", ">", 1);
    const { metrics, snapshot } = await q.explain({ analyze: true });
    expect(snapshot?.docs.map((d) => d.id)).toEqual(["b", "c"]);
    expect(metrics.executionStats?.resultsReturned).toBe(2);
    expect(metrics.executionStats?.readOperations).toBeGreaterThanOrEqual(2);
    expect(metrics.planSummary.indexesUsed.length).toBeGreaterThan(0);
  });

  it("works for aggregations", async () => {
    const { metrics, snapshot } = await ctx.col("items").count().explain({ analyze: true });
    expect(snapshot?.data().count).toBe(3);
    expect(metrics.executionStats?.resultsReturned).toBe(1);
    const planOnly = await ctx.col("items").count().explain();
    expect(planOnly.snapshot).toBeNull();
  });

  it("explainStream() streams the documents and ends with the metrics", async () => {
    const stream = ctx.col("items").orderBy("n", "desc").explainStream({ analyze: true });
    const ids: string[] = [];
    let sawMetrics = false;
    for await (const chunk of stream as AsyncIterable<{ document?: { id: string }; metrics?: unknown }>) {
      if (chunk.document) ids.push(chunk.document.id);
      if (chunk.metrics) sawMetrics = true;
    }
    expect(ids).toEqual(["c", "b", "a"]);
    expect(sawMetrics).toBe(true);
  });
});
