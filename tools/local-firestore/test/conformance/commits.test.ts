/**
 * Commits: atomicity, document timestamps and preconditions (exists, updateTime).
 */
import { FieldValue, Timestamp } from "firebase-admin/firestore";

import { codeOf, compareTimestamps, useFirestore } from "./support";

const ctx = useFirestore("commits");

const NOT_FOUND = 5;
const ALREADY_EXISTS = 6;
const FAILED_PRECONDITION = 9;

describe("atomic commits", () => {
  it("a batch with one failing precondition applies none of its writes", async () => {
    const existing = ctx.col("docs").doc("existing");
    await existing.set({ n: 1 });
    const fresh = ctx.col("docs").doc("fresh");
    const missing = ctx.col("docs").doc("missing");

    const code = await codeOf(
      ctx.db
        .batch()
        .set(fresh, { created: true })
        .update(existing, { n: FieldValue.increment(1) })
        .update(missing, { n: 1 })
        .commit(),
    );
    expect(code).toBe(NOT_FOUND);
    expect((await fresh.get()).exists).toBe(false);
    expect((await existing.get()).data()).toEqual({ n: 1 });
    expect((await missing.get()).exists).toBe(false);
  });

  ctx.exactCodeIt("a batch with a create() of an existing document applies nothing", async () => {
    const existing = ctx.col("docs").doc("existing");
    await existing.set({ n: 1 });
    const other = ctx.col("docs").doc("other");
    const code = await codeOf(ctx.db.batch().set(other, { x: 1 }).create(existing, { n: 2 }).commit());
    expect(code).toBe(ALREADY_EXISTS);
    expect((await other.get()).exists).toBe(false);
    expect((await existing.get()).data()).toEqual({ n: 1 });
  });

  it("all writes of a batch share one commit time", async () => {
    const refs = ["a", "b", "c"].map((id) => ctx.col("docs").doc(id));
    const batch = ctx.db.batch();
    for (const r of refs) batch.set(r, { id: r.id });
    const results = await batch.commit();
    expect(results).toHaveLength(3);
    const times = results.map((r) => r.writeTime.toMillis());
    expect(new Set(times).size).toBe(1);
    const snaps = await ctx.db.getAll(...refs);
    for (const s of snaps) expect(s.updateTime?.isEqual(results[0]?.writeTime ?? Timestamp.now())).toBe(true);
  });
});

describe("document timestamps", () => {
  it("createTime stays on update, updateTime advances and equals the write's writeTime", async () => {
    const ref = ctx.col("docs").doc("t");
    const created = await ref.set({ n: 1 });
    const s1 = await ref.get();
    expect(s1.createTime?.isEqual(created.writeTime)).toBe(true);
    expect(s1.updateTime?.isEqual(created.writeTime)).toBe(true);
    expect(s1.readTime.toMillis()).toBeGreaterThanOrEqual(created.writeTime.toMillis());

    const updated = await ref.update({ n: 2 });
    const s2 = await ref.get();
    expect(s2.createTime?.isEqual(created.writeTime)).toBe(true);
    expect(s2.updateTime?.isEqual(updated.writeTime)).toBe(true);
    expect(compareTimestamps(updated.writeTime, created.writeTime)).toBeGreaterThan(0);

    // A set() that replaces the whole document is still an update of the same document.
    const replaced = await ref.set({ other: true });
    const s3 = await ref.get();
    expect(s3.createTime?.isEqual(created.writeTime)).toBe(true);
    expect(s3.updateTime?.isEqual(replaced.writeTime)).toBe(true);
    expect(s3.data()).toEqual({ other: true });
  });

  it("a document deleted and created again gets a new createTime", async () => {
    const ref = ctx.col("docs").doc("reborn");
    const first = await ref.set({ n: 1 });
    await ref.delete();
    expect((await ref.get()).exists).toBe(false);
    const second = await ref.set({ n: 2 });
    const snap = await ref.get();
    expect(snap.createTime?.isEqual(second.writeTime)).toBe(true);
    expect(compareTimestamps(second.writeTime, first.writeTime)).toBeGreaterThan(0);
  });
});

describe("preconditions", () => {
  it("update with lastUpdateTime succeeds when it matches", async () => {
    const ref = ctx.col("docs").doc("p");
    const w = await ref.set({ n: 1 });
    await ref.update({ n: 2 }, { lastUpdateTime: w.writeTime });
    expect((await ref.get()).get("n")).toBe(2);
  });

  ctx.exactCodeIt(
    "update with a stale lastUpdateTime fails with FAILED_PRECONDITION and changes nothing",
    async () => {
      const ref = ctx.col("docs").doc("p");
      const w1 = await ref.set({ n: 1 });
      await ref.update({ n: 2 });
      expect(await codeOf(ref.update({ n: 3 }, { lastUpdateTime: w1.writeTime }))).toBe(FAILED_PRECONDITION);
      expect((await ref.get()).get("n")).toBe(2);
    },
  );

  ctx.exactCodeIt("delete with lastUpdateTime is checked the same way", async () => {
    const ref = ctx.col("docs").doc("p");
    const w1 = await ref.set({ n: 1 });
    const w2 = await ref.update({ n: 2 });
    expect(await codeOf(ref.delete({ lastUpdateTime: w1.writeTime }))).toBe(FAILED_PRECONDITION);
    expect((await ref.get()).exists).toBe(true);
    await ref.delete({ lastUpdateTime: w2.writeTime });
    expect((await ref.get()).exists).toBe(false);
  });

  ctx.exactCodeIt("create() of an existing document fails with ALREADY_EXISTS", async () => {
    const ref = ctx.col("docs").doc("c");
    await ref.create({ n: 1 });
    expect(await codeOf(ref.create({ n: 2 }))).toBe(ALREADY_EXISTS);
    expect((await ref.get()).data()).toEqual({ n: 1 });
  });

  it("update() of a missing document fails with NOT_FOUND and creates nothing", async () => {
    const ref = ctx.col("docs").doc("missing");
    expect(await codeOf(ref.update({ n: 1 }))).toBe(NOT_FOUND);
    expect((await ref.get()).exists).toBe(false);
  });

  it("delete({exists: true}) of a missing document fails with NOT_FOUND; plain delete succeeds", async () => {
    const ref = ctx.col("docs").doc("missing");
    expect(await codeOf(ref.delete({ exists: true }))).toBe(NOT_FOUND);
    await ref.delete();
    expect((await ref.get()).exists).toBe(false);
  });
});
