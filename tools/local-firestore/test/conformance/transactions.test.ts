/**
 * Transaction semantics as production Firestore shows them to the server SDKs: read-write
 * transactions lock what they read (pessimistic), read-only transactions read a consistent
 * snapshot without locking, readTime reads see older versions, failed attempts leave no trace.
 */
import { Timestamp } from "firebase-admin/firestore";

import { compareTimestamps, deferred, useFirestore } from "./support";

const ctx = useFirestore("transactions");

describe("read-only transactions", () => {
  it("see one consistent snapshot, and do not block writers", async () => {
    const a = ctx.col("docs").doc("a");
    const b = ctx.col("docs").doc("b");
    await ctx.db.batch().set(a, { v: 1 }).set(b, { v: 1 }).commit();

    const seen = await ctx.db.runTransaction(
      async (tx) => {
        const first = await tx.get(a);
        // A write of both documents between the two reads: it must not wait for this
        // transaction (read-only transactions take no locks) and must not be seen by it.
        await ctx.db.batch().set(a, { v: 2 }).set(b, { v: 2 }).commit();
        const second = await tx.get(b);
        const query = await tx.get(ctx.col("docs").orderBy("v"));
        return {
          a: first.get("v") as number,
          b: second.get("v") as number,
          query: query.docs.map((d) => d.get("v") as number),
        };
      },
      { readOnly: true },
    );
    expect(seen).toEqual({ a: 1, b: 1, query: [1, 1] });
    const [nowA, nowB] = await ctx.db.getAll(a, b);
    expect([nowA?.get("v"), nowB?.get("v")]).toEqual([2, 2]);
  });

  it("with readTime return the versions current at that time", async () => {
    const ref = ctx.col("docs").doc("versioned");
    const first = await ref.set({ v: 1 });
    const second = await ref.update({ v: 2 });
    await ctx.col("docs").doc("later").set({ v: 3 });
    expect(compareTimestamps(second.writeTime, first.writeTime)).toBeGreaterThan(0);

    const atFirst = await ctx.db.runTransaction(
      async (tx) => {
        const snap = await tx.get(ref);
        const all = await tx.get(ctx.col("docs"));
        return {
          v: snap.get("v") as number,
          updateTime: snap.updateTime?.toMillis(),
          ids: all.docs.map((d) => d.id),
        };
      },
      { readOnly: true, readTime: first.writeTime },
    );
    expect(atFirst).toEqual({ v: 1, updateTime: first.writeTime.toMillis(), ids: ["versioned"] });

    const atSecond = await ctx.db.runTransaction(async (tx) => (await tx.get(ref)).get("v") as number, {
      readOnly: true,
      readTime: second.writeTime,
    });
    expect(atSecond).toBe(2);
  });

  it("with a readTime before the document existed find nothing", async () => {
    const before = Timestamp.fromMillis(Date.now() - 2000);
    const ref = ctx.col("docs").doc("new");
    await ref.set({ v: 1 });
    const exists = await ctx.db.runTransaction(async (tx) => (await tx.get(ref)).exists, {
      readOnly: true,
      readTime: before,
    });
    expect(exists).toBe(false);
  });
});

describe("read-write transactions", () => {
  it("block a non-transactional write to a document they read until they commit", async () => {
    const ref = ctx.col("docs").doc("locked");
    await ref.set({ v: "initial", n: 0 });

    const order: string[] = [];
    let outside: Promise<unknown> | undefined;
    await ctx.db.runTransaction(async (tx) => {
      const snap = await tx.get(ref);
      if (outside === undefined) {
        outside = ref.update({ v: "outside" }).then(() => order.push("outside write done"));
      }
      // The document is locked by this transaction: the write above must still be waiting.
      // (A bounded observation window: we assert that something does NOT happen.)
      await new Promise((r) => setTimeout(r, 300));
      order.push("transaction body done");
      tx.update(ref, { n: (snap.get("n") as number) + 1, v: "transaction" });
    });
    order.push("transaction committed");
    await outside;

    // The outside write waited for the transaction's body. Its reply and the commit's reply are then both in
    // flight, so which one the client sees first is not part of the contract (it differs between Node 20 and
    // 22); the stored document shows which write came last.
    expect(order[0]).toBe("transaction body done");
    expect([...order].sort()).toEqual([
      "outside write done",
      "transaction body done",
      "transaction committed",
    ]);
    // Both applied, the outside write last.
    expect((await ref.get()).data()).toEqual({ v: "outside", n: 1 });
  });

  it("that throw in the callback leave no writes and release their locks", async () => {
    const ref = ctx.col("docs").doc("a");
    const other = ctx.col("docs").doc("b");
    await ref.set({ n: 1 });

    const boom = new Error("boom");
    let attempts = 0;
    await expect(
      ctx.db.runTransaction(async (tx) => {
        attempts++;
        const snap = await tx.get(ref);
        tx.update(ref, { n: (snap.get("n") as number) + 1 });
        tx.create(other, { created: true });
        throw boom;
      }),
    ).rejects.toBe(boom);

    expect(attempts).toBe(1);
    expect((await ref.get()).data()).toEqual({ n: 1 });
    expect((await other.get()).exists).toBe(false);
    // The rollback released the lock: a plain write goes through at once.
    const started = Date.now();
    await ref.update({ n: 5 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect((await ref.get()).get("n")).toBe(5);
  });

  it("retried after an abort keep the first attempt's writes invisible", async () => {
    // Two transactions read the same document (shared read locks: both read at once), then both
    // write it. T1 began first, so it is the older one: T2's commit waits for T1's read lock, and
    // T1's commit aborts T2 (wound-wait), which the SDK retries. None of the aborted attempt's
    // writes may become visible.
    const contested = ctx.col("docs").doc("contested");
    const t1Start = ctx.col("docs").doc("t1-start");
    await ctx.db.batch().set(contested, { n: 0, log: [] }).set(t1Start, {}).commit();

    const t1Begun = deferred();
    const t2HasRead = deferred();
    const t1HasRead = deferred();
    const attempts = { t1: 0, t2: 0 };

    const t1 = ctx.db.runTransaction(async (tx) => {
      attempts.t1++;
      await tx.get(t1Start);
      t1Begun.resolve();
      await t2HasRead.promise;
      const snap = await tx.get(contested);
      t1HasRead.resolve();
      tx.update(contested, {
        n: (snap.get("n") as number) + 1,
        log: [...(snap.get("log") as string[]), `t1#${attempts.t1}`],
      });
      tx.set(ctx.col("markers").doc(`t1-attempt-${attempts.t1}`), {});
    });
    await t1Begun.promise;
    const t2 = ctx.db.runTransaction(async (tx) => {
      attempts.t2++;
      const snap = await tx.get(contested);
      t2HasRead.resolve();
      // Both hold a read lock on the document before either writes it.
      await t1HasRead.promise;
      tx.update(contested, {
        n: (snap.get("n") as number) + 1,
        log: [...(snap.get("log") as string[]), `t2#${attempts.t2}`],
      });
      tx.set(ctx.col("markers").doc(`t2-attempt-${attempts.t2}`), {});
    });
    await Promise.all([t1, t2]);

    // Exactly one attempt was aborted and retried, as in production.
    expect(attempts.t1 + attempts.t2).toBe(3);
    const final = await contested.get();
    expect(final.get("n")).toBe(2);
    const log = final.get("log") as string[];
    expect(log).toHaveLength(2);
    expect([...log].sort()).toEqual([`t1#${attempts.t1}`, `t2#${attempts.t2}`].sort());
    const markers = (await ctx.col("markers").get()).docs.map((d) => d.id).sort();
    expect(markers).toEqual([`t1-attempt-${attempts.t1}`, `t2-attempt-${attempts.t2}`].sort());
  });
});
