/**
 * users/{uid} profiles created by the server: ensureProfile (after sign-in) and the first enrollInCourse write
 * uid, the token's email and createdAt once, only where absent, and never touch the display fields the user wrote.
 */
import { ensureProfile } from "../../src/functions/ensureProfile";
import { firestore } from "../../src/shared/admin";
import {
  call,
  createCourse,
  enrollInCourse,
  expectHttpsError,
  readDoc,
  snapshotAll,
} from "../support/harness";
import { useLocalFirestore } from "../support/localFirestore";

useLocalFirestore();

const alice = { uid: "alice", email: "alice@example.com" };

describe("ensureProfile", () => {
  it("creates the profile once, with the email of the token; later calls change nothing", async () => {
    expect(await call(ensureProfile, alice, {})).toEqual({
      uid: "alice",
      email: "alice@example.com",
      created: true,
    });
    const first = await readDoc("users/alice");
    expect(first).toEqual({
      uid: "alice",
      email: "alice@example.com",
      createdAt: expect.anything() as unknown,
    });
    // Even when the token's email changed since: the stored one stays (server fields are written only if absent).
    expect(await call(ensureProfile, { ...alice, email: "new@example.com" }, {})).toEqual({
      uid: "alice",
      email: "alice@example.com",
      created: false,
    });
    expect(await readDoc("users/alice")).toEqual(first);
  });

  it("keeps the display fields of a profile the client created first, adding the server fields", async () => {
    await firestore().doc("users/alice").set({ displayName: "Alice", photoURL: "https://example.com/a.png" });
    expect(await call(ensureProfile, alice, {})).toMatchObject({ created: true });
    expect(await readDoc("users/alice")).toEqual({
      displayName: "Alice",
      photoURL: "https://example.com/a.png",
      uid: "alice",
      email: "alice@example.com",
      createdAt: expect.anything() as unknown,
    });
  });

  it("an address the auth provider has not verified is not stored (anyone can sign up with any address)", async () => {
    expect(
      await call(ensureProfile, { uid: "mallory", email: "ceo@example.com", emailVerified: false }, {}),
    ).toEqual({
      uid: "mallory",
      email: null,
      created: true,
    });
    expect(await readDoc("users/mallory")).toMatchObject({ email: null });
  });

  it("concurrent calls create it once; an account without an email stores null", async () => {
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => call(ensureProfile, { uid: "bob" }, {})),
    );
    expect(answers.filter((a) => a.created)).toHaveLength(1);
    expect(answers.every((a) => a.email === null)).toBe(true);
    expect(await readDoc("users/bob")).toEqual({
      uid: "bob",
      email: null,
      createdAt: expect.anything() as unknown,
    });
  });

  it("refuses input fields and callers who are not signed in, writing nothing", async () => {
    await expectHttpsError(call(ensureProfile, alice, { email: "forged@example.com" }), "invalid-argument");
    await expectHttpsError(call(ensureProfile, null, {}), "unauthenticated");
    expect(await snapshotAll()).toEqual([]);
  });
});

describe("enrollInCourse creates the profile", () => {
  it("on the first enrollment, keeping display fields; a refused enrollment creates none", async () => {
    await createCourse("c1", 4900);
    await createCourse("draft", 100, { published: false });
    await expectHttpsError(call(enrollInCourse, alice, { courseId: "draft" }), "not-found");
    expect(await readDoc("users/alice")).toBeUndefined();
    await firestore().doc("users/alice").set({ displayName: "Alice" });
    await call(enrollInCourse, alice, { courseId: "c1" });
    const profile = await readDoc("users/alice");
    expect(profile).toEqual({
      displayName: "Alice",
      uid: "alice",
      email: "alice@example.com",
      createdAt: expect.anything() as unknown,
    });
    await call(enrollInCourse, alice, { courseId: "c1" });
    expect(await readDoc("users/alice")).toEqual(profile);
  });
});
