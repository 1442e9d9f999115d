/**
 * Operation counters (local server only): reads and writes per operation, billed the way
 * Firestore bills them (a query that returns nothing still costs one read; an aggregation costs
 * one read per batch of up to 1000 index entries), plus RPC and transaction counts.
 */
import { AggregateField, FieldValue } from "firebase-admin/firestore";

import type { Stats } from "../../src";
import { deferred, httpRequest, useFirestore } from "./support";

const ctx = useFirestore("stats");

/** Counts used by an operation: the difference of the counters around it. */
async function cost(op: () => Promise<unknown>): Promise<{ reads: number; writes: number; deletes: number }> {
  const before = ctx.stats();
  await op();
  const after = ctx.stats();
  return {
    reads: after.reads - before.reads,
    writes: after.writes - before.writes,
    deletes: after.deletes - before.deletes,
  };
}

async function seed(): Promise<void> {
  const batch = ctx.db.batch();
  for (const id of ["a", "b", "c"]) batch.set(ctx.col("items").doc(id), { n: id.charCodeAt(0) });
  await batch.commit();
}

describe("operation counters", () => {
  it("control (runs everywhere): the operations counted below return the expected data", async () => {
    await seed();
    expect((await ctx.col("items").doc("a").get()).get("n")).toBe(97);
    expect((await ctx.col("items").where("n", ">", 1000).get()).empty).toBe(true);
    expect((await ctx.col("items").get()).size).toBe(3);
    expect((await ctx.col("items").count().get()).data().count).toBe(3);
  });

  ctx.localIt("a get is 1 read (also of a missing document); getAll of 2 is 2 reads", async () => {
    await seed();
    expect(await cost(() => ctx.col("items").doc("a").get())).toEqual({ reads: 1, writes: 0, deletes: 0 });
    expect(await cost(() => ctx.col("items").doc("missing").get())).toEqual({
      reads: 1,
      writes: 0,
      deletes: 0,
    });
    expect(await cost(() => ctx.db.getAll(ctx.col("items").doc("a"), ctx.col("items").doc("b")))).toEqual({
      reads: 2,
      writes: 0,
      deletes: 0,
    });
  });

  ctx.localIt("a query is 1 read per document returned, and 1 read when it returns none", async () => {
    await seed();
    expect(await cost(() => ctx.col("items").get())).toEqual({ reads: 3, writes: 0, deletes: 0 });
    expect(await cost(() => ctx.col("items").limit(2).get())).toEqual({ reads: 2, writes: 0, deletes: 0 });
    expect(await cost(() => ctx.col("items").where("n", ">", 1000).get())).toEqual({
      reads: 1,
      writes: 0,
      deletes: 0,
    });
    expect(await cost(() => ctx.col("empty").get())).toEqual({ reads: 1, writes: 0, deletes: 0 });
  });

  ctx.localIt("an aggregation over few documents is 1 read", async () => {
    await seed();
    expect(
      await cost(() =>
        ctx
          .col("items")
          .aggregate({ n: AggregateField.count(), s: AggregateField.sum("n") })
          .get(),
      ),
    ).toEqual({ reads: 1, writes: 0, deletes: 0 });
  });

  ctx.localIt("a set, an update with transforms and a delete are 1 write / 1 delete each", async () => {
    const ref = ctx.col("items").doc("w");
    expect(await cost(() => ref.set({ n: 1 }))).toEqual({ reads: 0, writes: 1, deletes: 0 });
    expect(
      await cost(() => ref.update({ n: FieldValue.increment(1), at: FieldValue.serverTimestamp() })),
    ).toEqual({ reads: 0, writes: 1, deletes: 0 });
    expect(await cost(() => ref.delete())).toEqual({ reads: 0, writes: 0, deletes: 1 });
  });

  ctx.localIt("a batch of 3 sets is 3 writes in 1 Commit", async () => {
    const before = ctx.stats();
    expect(await cost(seed)).toEqual({ reads: 0, writes: 3, deletes: 0 });
    expect((ctx.stats().rpcs.Commit ?? 0) - (before.rpcs.Commit ?? 0)).toBe(1);
  });

  ctx.localIt("a read-modify-write transaction is 1 read, 1 write, 1 transaction", async () => {
    await seed();
    const ref = ctx.col("items").doc("a");
    ctx.server.resetStats();
    await ctx.db.runTransaction(async (tx) => {
      const snap = await tx.get(ref);
      tx.update(ref, { n: (snap.get("n") as number) + 1 });
    });
    const s = ctx.stats();
    expect({ reads: s.reads, writes: s.writes, deletes: s.deletes }).toEqual({
      reads: 1,
      writes: 1,
      deletes: 0,
    });
    expect({
      begun: s.transactionsBegun,
      committed: s.transactionsCommitted,
      aborted: s.transactionsAborted,
      active: s.activeTransactions,
    }).toEqual({ begun: 1, committed: 1, aborted: 0, active: 0 });
    expect(s.rpcs).toEqual({ BatchGetDocuments: 1, Commit: 1 });
  });

  ctx.localIt("a transaction aborted by a conflict is counted in transactionsAborted", async () => {
    // T1 (older) needs a document T2 (younger) has locked: T2 is aborted and retried.
    const contested = ctx.col("items").doc("contested");
    const first = ctx.col("items").doc("first");
    await ctx.db.batch().set(contested, { n: 0 }).set(first, {}).commit();
    ctx.server.resetStats();

    const t1Begun = deferred();
    const t2HasLock = deferred();
    let t2Attempts = 0;
    const t1 = ctx.db.runTransaction(async (tx) => {
      await tx.get(first);
      t1Begun.resolve();
      await t2HasLock.promise;
      const snap = await tx.get(contested);
      tx.update(contested, { n: (snap.get("n") as number) + 1 });
    });
    await t1Begun.promise;
    const t2 = ctx.db.runTransaction(async (tx) => {
      t2Attempts++;
      const snap = await tx.get(contested);
      t2HasLock.resolve();
      await t1;
      tx.update(contested, { n: (snap.get("n") as number) + 1 });
    });
    await Promise.all([t1, t2]);
    expect(t2Attempts).toBe(2);
    expect((await contested.get()).get("n")).toBe(2);
    const s = ctx.stats();
    expect({
      begun: s.transactionsBegun,
      committed: s.transactionsCommitted,
      aborted: s.transactionsAborted,
    }).toEqual({ begun: 3, committed: 2, aborted: 1 });
  });

  ctx.localIt("resetStats zeroes the counters; GET /emulator/v1/stats reports the same numbers", async () => {
    await seed();
    await ctx.col("items").get();
    ctx.server.resetStats();
    expect(ctx.stats()).toMatchObject({ reads: 0, writes: 0, deletes: 0, rpcs: {} });
    await ctx.col("items").doc("a").get();
    const res = await httpRequest(ctx.host, "GET", "/emulator/v1/stats");
    expect(res.status).toBe(200);
    const overHttp = JSON.parse(res.body) as Stats;
    expect(overHttp).toEqual(JSON.parse(JSON.stringify(ctx.stats())));
    expect(overHttp).toMatchObject({ reads: 1, writes: 0, documents: 3, rpcs: { BatchGetDocuments: 1 } });
  });

  ctx.localIt("GET /emulator/v1/process reports the server process's pid, CPU time and memory", async () => {
    const first = JSON.parse((await httpRequest(ctx.host, "GET", "/emulator/v1/process")).body) as {
      pid: number;
      cpuMicros: { user: number; system: number };
      rssBytes: number;
    };
    expect(first.pid).toBe(process.pid); // the suite starts the server in the test process
    expect(first.cpuMicros.user).toBeGreaterThan(0);
    expect(first.rssBytes).toBeGreaterThan(0);
    await seed();
    const second = JSON.parse((await httpRequest(ctx.host, "GET", "/emulator/v1/process")).body) as {
      cpuMicros: { user: number; system: number };
    };
    expect(second.cpuMicros.user + second.cpuMicros.system).toBeGreaterThanOrEqual(
      first.cpuMicros.user + first.cpuMicros.system,
    );
  });
});
