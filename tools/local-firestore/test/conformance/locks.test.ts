/**
 * Lock modes of read-write transactions, as production Firestore (pessimistic concurrency, server
 * SDKs) applies them: a transactional read takes a shared lock, so other transactions still read
 * the document; a commit needs the exclusive lock on what it writes, and wound-wait decides who
 * waits and who is aborted (and retried by the SDK). The attempt counts asserted here are the ones
 * production gives; none of these scenarios may wait for a lock-wait timeout.
 */
import { LOCAL, deferred, useFirestore } from "./support";

const ctx = useFirestore("locks");

afterEach(() => {
  // Every wait here ends by a commit, a rollback or an abort, never by the lock-wait timeout.
  if (LOCAL) expect(ctx.stats().lockWaitTimeouts).toBe(0);
});

describe("read-write transactions: shared read locks", () => {
  it("two transactions reading the same document both read without waiting", async () => {
    const ref = ctx.col("docs").doc("shared");
    await ref.set({ n: 1 });
    const firstHasRead = deferred();
    const secondHasRead = deferred();
    const attempts = { first: 0, second: 0 };
    const started = Date.now();
    const first = ctx.db.runTransaction(async (tx) => {
      attempts.first++;
      const snap = await tx.get(ref);
      firstHasRead.resolve();
      // Still open (holding its read lock) until the second transaction has read the document too.
      await secondHasRead.promise;
      return snap.get("n") as number;
    });
    await firstHasRead.promise;
    const second = ctx.db.runTransaction(async (tx) => {
      attempts.second++;
      const n = (await tx.get(ref)).get("n") as number;
      secondHasRead.resolve();
      return n;
    });
    expect(await Promise.all([first, second])).toEqual([1, 1]);
    expect(attempts).toEqual({ first: 1, second: 1 });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("when both then write the document, one commits and the other is retried once", async () => {
    const ref = ctx.col("docs").doc("both-write");
    await ref.set({ n: 0 });
    const bothRead = { a: deferred(), b: deferred() };
    const attempts = { a: 0, b: 0 };
    const started = Date.now();
    const run = (me: "a" | "b", other: "a" | "b"): Promise<void> =>
      ctx.db.runTransaction(async (tx) => {
        attempts[me]++;
        const n = (await tx.get(ref)).get("n") as number;
        bothRead[me].resolve();
        await bothRead[other].promise;
        tx.update(ref, { n: n + 1 });
      });
    await Promise.all([run("a", "b"), run("b", "a")]);
    expect((await ref.get()).get("n")).toBe(2);
    expect(attempts.a + attempts.b).toBe(3);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("a younger writer waits for an older reader to end, then commits without a retry", async () => {
    const ref = ctx.col("docs").doc("upgrade");
    const start = ctx.col("docs").doc("reader-start");
    await ctx.db.batch().set(ref, { n: 0 }).set(start, {}).commit();
    const readerBegun = deferred();
    const readerHasRead = deferred();
    const writerCommitting = deferred();
    const order: string[] = [];
    const attempts = { reader: 0, writer: 0 };
    const reader = ctx.db.runTransaction(async (tx) => {
      attempts.reader++;
      await tx.get(start); // begins the transaction: the reader is the older one
      readerBegun.resolve();
      await tx.get(ref);
      readerHasRead.resolve();
      await writerCommitting.promise;
      // Give the writer's commit time to arrive; it must not complete while this read lock is held.
      await new Promise((r) => setTimeout(r, 200));
      order.push("reader done");
    });
    await readerBegun.promise;
    const writer = ctx.db.runTransaction(async (tx) => {
      attempts.writer++;
      const n = (await tx.get(ref)).get("n") as number;
      await readerHasRead.promise;
      tx.update(ref, { n: n + 1 });
      writerCommitting.resolve();
    });
    await Promise.all([reader, writer.then(() => order.push("writer committed"))]);
    expect(order).toEqual(["reader done", "writer committed"]);
    expect(attempts).toEqual({ reader: 1, writer: 1 });
    expect((await ref.get()).get("n")).toBe(1);
  });

  it("an older writer aborts a younger transaction holding a read lock; the younger is retried once", async () => {
    const ref = ctx.col("docs").doc("wound");
    const start = ctx.col("docs").doc("writer-start");
    await ctx.db.batch().set(ref, { n: 0 }).set(start, {}).commit();
    const writerBegun = deferred();
    const youngerHasRead = deferred();
    const attempts = { writer: 0, younger: 0 };
    const writer = ctx.db.runTransaction(async (tx) => {
      attempts.writer++;
      await tx.get(start);
      writerBegun.resolve();
      await youngerHasRead.promise;
      const n = (await tx.get(ref)).get("n") as number;
      tx.update(ref, { n: n + 10 });
    });
    await writerBegun.promise;
    const younger = ctx.db.runTransaction(async (tx) => {
      attempts.younger++;
      const n = (await tx.get(ref)).get("n") as number;
      youngerHasRead.resolve();
      // Stay open until the older writer has committed (on the first attempt).
      if (attempts.younger === 1) await writer;
      tx.update(ref, { n: n + 1 });
    });
    await Promise.all([writer, younger]);
    expect(attempts).toEqual({ writer: 1, younger: 2 });
    expect((await ref.get()).get("n")).toBe(11);
  });
});
