/**
 * Collection groups and the document hierarchy: collectionGroup queries across nesting
 * levels, listDocuments (including "missing" parents of sub-collections) and listCollections.
 */
import { useFirestore } from "./support";

const ctx = useFirestore("hierarchy");

describe("collection hierarchy", () => {
  // Layout (G is a collection id unique to the test):
  //   G/top1                               {level: 0}
  //   G/top1/G/nested                      {level: 1}
  //   parents/p1                           (exists)
  //   parents/p1/G/mid1                    {level: 1}
  //   parents/p1/sub/s1/G/deep1            {level: 2}
  //   parents/p2/G/orphan                  {level: 1}   (parents/p2 itself does not exist)
  //   Gx/decoy, other/decoy                (a different collection id)
  let g = "";
  beforeEach(async () => {
    g = ctx.id("g");
    const sub = ctx.id("sub");
    const parents = ctx.col("parents");
    const batch = ctx.db.batch();
    batch.set(ctx.db.collection(g).doc("top1"), { level: 0 });
    batch.set(ctx.db.collection(g).doc("top1").collection(g).doc("nested"), { level: 1 });
    batch.set(parents.doc("p1"), { name: "p1" });
    batch.set(parents.doc("p1").collection(g).doc("mid1"), { level: 1 });
    batch.set(parents.doc("p1").collection(sub).doc("s1").collection(g).doc("deep1"), { level: 2 });
    batch.set(parents.doc("p2").collection(g).doc("orphan"), { level: 1 });
    batch.set(ctx.db.collection(`${g}x`).doc("decoy"), { level: 0 });
    batch.set(ctx.col("other").doc("decoy"), { level: 0 });
    await batch.commit();
  });

  it("collectionGroup finds documents of that collection id at every depth, ordered by path", async () => {
    const snap = await ctx.db.collectionGroup(g).get();
    expect(snap.docs.map((d) => d.ref.path)).toEqual([
      `${g}/top1`,
      `${g}/top1/${g}/nested`,
      `${ctx.id("parents")}/p1/${g}/mid1`,
      `${ctx.id("parents")}/p1/${ctx.id("sub")}/s1/${g}/deep1`,
      `${ctx.id("parents")}/p2/${g}/orphan`,
    ]);
  });

  it("collectionGroup queries filter and order like collection queries", async () => {
    const snap = await ctx.db.collectionGroup(g).where("level", ">=", 1).orderBy("level", "desc").get();
    expect(snap.docs.map((d) => d.id)).toEqual(["deep1", "orphan", "mid1", "nested"]);
    const count = await ctx.db.collectionGroup(g).where("level", "==", 1).count().get();
    expect(count.data().count).toBe(3);
  });

  it("a collection query does not descend into sub-collections of the same id", async () => {
    const snap = await ctx.db.collection(g).get();
    expect(snap.docs.map((d) => d.ref.path)).toEqual([`${g}/top1`]);
  });

  it("listDocuments returns existing documents and missing parents of sub-collections", async () => {
    const refs = await ctx.col("parents").listDocuments();
    expect(refs.map((r) => r.id).sort()).toEqual(["p1", "p2"]);
    const [p1, p2] = await ctx.db.getAll(ctx.col("parents").doc("p1"), ctx.col("parents").doc("p2"));
    expect(p1?.exists).toBe(true);
    expect(p2?.exists).toBe(false);
  });

  it("listCollections lists the sub-collections of a document, and root collections", async () => {
    const subs = await ctx.col("parents").doc("p1").listCollections();
    expect(subs.map((c) => c.id).sort()).toEqual([g, ctx.id("sub")].sort());
    const ofMissing = await ctx.col("parents").doc("p2").listCollections();
    expect(ofMissing.map((c) => c.id)).toEqual([g]);
    const none = await ctx.col("parents").doc("p3").listCollections();
    expect(none).toEqual([]);

    const roots = (await ctx.db.listCollections()).map((c) => c.id).filter((id) => id.startsWith(ctx.id("")));
    expect(roots.sort()).toEqual([g, `${g}x`, ctx.id("other"), ctx.id("parents")].sort());
  });

  it("a deleted document disappears from collection-group results and listDocuments", async () => {
    await ctx.col("parents").doc("p1").collection(g).doc("mid1").delete();
    await ctx.col("parents").doc("p1").delete();
    const snap = await ctx.db.collectionGroup(g).get();
    expect(snap.docs.map((d) => d.id)).toEqual(["top1", "nested", "deep1", "orphan"]);
    // p1 still has a sub-collection (sub/s1/...), so it is listed as a missing document.
    const refs = await ctx.col("parents").listDocuments();
    expect(refs.map((r) => r.id).sort()).toEqual(["p1", "p2"]);
  });
});
