/**
 * Field transforms, merges and field paths, read back through firebase-admin.
 *
 * Not here (covered by the unit tests in test/writes.test.ts, because firebase-admin cannot
 * express them): int64 overflow saturation of increment (the SDK sends JavaScript numbers as
 * doubles unless they are safe integers, so it cannot reach the int64 limits), and
 * FieldValue.maximum / minimum (not exposed by firebase-admin 13 / @google-cloud/firestore 7), and
 * whether a result is stored as integerValue or doubleValue (firebase-admin reads both as a
 * JavaScript number).
 */
import { FieldPath, FieldValue, Timestamp } from "firebase-admin/firestore";

import { compareTimestamps, useFirestore } from "./support";

const ctx = useFirestore("transforms");

describe("increment", () => {
  it("adds to integers", async () => {
    const ref = ctx.col("docs").doc("i");
    await ref.set({ n: 5 });
    await ref.update({ n: FieldValue.increment(3) });
    await ref.update({ n: FieldValue.increment(-10) });
    const snap = await ref.get();
    expect(snap.get("n")).toBe(-2);
  });

  it("adds doubles", async () => {
    const ref = ctx.col("docs").doc("d");
    await ref.set({ x: 0.5 });
    await ref.update({ x: FieldValue.increment(0.25) });
    expect((await ref.get()).get("x")).toBe(0.75);
  });

  it("integer field plus double increment gives a double", async () => {
    const ref = ctx.col("docs").doc("mixed");
    await ref.set({ n: 1 });
    await ref.update({ n: FieldValue.increment(0.5) });
    expect((await ref.get()).get("n")).toBe(1.5);
  });

  it("on a missing field or a non-number sets the operand", async () => {
    const ref = ctx.col("docs").doc("fresh");
    await ref.set({ s: "text" });
    await ref.update({ missing: FieldValue.increment(7), s: FieldValue.increment(2) });
    expect((await ref.get()).data()).toEqual({ s: 2, missing: 7 });
  });

  it("on a document that does not exist (set with merge) creates it with the operand", async () => {
    const ref = ctx.col("docs").doc("created");
    await ref.set({ n: FieldValue.increment(4) }, { merge: true });
    expect((await ref.get()).data()).toEqual({ n: 4 });
  });

  it("concurrent increments inside one batch on the same field accumulate", async () => {
    const ref = ctx.col("docs").doc("batched");
    await ref.set({ n: 0 });
    await ctx.db
      .batch()
      .update(ref, { n: FieldValue.increment(1) })
      .update(ref, { n: FieldValue.increment(2) })
      .commit();
    expect((await ref.get()).get("n")).toBe(3);
  });
});

describe("serverTimestamp", () => {
  it("is the commit time of the write", async () => {
    const ref = ctx.col("docs").doc("ts");
    const before = Timestamp.now();
    const w = await ref.set({
      at: FieldValue.serverTimestamp(),
      nested: { at: FieldValue.serverTimestamp() },
    });
    const snap = await ref.get();
    const at = snap.get("at") as Timestamp;
    expect(at).toBeInstanceOf(Timestamp);
    expect(at.isEqual(w.writeTime)).toBe(true);
    expect((snap.get("nested.at") as Timestamp).isEqual(w.writeTime)).toBe(true);
    // Within a few seconds of the client's clock.
    expect(Math.abs(at.toMillis() - before.toMillis())).toBeLessThan(5000);
  });

  it("in an update leaves createTime alone and moves with updateTime", async () => {
    const ref = ctx.col("docs").doc("ts2");
    const w1 = await ref.set({ at: FieldValue.serverTimestamp() });
    const w2 = await ref.update({ at: FieldValue.serverTimestamp() });
    const snap = await ref.get();
    expect(compareTimestamps(w2.writeTime, w1.writeTime)).toBeGreaterThan(0);
    expect((snap.get("at") as Timestamp).isEqual(w2.writeTime)).toBe(true);
    expect(snap.createTime?.isEqual(w1.writeTime)).toBe(true);
  });
});

describe("arrayUnion / arrayRemove", () => {
  it("arrayUnion appends only missing elements, in order", async () => {
    const ref = ctx.col("docs").doc("a");
    await ref.set({ tags: ["a", "b"], objs: [{ k: 1 }] });
    await ref.update({
      tags: FieldValue.arrayUnion("b", "c", "c", "d"),
      objs: FieldValue.arrayUnion({ k: 1 }, { k: 2 }),
    });
    expect((await ref.get()).data()).toEqual({ tags: ["a", "b", "c", "d"], objs: [{ k: 1 }, { k: 2 }] });
  });

  it("arrayUnion on a missing field or non-array creates the array (duplicates removed)", async () => {
    const ref = ctx.col("docs").doc("a2");
    await ref.set({ s: "x" });
    await ref.update({ s: FieldValue.arrayUnion(1, 1, 2), fresh: FieldValue.arrayUnion("z") });
    expect((await ref.get()).data()).toEqual({ s: [1, 2], fresh: ["z"] });
  });

  it("arrayRemove removes every equal element, and only elements of an equal value", async () => {
    const ref = ctx.col("docs").doc("r");
    await ref.set({ v: [1, 2, 1, 3, 1.5, "1", { k: 1 }, { k: 2 }] });
    await ref.update({ v: FieldValue.arrayRemove(1, 3, { k: 1 }) });
    expect((await ref.get()).get("v")).toEqual([2, 1.5, "1", { k: 2 }]);
  });

  it("arrayRemove on a missing field leaves an empty array", async () => {
    const ref = ctx.col("docs").doc("r2");
    await ref.set({});
    await ref.update({ v: FieldValue.arrayRemove("x") });
    expect((await ref.get()).data()).toEqual({ v: [] });
  });
});

describe("set with merge and field masks", () => {
  it("merge: true replaces given leaves and keeps every other field", async () => {
    const ref = ctx.col("docs").doc("m");
    await ref.set({ a: 1, b: { c: 2, d: 3 }, e: [1, 2] });
    await ref.set({ b: { c: 20 }, e: [9], f: "new" }, { merge: true });
    expect((await ref.get()).data()).toEqual({ a: 1, b: { c: 20, d: 3 }, e: [9], f: "new" });
  });

  it("mergeFields writes only the listed paths", async () => {
    const ref = ctx.col("docs").doc("mf");
    await ref.set({ a: 1, b: { c: 2, d: 3 }, z: "keep" });
    await ref.set({ a: 10, b: { c: 20, d: 30 }, z: "ignored" }, { mergeFields: ["a", "b.c"] });
    expect((await ref.get()).data()).toEqual({ a: 10, b: { c: 20, d: 3 }, z: "keep" });
  });

  it("set without merge replaces the whole document", async () => {
    const ref = ctx.col("docs").doc("s");
    await ref.set({ a: 1, b: 2 });
    await ref.set({ c: 3 });
    expect((await ref.get()).data()).toEqual({ c: 3 });
  });
});

describe("update with field paths", () => {
  it("dotted paths update nested fields and keep their siblings", async () => {
    const ref = ctx.col("docs").doc("u");
    await ref.set({ m: { a: 1, b: { c: 2, d: 4 } }, top: 0 });
    await ref.update({ "m.b.c": 3, "m.x": "new" });
    expect((await ref.get()).data()).toEqual({ m: { a: 1, b: { c: 3, d: 4 }, x: "new" }, top: 0 });
  });

  it("a dotted path through a non-map replaces it with a map", async () => {
    const ref = ctx.col("docs").doc("u2");
    await ref.set({ m: 5 });
    await ref.update({ "m.a": 1 });
    expect((await ref.get()).data()).toEqual({ m: { a: 1 } });
  });

  it("FieldPath segments with dots, spaces, backticks and unicode are single fields", async () => {
    const ref = ctx.col("docs").doc("fp");
    await ref.set({ "a.b": { c: 0 }, plain: 1 });
    await ref.update(
      new FieldPath("a.b", "c"),
      1,
      new FieldPath("with space"),
      2,
      new FieldPath("back`tick"),
      3,
      new FieldPath("üñï", "ß"),
      4,
    );
    const snap = await ref.get();
    expect(snap.data()).toEqual({
      "a.b": { c: 1 },
      plain: 1,
      "with space": 2,
      "back`tick": 3,
      üñï: { ß: 4 },
    });
    expect(snap.get(new FieldPath("a.b", "c"))).toBe(1);
    // The same field can be queried with the same FieldPath.
    const q = await ctx.col("docs").where(new FieldPath("with space"), "==", 2).get();
    expect(q.docs.map((d) => d.id)).toEqual(["fp"]);
  });

  it("FieldValue.delete() removes top-level and nested fields", async () => {
    const ref = ctx.col("docs").doc("del");
    await ref.set({ a: 1, m: { b: 2, c: 3 }, keep: true });
    await ref.update({ a: FieldValue.delete(), "m.b": FieldValue.delete() });
    expect((await ref.get()).data()).toEqual({ m: { c: 3 }, keep: true });
  });

  it("FieldValue.delete() in a merge set removes the field", async () => {
    const ref = ctx.col("docs").doc("del2");
    await ref.set({ a: 1, b: 2 });
    await ref.set({ a: FieldValue.delete() }, { merge: true });
    expect((await ref.get()).data()).toEqual({ b: 2 });
  });

  it("transforms and plain values in one update apply together", async () => {
    const ref = ctx.col("docs").doc("combo");
    await ref.set({ n: 1, tags: ["a"], name: "x" });
    const w = await ref.update({
      n: FieldValue.increment(1),
      tags: FieldValue.arrayUnion("b"),
      name: "y",
      at: FieldValue.serverTimestamp(),
    });
    const snap = await ref.get();
    expect(snap.get("n")).toBe(2);
    expect(snap.get("tags")).toEqual(["a", "b"]);
    expect(snap.get("name")).toBe("y");
    expect((snap.get("at") as Timestamp).isEqual(w.writeTime)).toBe(true);
    expect(snap.updateTime?.isEqual(w.writeTime)).toBe(true);
  });
});
