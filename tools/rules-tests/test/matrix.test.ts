/**
 * The access matrix for firestore.rules: every collection × role × operation, with the expected
 * outcome of each cell written out in POLICY below. Each cell is one test that starts from a
 * cleared, freshly seeded database, runs one client request and checks both the rules' verdict
 * and the stored result (a denied write leaves the document as seeded, an allowed read returns
 * the seeded data).
 */
import { assertFails, assertSucceeds, type RulesTestEnvironment } from "@firebase/rules-unit-testing";
import {
  collection,
  deleteDoc,
  doc,
  getDoc,
  getDocs,
  query,
  setDoc,
  updateDoc,
  where,
  type DocumentData,
  type Firestore,
  type Query,
} from "firebase/firestore";

import {
  createTestEnvironment,
  dbFor,
  emulatorFromEnv,
  EnvironmentHolder,
  OWNER_UID,
  ROLES,
  type Role,
} from "./support/env";
import {
  DRAFT_COURSE,
  PATHS,
  PUBLISHED_COURSE,
  readAsServer,
  seed,
  seedData,
  SEED,
} from "./support/fixtures";

// Fails the whole file, loudly, when no emulator is configured.
const emulator = emulatorFromEnv();

const OPERATIONS = ["get", "list", "create", "update", "delete"] as const;
type Operation = (typeof OPERATIONS)[number];

const ALLOW = "allow";
const DENY = "deny";
type Outcome = typeof ALLOW | typeof DENY;

/** What one row of the matrix exercises. "owner" always means OWNER_UID (alice). */
interface Target {
  /** Shown in test names. */
  label: string;
  /** A seeded document: read by `get`, changed by `update`, removed by `delete`. */
  doc: string;
  /** The query a client of this collection would run for `list`. */
  list: (db: Firestore) => Query;
  /** Paths that query returns when it is allowed. */
  listReturns: readonly string[];
  /** A document `create` writes; the test seeds everything except this path. */
  create: { path: string; data: DocumentData };
  /** The fields `update` sets on `doc` (what a malicious or careless client would send). */
  update: DocumentData;
}

const TARGETS = {
  publishedCourse: {
    label: "courses (published)",
    doc: PATHS.publishedCourse,
    list: (db) => query(collection(db, "courses"), where("published", "==", true)),
    listReturns: [PATHS.publishedCourse],
    create: {
      path: "courses/new-course",
      data: { title: "New", price: 100, currency: "eur", published: true },
    },
    update: { price: 1 },
  },
  draftCourse: {
    label: "courses (unpublished; list unconstrained)",
    doc: PATHS.draftCourse,
    list: (db) => collection(db, "courses"),
    listReturns: [PATHS.draftCourse, PATHS.publishedCourse],
    create: {
      path: "courses/new-draft",
      data: { title: "New draft", price: 100, currency: "eur", published: false },
    },
    update: { published: true },
  },
  courseStats: {
    label: "courseStats",
    doc: PATHS.courseStats,
    list: (db) => collection(db, "courseStats"),
    listReturns: [PATHS.courseStats],
    create: { path: `courseStats/${DRAFT_COURSE}`, data: { enrolledCount: 0, paidCount: 0, revenue: 0 } },
    update: { revenue: 0 },
  },
  userProfile: {
    label: "users/{uid}",
    doc: PATHS.ownerProfile,
    list: (db) => collection(db, "users"),
    listReturns: [PATHS.ownerProfile, PATHS.otherProfile],
    create: {
      path: PATHS.ownerProfile,
      data: { displayName: "Alice", photoURL: "https://example.com/a.png" },
    },
    update: { displayName: "Alice Liddell" },
  },
  enrollment: {
    label: "users/{uid}/courses/{courseId}",
    doc: PATHS.ownerEnrollment,
    list: (db) => collection(db, "users", OWNER_UID, "courses"),
    listReturns: [PATHS.ownerEnrollment],
    create: {
      path: `users/${OWNER_UID}/courses/${DRAFT_COURSE}`,
      data: {
        uid: OWNER_UID,
        courseId: DRAFT_COURSE,
        price: 9900,
        currency: "eur",
        amountPaid: 9900,
        amountDue: 0,
        paymentStatus: "paid",
        accessStatus: "active",
      },
    },
    update: { amountPaid: 4900, amountDue: 0, paymentStatus: "paid", accessStatus: "active" },
  },
  ledgerEntry: {
    label: "users/{uid}/courses/{courseId}/ledger/{entryId}",
    doc: PATHS.ownerLedgerEntry,
    list: (db) => collection(db, "users", OWNER_UID, "courses", PUBLISHED_COURSE, "ledger"),
    listReturns: [PATHS.ownerLedgerEntry],
    create: {
      path: `users/${OWNER_UID}/courses/${PUBLISHED_COURSE}/ledger/pi_forged`,
      data: {
        amount: 2900,
        currency: "eur",
        type: "payment",
        source: "manual",
        providerPaymentId: "pi_forged",
      },
    },
    update: { amount: 4900 },
  },
  checkout: {
    label: "checkouts",
    doc: PATHS.checkout,
    list: (db) => collection(db, "checkouts"),
    listReturns: [PATHS.checkout],
    create: { path: `checkouts/${OWNER_UID}_req-2`, data: { uid: OWNER_UID, amount: 1, currency: "eur" } },
    update: { amount: 1 },
  },
  webhookEvent: {
    label: "webhookEvents",
    doc: PATHS.webhookEvent,
    list: (db) => collection(db, "webhookEvents"),
    listReturns: [PATHS.webhookEvent],
    create: {
      path: "webhookEvents/evt_forged",
      data: { type: "payment_intent.succeeded", outcome: "applied" },
    },
    update: { outcome: "ignored" },
  },
  deadLetter: {
    label: "deadLetters",
    doc: PATHS.deadLetter,
    list: (db) => collection(db, "deadLetters"),
    listReturns: [PATHS.deadLetter],
    create: { path: "deadLetters/evt_forged", data: { eventId: "evt_forged", reason: "unknown-user" } },
    update: { reason: "resolved" },
  },
  triggerEvent: {
    label: "triggerEvents",
    doc: PATHS.triggerEvent,
    list: (db) => collection(db, "triggerEvents"),
    listReturns: [PATHS.triggerEvent],
    create: { path: "triggerEvents/forged", data: { createdAt: null, expireAt: null } },
    update: { expireAt: null },
  },
  localProvider: {
    label: "localProvider",
    doc: PATHS.localProviderPayment,
    list: (db) => collection(db, "localProvider"),
    listReturns: [PATHS.localProviderPayment],
    create: { path: "localProvider/pi_forged", data: { status: "succeeded", amount: 2900 } },
    update: { status: "succeeded" },
  },
  undeclaredCollection: {
    label: "notes (no rules: deny by default)",
    doc: PATHS.undeclaredCollection,
    list: (db) => collection(db, "notes"),
    listReturns: [PATHS.undeclaredCollection],
    create: { path: "notes/n2", data: { text: "hello" } },
    update: { text: "changed" },
  },
  undeclaredUserSubcollection: {
    label: "users/{uid}/settings (no rules: deny by default)",
    doc: PATHS.undeclaredUserSubcollection,
    list: (db) => collection(db, "users", OWNER_UID, "settings"),
    listReturns: [PATHS.undeclaredUserSubcollection],
    create: { path: `users/${OWNER_UID}/settings/new`, data: { theme: "light" } },
    update: { theme: "light" },
  },
} satisfies Record<string, Target>;

type TargetName = keyof typeof TARGETS;
type PolicyRow = readonly [TargetName, Role, Outcome, Outcome, Outcome, Outcome, Outcome];

/**
 * The policy. Roles: anonymous = signed out; owner = alice, who owns every user-scoped fixture;
 * otherUser = bob, signed in, owns none of them; admin = carol with custom claim admin: true.
 */
// prettier-ignore
const POLICY: readonly PolicyRow[] = [
  // target                        role          get    list   create update delete
  ["publishedCourse",             "anonymous",  ALLOW, ALLOW, DENY,  DENY,  DENY ],
  ["publishedCourse",             "otherUser",  ALLOW, ALLOW, DENY,  DENY,  DENY ],
  ["publishedCourse",             "owner",      ALLOW, ALLOW, DENY,  DENY,  DENY ],
  ["publishedCourse",             "admin",      ALLOW, ALLOW, DENY,  DENY,  DENY ],

  ["draftCourse",                 "anonymous",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["draftCourse",                 "otherUser",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["draftCourse",                 "owner",      DENY,  DENY,  DENY,  DENY,  DENY ],
  ["draftCourse",                 "admin",      ALLOW, ALLOW, DENY,  DENY,  DENY ],

  ["courseStats",                 "anonymous",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["courseStats",                 "otherUser",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["courseStats",                 "owner",      DENY,  DENY,  DENY,  DENY,  DENY ],
  ["courseStats",                 "admin",      ALLOW, ALLOW, DENY,  DENY,  DENY ],

  ["userProfile",                 "anonymous",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["userProfile",                 "otherUser",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["userProfile",                 "owner",      ALLOW, DENY,  ALLOW, ALLOW, DENY ],
  ["userProfile",                 "admin",      ALLOW, ALLOW, DENY,  DENY,  DENY ],

  ["enrollment",                  "anonymous",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["enrollment",                  "otherUser",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["enrollment",                  "owner",      ALLOW, ALLOW, DENY,  DENY,  DENY ],
  ["enrollment",                  "admin",      ALLOW, ALLOW, DENY,  DENY,  DENY ],

  ["ledgerEntry",                 "anonymous",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["ledgerEntry",                 "otherUser",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["ledgerEntry",                 "owner",      ALLOW, ALLOW, DENY,  DENY,  DENY ],
  ["ledgerEntry",                 "admin",      ALLOW, ALLOW, DENY,  DENY,  DENY ],

  ["checkout",                    "anonymous",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["checkout",                    "otherUser",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["checkout",                    "owner",      DENY,  DENY,  DENY,  DENY,  DENY ],
  ["checkout",                    "admin",      DENY,  DENY,  DENY,  DENY,  DENY ],

  ["webhookEvent",                "anonymous",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["webhookEvent",                "otherUser",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["webhookEvent",                "owner",      DENY,  DENY,  DENY,  DENY,  DENY ],
  ["webhookEvent",                "admin",      ALLOW, ALLOW, DENY,  DENY,  DENY ],

  ["deadLetter",                  "anonymous",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["deadLetter",                  "otherUser",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["deadLetter",                  "owner",      DENY,  DENY,  DENY,  DENY,  DENY ],
  ["deadLetter",                  "admin",      ALLOW, ALLOW, DENY,  DENY,  DENY ],

  ["triggerEvent",                "anonymous",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["triggerEvent",                "otherUser",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["triggerEvent",                "owner",      DENY,  DENY,  DENY,  DENY,  DENY ],
  ["triggerEvent",                "admin",      DENY,  DENY,  DENY,  DENY,  DENY ],

  ["localProvider",               "anonymous",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["localProvider",               "otherUser",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["localProvider",               "owner",      DENY,  DENY,  DENY,  DENY,  DENY ],
  ["localProvider",               "admin",      DENY,  DENY,  DENY,  DENY,  DENY ],

  ["undeclaredCollection",        "anonymous",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["undeclaredCollection",        "otherUser",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["undeclaredCollection",        "owner",      DENY,  DENY,  DENY,  DENY,  DENY ],
  ["undeclaredCollection",        "admin",      DENY,  DENY,  DENY,  DENY,  DENY ],

  ["undeclaredUserSubcollection", "anonymous",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["undeclaredUserSubcollection", "otherUser",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["undeclaredUserSubcollection", "owner",      DENY,  DENY,  DENY,  DENY,  DENY ],
  ["undeclaredUserSubcollection", "admin",      DENY,  DENY,  DENY,  DENY,  DENY ],
];

interface Cell {
  name: string;
  target: Target;
  role: Role;
  operation: Operation;
  outcome: Outcome;
}

const CELLS: Cell[] = POLICY.flatMap(([targetName, role, ...outcomes]) =>
  OPERATIONS.map((operation, index): Cell => {
    const target: Target = TARGETS[targetName];
    const outcome = outcomes[index];
    if (outcome === undefined) {
      throw new Error(`POLICY row ${targetName}/${role} has no outcome for ${operation}`);
    }
    return {
      name: `${target.label} | ${role} | ${operation} → ${outcome}`,
      target,
      role,
      operation,
      outcome,
    };
  }),
);

const holder = new EnvironmentHolder();

beforeAll(async () => {
  holder.set(await createTestEnvironment(emulator));
});

beforeEach(async () => {
  await holder.get().clearFirestore();
});

afterAll(async () => {
  await holder.cleanup();
});

describe("the policy table", () => {
  test("has exactly one row per target × role", () => {
    const expected = Object.keys(TARGETS).flatMap((target) => ROLES.map((role) => `${target}/${role}`));
    const actual = POLICY.map(([target, role]) => `${target}/${role}`);
    expect([...actual].sort()).toEqual([...expected].sort());
  });

  test("targets read and write documents that the fixtures define", () => {
    for (const target of Object.values(TARGETS) as Target[]) {
      expect(SEED[target.doc]).toBeDefined();
      for (const path of target.listReturns) {
        expect(SEED[path]).toBeDefined();
      }
    }
  });
});

describe("access matrix", () => {
  test.each(CELLS)("$name", async ({ target, role, operation, outcome }) => {
    const testEnv = holder.get();
    await seed(testEnv, operation === "create" ? target.create.path : undefined);
    const db = dbFor(testEnv, role);
    await runCell(testEnv, db, target, operation, outcome);
  });
});

async function runCell(
  testEnv: RulesTestEnvironment,
  db: Firestore,
  target: Target,
  operation: Operation,
  outcome: Outcome,
): Promise<void> {
  const allowed = outcome === ALLOW;
  switch (operation) {
    case "get": {
      const request = getDoc(doc(db, target.doc));
      if (allowed) {
        const snapshot = await assertSucceeds(request);
        expect(snapshot.data()).toEqual(seedData(target.doc));
      } else {
        await assertFails(request);
      }
      return;
    }
    case "list": {
      const request = getDocs(target.list(db));
      if (allowed) {
        const snapshot = await assertSucceeds(request);
        expect(snapshot.docs.map((d) => d.ref.path).sort()).toEqual([...target.listReturns].sort());
      } else {
        await assertFails(request);
      }
      return;
    }
    case "create": {
      const request = setDoc(doc(db, target.create.path), target.create.data);
      if (allowed) {
        await assertSucceeds(request);
        expect(await readAsServer(testEnv, target.create.path)).toEqual(target.create.data);
      } else {
        await assertFails(request);
        expect(await readAsServer(testEnv, target.create.path)).toBeUndefined();
      }
      return;
    }
    case "update": {
      const request = updateDoc(doc(db, target.doc), target.update);
      if (allowed) {
        await assertSucceeds(request);
        expect(await readAsServer(testEnv, target.doc)).toEqual({
          ...seedData(target.doc),
          ...target.update,
        });
      } else {
        await assertFails(request);
        expect(await readAsServer(testEnv, target.doc)).toEqual(seedData(target.doc));
      }
      return;
    }
    case "delete": {
      const request = deleteDoc(doc(db, target.doc));
      if (allowed) {
        await assertSucceeds(request);
        expect(await readAsServer(testEnv, target.doc)).toBeUndefined();
      } else {
        await assertFails(request);
        expect(await readAsServer(testEnv, target.doc)).toEqual(seedData(target.doc));
      }
      return;
    }
  }
}
