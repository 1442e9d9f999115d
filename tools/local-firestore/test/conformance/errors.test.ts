/**
 * Invalid requests that firebase-admin passes to the server get Firestore's status code, and
 * the server keeps serving afterwards. (Requests the SDK rejects on its own, such as too many
 * cursor values, never reach a server and are not tested here.)
 */
import { FieldValue, Filter } from "firebase-admin/firestore";

import { LOCAL, codeOf, useFirestore } from "./support";

const ctx = useFirestore("errors");

const INVALID_ARGUMENT = 3;
const ALREADY_EXISTS = 6;

/** After every error: the server still answers reads and writes correctly. */
async function expectStillServing(): Promise<void> {
  const ref = ctx.col("health").doc("probe");
  await ref.set({ n: 1 });
  await ref.update({ n: FieldValue.increment(1) });
  expect((await ref.get()).get("n")).toBe(2);
  expect((await ctx.col("health").get()).size).toBe(1);
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe("invalid queries get INVALID_ARGUMENT promptly", () => {
  beforeEach(async () => {
    await ctx
      .col("items")
      .doc("a")
      .set({ n: 1, tags: [1] });
  });

  it("'in' with more than 30 values", async () => {
    const before = LOCAL ? (ctx.stats().rpcs.RunQuery ?? 0) : 0;
    expect(await codeOf(ctx.col("items").where("n", "in", range(31)).get())).toBe(INVALID_ARGUMENT);
    // Reported at once: the client did not re-send the query (it would if the error came late).
    if (LOCAL) expect(ctx.stats().rpcs.RunQuery).toBe(before + 1);
    // 30 is allowed.
    expect((await ctx.col("items").where("n", "in", range(30)).get()).size).toBe(1);
    await expectStillServing();
  });

  it("'array-contains-any' with more than 30 values", async () => {
    expect(await codeOf(ctx.col("items").where("tags", "array-contains-any", range(31)).get())).toBe(
      INVALID_ARGUMENT,
    );
    await expectStillServing();
  });

  it("'not-in' with more than 10 values", async () => {
    expect(await codeOf(ctx.col("items").where("n", "not-in", range(11)).get())).toBe(INVALID_ARGUMENT);
    expect(
      (
        await ctx
          .col("items")
          .where(
            "n",
            "not-in",
            range(10).map((i) => i + 5),
          )
          .get()
      ).size,
    ).toBe(1);
    await expectStillServing();
  });

  it("more than 30 disjunctions in disjunctive normal form", async () => {
    const or31 = Filter.or(...range(31).map((i) => Filter.where("n", "==", i)));
    expect(await codeOf(ctx.col("items").where(or31).get())).toBe(INVALID_ARGUMENT);
    // Two IN filters multiply: 6 x 6 = 36 disjunctions.
    const product = ctx.col("items").where("n", "in", range(6)).where("m", "in", range(6));
    expect(await codeOf(product.get())).toBe(INVALID_ARGUMENT);
    await expectStillServing();
  });

  it("two array-contains filters in one query", async () => {
    const q = ctx.col("items").where("tags", "array-contains", 1).where("other", "array-contains", 2);
    expect(await codeOf(q.get())).toBe(INVALID_ARGUMENT);
    await expectStillServing();
  });

  it("an invalid aggregation query (same limits)", async () => {
    expect(await codeOf(ctx.col("items").where("n", "in", range(31)).count().get())).toBe(INVALID_ARGUMENT);
    await expectStillServing();
  });
});

describe("invalid writes get INVALID_ARGUMENT and change nothing", () => {
  it("a document id of the reserved form __id__", async () => {
    expect(await codeOf(ctx.col("items").doc("__reserved__").set({ n: 1 }))).toBe(INVALID_ARGUMENT);
    expect((await ctx.col("items").get()).size).toBe(0);
    await expectStillServing();
  });

  it("a field name of the reserved form __name__", async () => {
    const ref = ctx.col("items").doc("a");
    expect(await codeOf(ref.set({ __reserved__: 1 }))).toBe(INVALID_ARGUMENT);
    expect((await ref.get()).exists).toBe(false);
    await expectStillServing();
  });

  it("a document larger than 1 MiB", async () => {
    const ref = ctx.col("items").doc("big");
    expect(await codeOf(ref.set({ blob: "x".repeat(1_100_000) }))).toBe(INVALID_ARGUMENT);
    expect((await ref.get()).exists).toBe(false);
    await expectStillServing();
  });
});

describe("failing transactions", () => {
  ctx.exactCodeIt(
    "a commit that fails a precondition reports it, applies nothing and releases its locks",
    async () => {
      const taken = ctx.col("items").doc("taken");
      const counter = ctx.col("items").doc("counter");
      await ctx.db.batch().set(taken, { owner: "someone" }).set(counter, { n: 0 }).commit();

      let attempts = 0;
      const code = await codeOf(
        ctx.db.runTransaction(async (tx) => {
          attempts++;
          const snap = await tx.get(counter);
          tx.update(counter, { n: (snap.get("n") as number) + 1 });
          tx.create(taken, { owner: "me" });
        }),
      );
      expect(code).toBe(ALREADY_EXISTS);
      // ALREADY_EXISTS is not retried by the SDK.
      expect(attempts).toBe(1);
      expect((await counter.get()).get("n")).toBe(0);
      expect((await taken.get()).get("owner")).toBe("someone");
      // The lock on `counter` is gone: a plain write is not held up (a held lock would make it
      // wait for the 30 s lock timeout or the 60 s idle expiry, far past this test's timeout).
      await counter.update({ n: 7 });
      expect((await counter.get()).get("n")).toBe(7);
      await expectStillServing();
    },
  );
});
