/**
 * The suite must catch weakened rules. Each mutant below is the project's firestore.rules with one
 * deliberate hole; the probe is a request the policy denies. Under the real rules the probe fails
 * (as the matrix expects); under the mutant it succeeds, so the matrix cell that asserts the denial
 * would fail. A rules file with a syntax error must not load at all.
 */
import { readFileSync } from "node:fs";

import {
  assertFails,
  initializeTestEnvironment,
  type RulesTestEnvironment,
} from "@firebase/rules-unit-testing";
import { collectionGroup, doc, getDoc, getDocs, updateDoc, type Firestore } from "firebase/firestore";

import { emulatorFromEnv, firestoreOf, OWNER_UID, RULES_PATH } from "./support/env";
import { PATHS, seed } from "./support/fixtures";

const emulator = emulatorFromEnv();
const REAL_RULES = readFileSync(RULES_PATH, "utf8");

interface Mutant {
  name: string;
  /** The text replaced, which must occur in firestore.rules, and its replacement. */
  from: string;
  to: string;
  probe(env: RulesTestEnvironment): Promise<unknown>;
}

const asOwner = (env: RulesTestEnvironment): Firestore => firestoreOf(env.authenticatedContext(OWNER_UID));

const MUTANTS: Mutant[] = [
  {
    name: "a catch-all allow for signed-in users (permissive file)",
    from: "  match /databases/{database}/documents {",
    to: "  match /databases/{database}/documents {\n    match /{document=**} { allow read, write: if request.auth != null; }",
    probe: (env) => updateDoc(doc(asOwner(env), PATHS.ownerEnrollment), { amountPaid: 999_999 }),
  },
  {
    name: "owners may update their enrollment",
    from: "        allow get, list: if isOwner(uid) || isAdmin();\n        allow create, update, delete: if false;",
    to: "        allow get, list: if isOwner(uid) || isAdmin();\n        allow update: if isOwner(uid);",
    probe: (env) => updateDoc(doc(asOwner(env), PATHS.ownerEnrollment), { paymentStatus: "paid" }),
  },
  {
    name: "any truthy admin claim counts",
    from: "request.auth.token.get('admin', false) == true",
    to: "request.auth.token.get('admin', false) != false",
    probe: (env) =>
      getDoc(doc(firestoreOf(env.authenticatedContext("mallory", { admin: "true" })), PATHS.courseStats)),
  },
  {
    name: "collection-group ledger queries for any signed-in user",
    from: "      allow list: if isAdmin();\n    }",
    to: "      allow list: if request.auth != null;\n    }",
    probe: (env) => getDocs(collectionGroup(asOwner(env), "ledger")),
  },
];

describe.each(MUTANTS)("mutant: $name", (mutant) => {
  let realEnv: RulesTestEnvironment;
  let mutantEnv: RulesTestEnvironment;

  beforeAll(async () => {
    expect(REAL_RULES).toContain(mutant.from);
    realEnv = await initializeTestEnvironment({
      projectId: "demo-rules-real",
      firestore: { rules: REAL_RULES, host: emulator.host, port: emulator.port },
    });
    mutantEnv = await initializeTestEnvironment({
      projectId: "demo-rules-mutant",
      firestore: {
        rules: REAL_RULES.replace(mutant.from, mutant.to),
        host: emulator.host,
        port: emulator.port,
      },
    });
  });

  beforeEach(async () => {
    for (const env of [realEnv, mutantEnv]) {
      await env.clearFirestore();
      await seed(env);
    }
  });

  afterAll(async () => {
    await realEnv.cleanup();
    await mutantEnv.cleanup();
  });

  test("the real rules deny the probe", async () => {
    await assertFails(mutant.probe(realEnv));
  });

  test("the mutant allows it, so the matrix's denial would fail", async () => {
    await expect(assertFails(mutant.probe(mutantEnv))).rejects.toThrow();
  });
});

test("a rules file with a syntax error does not load, and says where", async () => {
  const broken = REAL_RULES.replace("allow get, list: if isAdmin();", "allow get, list: if isAdmin(;");
  expect(broken).not.toBe(REAL_RULES);
  await expect(
    initializeTestEnvironment({
      projectId: "demo-rules-broken",
      firestore: { rules: broken, host: emulator.host, port: emulator.port },
    }),
  ).rejects.toThrow(/\d+:\d+/);
});
