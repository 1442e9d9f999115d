/**
 * Transactions under contention. Production Firestore (Standard edition, server SDKs) takes a
 * shared lock on every document a read-write transaction reads and an exclusive lock on what it
 * commits; conflicting transactions wait, or are aborted (wound-wait) and retried by the SDK. The
 * outcome must be serializable, no lock cycle may hang, and no scenario may need the lock-wait
 * timeout. All transactions here use the SDK's default of 5 attempts.
 */
import { FieldValue } from "firebase-admin/firestore";

import { LOCAL, deferred, useFirestore } from "./support";

const ctx = useFirestore("contention");

afterEach(() => {
  // Conflicts are settled by wound-wait, never by the lock-wait timeout (locally counted).
  if (LOCAL) expect(ctx.stats().lockWaitTimeouts).toBe(0);
});

/** Transfer i moves one unit from account `from` to account `to` (pairs in both directions). */
function transferPair(i: number): [number, number] {
  const from = i % 5;
  const to = (from + 1 + (i % 4)) % 5;
  return [from, to];
}

describe("transactions under contention", () => {
  it("50 concurrent runTransaction increments of one field end at exactly 50", async () => {
    const ref = ctx.col("counters").doc("c");
    await ref.set({ n: 0 });
    // The value each transaction read in its committing (= last) attempt.
    const readInLastAttempt: number[] = [];
    const started = Date.now();
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        ctx.db.runTransaction(async (tx) => {
          const n = (await tx.get(ref)).get("n") as number;
          readInLastAttempt[i] = n;
          tx.update(ref, { n: n + 1 });
        }),
      ),
    );
    expect((await ref.get()).get("n")).toBe(50);
    // Serializable: the committed transactions read 0, 1, ..., 49, each exactly once.
    expect([...readInLastAttempt].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(Date.now() - started).toBeLessThan(25_000);
  });

  it("20 concurrent transfers between 5 accounts keep the total constant and all finish", async () => {
    const accounts = Array.from({ length: 5 }, (_, i) => ctx.col("accounts").doc(`a${i}`));
    const batch = ctx.db.batch();
    for (const a of accounts) batch.set(a, { balance: 100 });
    await batch.commit();

    const started = Date.now();
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, async (_, i) => {
        const [f, t] = transferPair(i);
        const from = accounts[f];
        const to = accounts[t];
        if (!from || !to) throw new Error("bad account index");
        await ctx.db.runTransaction(async (tx) => {
          // Two reads in flight at once: the lock order differs between transactions, so lock
          // cycles do occur; they must be broken (by an abort and a retry), never hang.
          const [a, b] = await Promise.all([tx.get(from), tx.get(to)]);
          tx.update(from, { balance: (a.get("balance") as number) - 1 });
          tx.update(to, { balance: (b.get("balance") as number) + 1 });
        });
      }),
    );
    expect(results.filter((r) => r.status === "rejected")).toEqual([]);
    expect(Date.now() - started).toBeLessThan(25_000);

    const balances = (await ctx.db.getAll(...accounts)).map((s) => s.get("balance") as number);
    expect(balances.reduce((x, y) => x + y, 0)).toBe(500);
    const expected = [100, 100, 100, 100, 100];
    for (let i = 0; i < 20; i++) {
      const [f, t] = transferPair(i);
      expected[f] = (expected[f] ?? 0) - 1;
      expected[t] = (expected[t] ?? 0) + 1;
    }
    expect(balances).toEqual(expected);
  });

  it("two transactions locking two documents in opposite order both commit (no deadlock)", async () => {
    const x = ctx.col("pair").doc("x");
    const y = ctx.col("pair").doc("y");
    await ctx.db.batch().set(x, { n: 0 }).set(y, { n: 0 }).commit();

    const t1HasX = deferred();
    const t2HasY = deferred();
    const started = Date.now();
    const t1 = ctx.db.runTransaction(async (tx) => {
      const a = await tx.get(x);
      t1HasX.resolve();
      await t2HasY.promise;
      const b = await tx.get(y);
      tx.update(x, { n: (a.get("n") as number) + 1 });
      tx.update(y, { n: (b.get("n") as number) + 1 });
    });
    await t1HasX.promise;
    const t2 = ctx.db.runTransaction(async (tx) => {
      const b = await tx.get(y);
      t2HasY.resolve();
      const a = await tx.get(x);
      tx.update(x, { n: (a.get("n") as number) + 10 });
      tx.update(y, { n: (b.get("n") as number) + 10 });
    });
    await Promise.all([t1, t2]);
    expect(Date.now() - started).toBeLessThan(10_000);
    const [sx, sy] = await ctx.db.getAll(x, y);
    expect([sx?.get("n"), sy?.get("n")]).toEqual([11, 11]);
  });

  it("30 concurrent FieldValue.increment updates (no transaction) are all applied", async () => {
    const ref = ctx.col("counters").doc("inc");
    await ref.set({ n: 0 });
    await Promise.all(Array.from({ length: 30 }, () => ref.update({ n: FieldValue.increment(1) })));
    expect((await ref.get()).get("n")).toBe(30);
  });

  it("a non-transactional write waits for the transactions holding its document", async () => {
    const ref = ctx.col("counters").doc("mixed");
    await ref.set({ n: 0, plain: 0 });
    await Promise.all([
      ...Array.from({ length: 10 }, () =>
        ctx.db.runTransaction(async (tx) => {
          const n = (await tx.get(ref)).get("n") as number;
          tx.update(ref, { n: n + 1 });
        }),
      ),
      ...Array.from({ length: 10 }, () => ref.update({ plain: FieldValue.increment(1) })),
    ]);
    expect((await ref.get()).data()).toEqual({ n: 10, plain: 10 });
  });
});
