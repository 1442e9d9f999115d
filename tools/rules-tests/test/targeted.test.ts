/**
 * Targeted cases the matrix cannot express in one cell: which profile fields a user may touch,
 * every way a client could try to write money or status, and the query shapes the rules must
 * judge as a whole ("rules are not filters").
 */
import { assertFails, assertSucceeds } from "@firebase/rules-unit-testing";
import {
  collection,
  collectionGroup,
  deleteDoc,
  doc,
  getDoc,
  getDocs,
  increment,
  query,
  runTransaction,
  setDoc,
  updateDoc,
  where,
  writeBatch,
  type DocumentData,
} from "firebase/firestore";

import { ADMIN_UID, dbFor, firestoreOf, OTHER_UID, OWNER_UID, type Role } from "./support/env";
import { PATHS, PUBLISHED_COURSE, readAsServer, seedData, useSeededEnvironment } from "./support/fixtures";

// Fails the whole file, loudly, when no emulator is configured.
const holder = useSeededEnvironment();

const db = (role: Role) => dbFor(holder.get(), role);
const stored = (path: string) => readAsServer(holder.get(), path);

describe("users/{uid}: owners edit display fields only", () => {
  test("owner editing displayName succeeds", async () => {
    await assertSucceeds(updateDoc(doc(db("owner"), PATHS.ownerProfile), { displayName: "Alice Liddell" }));
    expect(await stored(PATHS.ownerProfile)).toEqual({
      ...seedData(PATHS.ownerProfile),
      displayName: "Alice Liddell",
    });
  });

  test("owner editing photoURL with a merge set succeeds", async () => {
    const photoURL = "https://example.com/alice-2.png";
    await assertSucceeds(setDoc(doc(db("owner"), PATHS.ownerProfile), { photoURL }, { merge: true }));
    expect(await stored(PATHS.ownerProfile)).toEqual({ ...seedData(PATHS.ownerProfile), photoURL });
  });

  test("owner removing their photoURL succeeds (removal is a change of a display field)", async () => {
    const rest = { ...seedData(PATHS.ownerProfile) };
    delete rest.photoURL;
    await assertSucceeds(setDoc(doc(db("owner"), PATHS.ownerProfile), rest));
    expect(await stored(PATHS.ownerProfile)).toEqual(rest);
  });

  test.each<[string, DocumentData]>([
    ["a new non-display field", { role: "admin" }],
    ["an admin flag", { admin: true }],
    ["a display field together with a non-display field", { displayName: "Alice", isPaid: true }],
    ["a server field (email)", { email: "mallory@example.com" }],
    ["a server field (createdAt)", { createdAt: null }],
  ])("owner writing %s to their profile fails", async (_what, patch) => {
    await assertFails(updateDoc(doc(db("owner"), PATHS.ownerProfile), patch));
    expect(await stored(PATHS.ownerProfile)).toEqual(seedData(PATHS.ownerProfile));
  });

  test("owner replacing their profile without merge, dropping server fields, fails", async () => {
    await assertFails(setDoc(doc(db("owner"), PATHS.ownerProfile), { displayName: "Alice" }));
    expect(await stored(PATHS.ownerProfile)).toEqual(seedData(PATHS.ownerProfile));
  });

  test.each<[string, DocumentData]>([
    ["a 101-character displayName", { displayName: "a".repeat(101) }],
    ["a non-string displayName", { displayName: 42 }],
    ["a non-string photoURL", { photoURL: { url: "https://example.com" } }],
    ["a photoURL over 2048 characters", { photoURL: `https://example.com/${"a".repeat(2030)}` }],
  ])("owner writing %s fails", async (_what, patch) => {
    await assertFails(updateDoc(doc(db("owner"), PATHS.ownerProfile), patch));
    expect(await stored(PATHS.ownerProfile)).toEqual(seedData(PATHS.ownerProfile));
  });

  test("a 100-character displayName (the limit) succeeds", async () => {
    const displayName = "a".repeat(100);
    await assertSucceeds(updateDoc(doc(db("owner"), PATHS.ownerProfile), { displayName }));
    expect(await stored(PATHS.ownerProfile)).toMatchObject({ displayName });
  });

  describe("creating a profile", () => {
    beforeEach(async () => {
      await holder.get().withSecurityRulesDisabled(async (context) => {
        await deleteDoc(doc(firestoreOf(context), PATHS.ownerProfile));
      });
    });

    test("with display fields only succeeds", async () => {
      await assertSucceeds(setDoc(doc(db("owner"), PATHS.ownerProfile), { displayName: "Alice" }));
      expect(await stored(PATHS.ownerProfile)).toEqual({ displayName: "Alice" });
    });

    test("with a non-display field fails", async () => {
      await assertFails(setDoc(doc(db("owner"), PATHS.ownerProfile), { displayName: "Alice", admin: true }));
      expect(await stored(PATHS.ownerProfile)).toBeUndefined();
    });

    test("for another user fails", async () => {
      await assertFails(setDoc(doc(db("otherUser"), PATHS.ownerProfile), { displayName: "Alice" }));
      expect(await stored(PATHS.ownerProfile)).toBeUndefined();
    });

    test("reading one's own missing profile succeeds and shows it missing", async () => {
      const snapshot = await assertSucceeds(getDoc(doc(db("owner"), PATHS.ownerProfile)));
      expect(snapshot.exists()).toBe(false);
    });
  });
});

describe("enrollments: money and status are server-owned", () => {
  test.each<[string, DocumentData]>([
    ["amountPaid", { amountPaid: 4900 }],
    ["amountDue", { amountDue: 0 }],
    ["paymentStatus", { paymentStatus: "paid" }],
    ["accessStatus", { accessStatus: "active" }],
    ["price", { price: 0 }],
    ["updatedAt", { updatedAt: null }],
  ])("owner writing %s to their enrollment fails", async (_field, patch) => {
    await assertFails(updateDoc(doc(db("owner"), PATHS.ownerEnrollment), patch));
    expect(await stored(PATHS.ownerEnrollment)).toEqual(seedData(PATHS.ownerEnrollment));
  });

  test("owner incrementing amountPaid fails", async () => {
    await assertFails(updateDoc(doc(db("owner"), PATHS.ownerEnrollment), { amountPaid: increment(2900) }));
    expect(await stored(PATHS.ownerEnrollment)).toEqual(seedData(PATHS.ownerEnrollment));
  });

  test("owner merge-setting paymentStatus and accessStatus fails", async () => {
    const request = setDoc(
      doc(db("owner"), PATHS.ownerEnrollment),
      { paymentStatus: "paid", accessStatus: "active" },
      { merge: true },
    );
    await assertFails(request);
    expect(await stored(PATHS.ownerEnrollment)).toEqual(seedData(PATHS.ownerEnrollment));
  });

  test("owner read-modify-write of amountPaid in a transaction fails", async () => {
    const firestore = db("owner");
    const ref = doc(firestore, PATHS.ownerEnrollment);
    const request = runTransaction(firestore, async (transaction) => {
      const snapshot = await transaction.get(ref);
      const paid = snapshot.get("amountPaid") as number;
      transaction.update(ref, { amountPaid: paid + 2900, amountDue: 0, paymentStatus: "paid" });
    });
    await assertFails(request);
    expect(await stored(PATHS.ownerEnrollment)).toEqual(seedData(PATHS.ownerEnrollment));
  });

  test("owner writing a ledger entry and the matching totals in one batch fails", async () => {
    const firestore = db("owner");
    const batch = writeBatch(firestore);
    batch.set(doc(firestore, PATHS.ownerEnrollment, "ledger", "pi_forged"), {
      amount: 2900,
      type: "payment",
    });
    batch.update(doc(firestore, PATHS.ownerEnrollment), { amountPaid: 4900, amountDue: 0 });
    await assertFails(batch.commit());
    expect(await stored(`${PATHS.ownerEnrollment}/ledger/pi_forged`)).toBeUndefined();
    expect(await stored(PATHS.ownerEnrollment)).toEqual(seedData(PATHS.ownerEnrollment));
  });

  test("admin writing amountPaid from a client fails (admins use the callables)", async () => {
    await assertFails(updateDoc(doc(db("admin"), PATHS.ownerEnrollment), { amountPaid: 4900 }));
    expect(await stored(PATHS.ownerEnrollment)).toEqual(seedData(PATHS.ownerEnrollment));
  });

  test("owner enrolling themselves by creating the enrollment fails", async () => {
    const path = `users/${OWNER_UID}/courses/free-course`;
    await assertFails(
      setDoc(doc(db("owner"), path), { amountPaid: 0, amountDue: 0, accessStatus: "active" }),
    );
    expect(await stored(path)).toBeUndefined();
  });
});

describe("enrollment listing", () => {
  test("owner listing their own enrollments succeeds and returns only theirs", async () => {
    const snapshot = await assertSucceeds(getDocs(collection(db("owner"), "users", OWNER_UID, "courses")));
    expect(snapshot.docs.map((d) => d.ref.path)).toEqual([PATHS.ownerEnrollment]);
  });

  test("listing another user's enrollments fails", async () => {
    await assertFails(getDocs(collection(db("otherUser"), "users", OWNER_UID, "courses")));
  });

  test("listing another user's enrollments with a filter still fails", async () => {
    const q = query(
      collection(db("otherUser"), "users", OWNER_UID, "courses"),
      where("accessStatus", "==", "active"),
    );
    await assertFails(getDocs(q));
  });

  test("listing another user's ledger fails", async () => {
    await assertFails(
      getDocs(collection(db("owner"), "users", OTHER_UID, "courses", PUBLISHED_COURSE, "ledger")),
    );
  });
});

describe("courses: rules are not filters", () => {
  test.each<Role>(["anonymous", "otherUser", "owner"])(
    "unconstrained list of courses by %s fails",
    async (role) => {
      await assertFails(getDocs(collection(db(role), "courses")));
    },
  );

  test.each<Role>(["anonymous", "otherUser", "owner"])(
    "list of courses where('published', '==', true) by %s succeeds and returns only published courses",
    async (role) => {
      const snapshot = await assertSucceeds(
        getDocs(query(collection(db(role), "courses"), where("published", "==", true))),
      );
      expect(snapshot.docs.map((d) => d.ref.path)).toEqual([PATHS.publishedCourse]);
    },
  );

  test("list of courses where('published', '==', false) by a signed-in user fails", async () => {
    await assertFails(getDocs(query(collection(db("owner"), "courses"), where("published", "==", false))));
  });

  test("list of courses filtered on another field only fails", async () => {
    await assertFails(getDocs(query(collection(db("anonymous"), "courses"), where("currency", "==", "eur"))));
  });

  test("admin lists every course, published or not", async () => {
    const snapshot = await assertSucceeds(getDocs(collection(db("admin"), "courses")));
    expect(snapshot.docs.map((d) => d.ref.path).sort()).toEqual(
      [PATHS.draftCourse, PATHS.publishedCourse].sort(),
    );
  });

  test("getting a course that does not exist fails for a non-admin (no existence oracle)", async () => {
    await assertFails(getDoc(doc(db("anonymous"), "courses/no-such-course")));
  });

  test("getting a course that does not exist succeeds for an admin and shows it missing", async () => {
    const snapshot = await assertSucceeds(getDoc(doc(db("admin"), "courses/no-such-course")));
    expect(snapshot.exists()).toBe(false);
  });
});

describe("collection-group query on the ledger", () => {
  test.each<Role>(["anonymous", "otherUser", "owner"])("by %s (not an admin) fails", async (role) => {
    await assertFails(getDocs(collectionGroup(db(role), "ledger")));
  });

  test("by the owner, even filtered to their own provider payment id, fails", async () => {
    const q = query(collectionGroup(db("owner"), "ledger"), where("providerPaymentId", "==", "pi_alice_1"));
    await assertFails(getDocs(q));
  });

  test("by an admin succeeds and spans every user's ledger", async () => {
    const snapshot = await assertSucceeds(getDocs(collectionGroup(db("admin"), "ledger")));
    expect(snapshot.docs.map((d) => d.ref.path).sort()).toEqual(
      [PATHS.ownerLedgerEntry, PATHS.otherLedgerEntry].sort(),
    );
  });
});

describe("the admin claim", () => {
  test.each<[string, Record<string, unknown>]>([
    ["admin: false", { admin: false }],
    ['admin: "true" (a string)', { admin: "true" }],
    ["admin: 1", { admin: 1 }],
    ["no admin claim", {}],
  ])("a token with %s is not an admin", async (_what, claims) => {
    const firestore = firestoreOf(holder.get().authenticatedContext(ADMIN_UID, claims));
    await assertFails(getDoc(doc(firestore, PATHS.draftCourse)));
    await assertFails(getDoc(doc(firestore, PATHS.ownerEnrollment)));
    await assertFails(getDoc(doc(firestore, PATHS.deadLetter)));
  });

  test("a token with admin: true is an admin", async () => {
    const firestore = firestoreOf(holder.get().authenticatedContext(ADMIN_UID, { admin: true }));
    const snapshot = await assertSucceeds(getDoc(doc(firestore, PATHS.draftCourse)));
    expect(snapshot.data()).toEqual(seedData(PATHS.draftCourse));
  });
});

describe("no existence oracle through write errors", () => {
  test("updating a missing document the rules deny is permission-denied, not not-found", async () => {
    await assertFails(
      updateDoc(doc(db("otherUser"), `users/${OWNER_UID}/courses/no-such-course`), { amountPaid: 1 }),
    );
  });
});
