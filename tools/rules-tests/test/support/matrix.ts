/**
 * The access matrix for firestore.rules as data: every collection × role × operation, with the
 * expected outcome of each cell written out in POLICY below, and one way to run a cell. Two
 * runners use it: matrix.test.ts (the Node SDK through @firebase/rules-unit-testing, gRPC) and
 * matrix.browser.test.ts (the web SDK in headless Chromium, WebChannel). Each cell starts from a
 * cleared, freshly seeded database, runs one client request through a CellClient and checks both
 * the rules' verdict and the stored result (a denied write leaves the document as seeded, an
 * allowed read returns the seeded data).
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

import { OWNER_UID, type Role } from "./env";
import { DRAFT_COURSE, PATHS, PUBLISHED_COURSE, readAsServer, seed, seedData } from "./fixtures";

/** A list query as data, so that any client (Node or browser) can build it: a collection path and at most one equality filter. */
export interface ListQuery {
  path: string;
  where?: readonly [field: string, op: "==", value: unknown];
}

export const OPERATIONS = ["get", "list", "create", "update", "delete"] as const;
export type Operation = (typeof OPERATIONS)[number];

export const ALLOW = "allow";
export const DENY = "deny";
export type Outcome = typeof ALLOW | typeof DENY;

/** What one row of the matrix exercises. "owner" always means OWNER_UID (alice). */
export interface Target {
  /** Shown in test names. */
  label: string;
  /** A seeded document: read by `get`, changed by `update`, removed by `delete`. */
  doc: string;
  /** The query a client of this collection would run for `list`. */
  list: ListQuery;
  /** Paths that query returns when it is allowed. */
  listReturns: readonly string[];
  /** A document `create` writes; the test seeds everything except this path. */
  create: { path: string; data: DocumentData };
  /** The fields `update` sets on `doc` (what a malicious or careless client would send). */
  update: DocumentData;
}

export const TARGETS = {
  publishedCourse: {
    label: "courses (published)",
    doc: PATHS.publishedCourse,
    list: { path: "courses", where: ["published", "==", true] },
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
    list: { path: "courses" },
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
    list: { path: "courseStats" },
    listReturns: [PATHS.courseStats],
    create: { path: `courseStats/${DRAFT_COURSE}`, data: { enrolledCount: 0, paidCount: 0, revenue: 0 } },
    update: { revenue: 0 },
  },
  userProfile: {
    label: "users/{uid}",
    doc: PATHS.ownerProfile,
    list: { path: "users" },
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
    list: { path: `users/${OWNER_UID}/courses` },
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
    list: { path: `users/${OWNER_UID}/courses/${PUBLISHED_COURSE}/ledger` },
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
    list: { path: "checkouts" },
    listReturns: [PATHS.checkout],
    create: { path: `checkouts/${OWNER_UID}_req-2`, data: { uid: OWNER_UID, amount: 1, currency: "eur" } },
    update: { amount: 1 },
  },
  webhookEvent: {
    label: "webhookEvents",
    doc: PATHS.webhookEvent,
    list: { path: "webhookEvents" },
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
    list: { path: "deadLetters" },
    listReturns: [PATHS.deadLetter],
    create: { path: "deadLetters/evt_forged", data: { eventId: "evt_forged", reason: "unknown-user" } },
    update: { reason: "resolved" },
  },
  triggerEvent: {
    label: "triggerEvents",
    doc: PATHS.triggerEvent,
    list: { path: "triggerEvents" },
    listReturns: [PATHS.triggerEvent],
    create: { path: "triggerEvents/forged", data: { createdAt: null, expireAt: null } },
    update: { expireAt: null },
  },
  opsSummary: {
    label: "ops",
    doc: PATHS.opsSummary,
    list: { path: "ops" },
    listReturns: [PATHS.opsSummary],
    create: { path: "ops/forged", data: { now: {} } },
    update: { now: { deadLetters: 0 } },
  },
  adminAudit: {
    label: "adminAudit",
    doc: PATHS.adminAudit,
    list: { path: "adminAudit" },
    listReturns: [PATHS.adminAudit],
    create: { path: "adminAudit/forged", data: { adminUid: "someone", amount: 1 } },
    update: { adminUid: "someone-else" },
  },
  rateLimit: {
    label: "rateLimits",
    doc: PATHS.rateLimit,
    list: { path: "rateLimits" },
    listReturns: [PATHS.rateLimit],
    create: { path: "rateLimits/startPayment_forged", data: { windowStartMs: 0, count: 0 } },
    update: { count: 0 },
  },
  refundHold: {
    label: "refundHolds",
    doc: PATHS.refundHold,
    list: { path: "refundHolds" },
    listReturns: [PATHS.refundHold],
    create: { path: "refundHolds/pi_forged", data: { uid: "someone", holds: {} } },
    update: { holds: {} },
  },
  ownerProgress: {
    label: "progress (the owner's completed lessons)",
    doc: PATHS.ownerProgress,
    list: { path: `users/${OWNER_UID}/courses/${PUBLISHED_COURSE}/progress` },
    listReturns: [PATHS.ownerProgress],
    create: {
      path: `users/${OWNER_UID}/courses/${PUBLISHED_COURSE}/progress/deep-dive`,
      data: { lessonId: "deep-dive", completedAt: 0 },
    },
    update: { completedAt: 0 },
  },
  previewLesson: {
    label: "lessons (preview of a published course; list constrained)",
    doc: PATHS.previewLesson,
    list: { path: `courses/${PUBLISHED_COURSE}/lessons`, where: ["preview", "==", true] },
    listReturns: [PATHS.previewLesson],
    create: {
      path: `courses/${PUBLISHED_COURSE}/lessons/forged`,
      data: { title: "Forged", order: 9, preview: true },
    },
    update: { preview: false },
  },
  paidLesson: {
    label: "lessons (paid content; the owner's enrollment is locked; list unconstrained)",
    doc: PATHS.paidLesson,
    list: { path: `courses/${PUBLISHED_COURSE}/lessons` },
    listReturns: [PATHS.paidLesson, PATHS.previewLesson],
    create: {
      path: `courses/${PUBLISHED_COURSE}/lessons/forged-paid`,
      data: { title: "Forged", order: 9, preview: false },
    },
    update: { preview: true },
  },
  draftPreviewLesson: {
    label: "lessons (preview of an unpublished course)",
    doc: PATHS.draftPreviewLesson,
    list: { path: `courses/${DRAFT_COURSE}/lessons`, where: ["preview", "==", true] },
    listReturns: [PATHS.draftPreviewLesson],
    create: {
      path: `courses/${DRAFT_COURSE}/lessons/forged`,
      data: { title: "Forged", order: 9, preview: true },
    },
    update: { title: "Leaked" },
  },
  quiz: {
    label: "quizzes (the owner's enrollment is locked; list unconstrained)",
    doc: PATHS.quiz,
    list: { path: `courses/${PUBLISHED_COURSE}/quizzes` },
    listReturns: [PATHS.quiz],
    create: { path: `courses/${PUBLISHED_COURSE}/quizzes/forged`, data: { title: "Forged", questions: [] } },
    update: { maxScore: 0 },
  },
  quizKey: {
    label: "quizKeys (answer keys)",
    doc: PATHS.quizKey,
    list: { path: `courses/${PUBLISHED_COURSE}/quizKeys` },
    listReturns: [PATHS.quizKey],
    create: { path: `courses/${PUBLISHED_COURSE}/quizKeys/forged`, data: { key: [] } },
    update: { key: [{ questionId: "q1", correct: ["a"] }] },
  },
  ownerQuizAttempt: {
    label: "users/{uid}/courses/{courseId}/quizAttempts",
    doc: PATHS.ownerQuizAttempt,
    list: { path: `users/${OWNER_UID}/courses/${PUBLISHED_COURSE}/quizAttempts` },
    listReturns: [PATHS.ownerQuizAttempt],
    create: {
      path: `users/${OWNER_UID}/courses/${PUBLISHED_COURSE}/quizAttempts/forged`,
      data: { quizId: "quiz-1", score: 1, maxScore: 1 },
    },
    update: { score: 1 },
  },
  ownerQuizResult: {
    label: "users/{uid}/courses/{courseId}/quizResults",
    doc: PATHS.ownerQuizResult,
    list: { path: `users/${OWNER_UID}/courses/${PUBLISHED_COURSE}/quizResults` },
    listReturns: [PATHS.ownerQuizResult],
    create: {
      path: `users/${OWNER_UID}/courses/${PUBLISHED_COURSE}/quizResults/quiz-2`,
      data: { quizId: "quiz-2", attemptCount: 1, bestScore: 99 },
    },
    update: { bestScore: 1 },
  },
  parkedEvent: {
    label: "parkedEvents",
    doc: PATHS.parkedEvent,
    list: { path: "parkedEvents" },
    listReturns: [PATHS.parkedEvent],
    create: {
      path: "parkedEvents/evt_forged",
      data: { providerPaymentId: "pi_x", owner: { uid: "someone" } },
    },
    update: { deadline: 0 },
  },
  refundRequest: {
    label: "refundRequests",
    doc: PATHS.refundRequest,
    list: { path: "refundRequests" },
    listReturns: [PATHS.refundRequest],
    create: {
      path: "refundRequests/rr_forged",
      data: { uid: "someone", status: "answered", refundId: "re_x" },
    },
    update: { status: "pending" },
  },
  localProvider: {
    label: "localProvider",
    doc: PATHS.localProviderPayment,
    list: { path: "localProvider" },
    listReturns: [PATHS.localProviderPayment],
    create: { path: "localProvider/pi_forged", data: { status: "succeeded", amount: 2900 } },
    update: { status: "succeeded" },
  },

  undeclaredCollection: {
    label: "notes (no rules: deny by default)",
    doc: PATHS.undeclaredCollection,
    list: { path: "notes" },
    listReturns: [PATHS.undeclaredCollection],
    create: { path: "notes/n2", data: { text: "hello" } },
    update: { text: "changed" },
  },
  undeclaredUserSubcollection: {
    label: "users/{uid}/settings (no rules: deny by default)",
    doc: PATHS.undeclaredUserSubcollection,
    list: { path: `users/${OWNER_UID}/settings` },
    listReturns: [PATHS.undeclaredUserSubcollection],
    create: { path: `users/${OWNER_UID}/settings/new`, data: { theme: "light" } },
    update: { theme: "light" },
  },
} satisfies Record<string, Target>;

export type TargetName = keyof typeof TARGETS;
export type PolicyRow = readonly [TargetName, Role, Outcome, Outcome, Outcome, Outcome, Outcome];

/**
 * The policy. Roles: anonymous = signed out; owner = alice, who owns every user-scoped fixture;
 * otherUser = bob, signed in, owns none of them; admin = carol with custom claim admin: true.
 */
// prettier-ignore
export const POLICY: readonly PolicyRow[] = [
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

  ["opsSummary",                  "anonymous",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["opsSummary",                  "otherUser",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["opsSummary",                  "owner",      DENY,  DENY,  DENY,  DENY,  DENY ],
  ["opsSummary",                  "admin",      ALLOW, ALLOW, DENY,  DENY,  DENY ],

  ["adminAudit",                  "anonymous",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["adminAudit",                  "otherUser",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["adminAudit",                  "owner",      DENY,  DENY,  DENY,  DENY,  DENY ],
  ["adminAudit",                  "admin",      ALLOW, ALLOW, DENY,  DENY,  DENY ],

  ["rateLimit",                   "anonymous",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["rateLimit",                   "otherUser",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["rateLimit",                   "owner",      DENY,  DENY,  DENY,  DENY,  DENY ],
  ["rateLimit",                   "admin",      DENY,  DENY,  DENY,  DENY,  DENY ],

  ["refundHold",                  "anonymous",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["refundHold",                  "otherUser",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["refundHold",                  "owner",      DENY,  DENY,  DENY,  DENY,  DENY ],
  ["refundHold",                  "admin",      DENY,  DENY,  DENY,  DENY,  DENY ],
  ["ownerProgress",               "anonymous",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["ownerProgress",               "otherUser",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["ownerProgress",               "owner",      ALLOW, ALLOW, DENY,  DENY,  DENY ],
  ["ownerProgress",               "admin",      ALLOW, ALLOW, DENY,  DENY,  DENY ],
  ["previewLesson",               "anonymous",  ALLOW, ALLOW, DENY,  DENY,  DENY ],
  ["previewLesson",               "otherUser",  ALLOW, ALLOW, DENY,  DENY,  DENY ],
  ["previewLesson",               "owner",      ALLOW, ALLOW, DENY,  DENY,  DENY ],
  ["previewLesson",               "admin",      ALLOW, ALLOW, DENY,  DENY,  DENY ],
  ["paidLesson",                  "anonymous",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["paidLesson",                  "otherUser",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["paidLesson",                  "owner",      DENY,  DENY,  DENY,  DENY,  DENY ],
  ["paidLesson",                  "admin",      ALLOW, ALLOW, DENY,  DENY,  DENY ],
  ["draftPreviewLesson",          "anonymous",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["draftPreviewLesson",          "otherUser",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["draftPreviewLesson",          "owner",      DENY,  DENY,  DENY,  DENY,  DENY ],
  ["draftPreviewLesson",          "admin",      ALLOW, ALLOW, DENY,  DENY,  DENY ],
  ["quiz",                        "anonymous",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["quiz",                        "otherUser",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["quiz",                        "owner",      DENY,  DENY,  DENY,  DENY,  DENY ],
  ["quiz",                        "admin",      ALLOW, ALLOW, DENY,  DENY,  DENY ],
  ["quizKey",                     "anonymous",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["quizKey",                     "otherUser",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["quizKey",                     "owner",      DENY,  DENY,  DENY,  DENY,  DENY ],
  ["quizKey",                     "admin",      DENY,  DENY,  DENY,  DENY,  DENY ],
  ["ownerQuizAttempt",            "anonymous",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["ownerQuizAttempt",            "otherUser",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["ownerQuizAttempt",            "owner",      ALLOW, ALLOW, DENY,  DENY,  DENY ],
  ["ownerQuizAttempt",            "admin",      ALLOW, ALLOW, DENY,  DENY,  DENY ],
  ["ownerQuizResult",             "anonymous",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["ownerQuizResult",             "otherUser",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["ownerQuizResult",             "owner",      ALLOW, ALLOW, DENY,  DENY,  DENY ],
  ["ownerQuizResult",             "admin",      ALLOW, ALLOW, DENY,  DENY,  DENY ],
  ["parkedEvent",                 "anonymous",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["parkedEvent",                 "otherUser",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["parkedEvent",                 "owner",      DENY,  DENY,  DENY,  DENY,  DENY ],
  ["parkedEvent",                 "admin",      DENY,  DENY,  DENY,  DENY,  DENY ],

  ["refundRequest",               "anonymous",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["refundRequest",               "otherUser",  DENY,  DENY,  DENY,  DENY,  DENY ],
  ["refundRequest",               "owner",      DENY,  DENY,  DENY,  DENY,  DENY ],
  ["refundRequest",               "admin",      DENY,  DENY,  DENY,  DENY,  DENY ],

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

export interface Cell {
  name: string;
  target: Target;
  role: Role;
  operation: Operation;
  outcome: Outcome;
}

export const CELLS: Cell[] = POLICY.flatMap(([targetName, role, ...outcomes]) =>
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

/**
 * One client request per operation, as a role's SDK makes it. Reads resolve with plain data (JSON
 * values; timestamps as their toJSON() form); a denied request rejects with the SDK's error (its
 * `code` is "permission-denied").
 */
export interface CellClient {
  get(path: string): Promise<DocumentData | undefined>;
  list(list: ListQuery): Promise<string[]>;
  create(path: string, data: DocumentData): Promise<void>;
  update(path: string, data: DocumentData): Promise<void>;
  delete(path: string): Promise<void>;
}

/** Data as it crosses a JSON boundary (the browser runner's): timestamps become their toJSON() form. */
export function plain(data: DocumentData | undefined): unknown {
  return data === undefined ? undefined : (JSON.parse(JSON.stringify(data)) as unknown);
}

export function listQuery(db: Firestore, list: ListQuery): Query {
  const ref = collection(db, list.path);
  return list.where === undefined ? ref : query(ref, where(...list.where));
}

/** The CellClient for a modular Node SDK instance (rules-unit-testing's contexts). */
export function sdkClient(db: Firestore): CellClient {
  return {
    get: async (path) => plain((await getDoc(doc(db, path))).data()) as DocumentData | undefined,
    list: async (list) => (await getDocs(listQuery(db, list))).docs.map((d) => d.ref.path),
    create: (path, data) => setDoc(doc(db, path), data),
    update: (path, data) => updateDoc(doc(db, path), data),
    delete: (path) => deleteDoc(doc(db, path)),
  };
}

/** Seeds the database, runs the cell's request through `client` and checks verdict and stored state. */
export async function runCell(testEnv: RulesTestEnvironment, client: CellClient, cell: Cell): Promise<void> {
  const { target, operation, outcome } = cell;
  await seed(testEnv, operation === "create" ? target.create.path : undefined);
  const allowed = outcome === ALLOW;
  switch (operation) {
    case "get": {
      const request = client.get(target.doc);
      if (allowed) {
        expect(await assertSucceeds(request)).toEqual(plain(seedData(target.doc)));
      } else {
        await assertFails(request);
      }
      return;
    }
    case "list": {
      const request = client.list(target.list);
      if (allowed) {
        expect((await assertSucceeds(request)).sort()).toEqual([...target.listReturns].sort());
      } else {
        await assertFails(request);
      }
      return;
    }
    case "create": {
      const request = client.create(target.create.path, target.create.data);
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
      const request = client.update(target.doc, target.update);
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
      const request = client.delete(target.doc);
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
