/**
 * Snapshot listeners go through the Listen stream, which the rules judge like reads: a listener
 * the rules allow receives the data and later changes; one they deny gets permission-denied.
 */
import {
  collection,
  doc,
  onSnapshot,
  query,
  setDoc,
  where,
  type DocumentData,
  type Query,
} from "firebase/firestore";
import type { DocumentReference } from "firebase/firestore";

import { dbFor, firestoreOf, type Role } from "./support/env";
import { PATHS, useSeededEnvironment } from "./support/fixtures";

// Fails the whole file, loudly, when no emulator is configured.
const holder = useSeededEnvironment();

const db = (role: Role) => dbFor(holder.get(), role);

/** Resolves with the first snapshot's data, or rejects with the listener's error. */
function firstDocSnapshot(ref: DocumentReference): Promise<DocumentData | undefined> {
  return new Promise((resolve, reject) => {
    const unsubscribe = onSnapshot(
      ref,
      (snap) => {
        unsubscribe();
        resolve(snap.data());
      },
      (err) => {
        reject(err);
      },
    );
  });
}

/** Collects query snapshots until `done` says so; rejects on a listener error or after 10 s. */
function watchQuery(q: Query, done: (ids: string[][]) => boolean): Promise<string[][]> {
  return new Promise((resolve, reject) => {
    const seen: string[][] = [];
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`listener did not reach the expected state; saw ${JSON.stringify(seen)}`));
    }, 10_000);
    const unsubscribe = onSnapshot(
      q,
      (snap) => {
        seen.push(snap.docs.map((d) => d.id).sort());
        if (done(seen)) {
          clearTimeout(timer);
          unsubscribe();
          resolve(seen);
        }
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

describe("snapshot listeners under the rules", () => {
  test("the owner's listener on their enrollment receives it", async () => {
    const data = await firstDocSnapshot(doc(db("owner"), PATHS.ownerEnrollment));
    expect(data).toEqual(expect.objectContaining({ paymentStatus: expect.any(String) as unknown }));
  });

  test("another user's listener on that enrollment is denied", async () => {
    await expect(firstDocSnapshot(doc(db("otherUser"), PATHS.ownerEnrollment))).rejects.toMatchObject({
      code: "permission-denied",
    });
  });

  test("an anonymous listener on published courses sees a course published later", async () => {
    const published = query(collection(db("anonymous"), "courses"), where("published", "==", true));
    const watching = watchQuery(published, (seen) => seen.some((ids) => ids.includes("late-course")));
    await holder.get().withSecurityRulesDisabled(async (ctx) => {
      await setDoc(doc(firestoreOf(ctx), "courses/late-course"), {
        title: "Late",
        price: 100,
        currency: "usd",
        published: true,
      });
    });
    const seen = await watching;
    expect(seen[seen.length - 1]).toContain("late-course");
  });

  test("a listener on a course ends with permission-denied when the course is unpublished", async () => {
    let markFirst: () => void = () => undefined;
    const first = new Promise<void>((resolve) => {
      markFirst = resolve;
    });
    const ended = new Promise<{ code?: string }>((resolve, reject) => {
      let snapshots = 0;
      const unsubscribe = onSnapshot(
        doc(db("anonymous"), PATHS.publishedCourse),
        () => {
          snapshots++;
          if (snapshots === 1) markFirst();
          else reject(new Error("received data after the course was unpublished"));
        },
        (err) => {
          unsubscribe();
          resolve(err);
        },
      );
    });
    // The listener was allowed and has data before the change that makes it unreadable.
    await first;
    await holder.get().withSecurityRulesDisabled(async (ctx) => {
      await setDoc(doc(firestoreOf(ctx), PATHS.publishedCourse), { published: false }, { merge: true });
    });
    await expect(ended).resolves.toMatchObject({ code: "permission-denied" });
  });

  test("an unconstrained listener on courses is denied", async () => {
    await expect(watchQuery(collection(db("owner"), "courses"), () => true)).rejects.toMatchObject({
      code: "permission-denied",
    });
  });
});
