import type { RulesTestEnvironment } from "@firebase/rules-unit-testing";
import { doc, getDoc, Timestamp, writeBatch, type DocumentData } from "firebase/firestore";

import {
  createTestEnvironment,
  emulatorFromEnv,
  EnvironmentHolder,
  firestoreOf,
  OTHER_UID,
  OWNER_UID,
} from "./env";

const CREATED = Timestamp.fromMillis(Date.UTC(2025, 0, 15, 9, 30));
const UPDATED = Timestamp.fromMillis(Date.UTC(2025, 0, 16, 12, 0));
const EXPIRES = Timestamp.fromMillis(Date.UTC(2025, 1, 15, 12, 0));

export const PUBLISHED_COURSE = "published-course";
export const DRAFT_COURSE = "draft-course";

export const PATHS = {
  publishedCourse: `courses/${PUBLISHED_COURSE}`,
  draftCourse: `courses/${DRAFT_COURSE}`,
  courseStats: `courseStats/${PUBLISHED_COURSE}`,
  ownerProfile: `users/${OWNER_UID}`,
  otherProfile: `users/${OTHER_UID}`,
  ownerEnrollment: `users/${OWNER_UID}/courses/${PUBLISHED_COURSE}`,
  otherEnrollment: `users/${OTHER_UID}/courses/${PUBLISHED_COURSE}`,
  ownerLedgerEntry: `users/${OWNER_UID}/courses/${PUBLISHED_COURSE}/ledger/pi_alice_1`,
  otherLedgerEntry: `users/${OTHER_UID}/courses/${PUBLISHED_COURSE}/ledger/pi_bob_1`,
  checkout: `checkouts/${OWNER_UID}_req-1`,
  previewLesson: `courses/${PUBLISHED_COURSE}/lessons/intro`,
  ownerProgress: `users/${OWNER_UID}/courses/${PUBLISHED_COURSE}/progress/intro`,
  paidLesson: `courses/${PUBLISHED_COURSE}/lessons/deep-dive`,
  draftPreviewLesson: `courses/${DRAFT_COURSE}/lessons/draft-intro`,
  webhookEvent: "webhookEvents/evt_1",
  deadLetter: "deadLetters/evt_unknown_user",
  triggerEvent: "triggerEvents/enrollment-write-1",
  adminAudit: "adminAudit/audit_1",
  rateLimit: `rateLimits/startPayment_${OWNER_UID}`,
  refundHold: "refundHolds/pi_alice_1",
  parkedEvent: "parkedEvents/evt_alice_refund",
  refundRequest: "refundRequests/rr_alice_1",
  localProviderPayment: "localProvider/pi_alice_1",
  integrityCheckpoint: "ops/ledgerIntegrity",
  undeclaredCollection: "notes/n1",
  undeclaredUserSubcollection: `users/${OWNER_UID}/settings/preferences`,
} as const;

/**
 * Everything the backend writes, shaped as functions/src/services/firestore/models.ts stores it
 * (money in minor units). Seeded with rules disabled before each test; tests compare reads and
 * post-write state against it.
 */
export const SEED: Readonly<Record<string, DocumentData>> = {
  [PATHS.publishedCourse]: course("Intro to Firestore", 4900, true),
  [PATHS.draftCourse]: course("Advanced rules (draft)", 9900, false),
  [PATHS.previewLesson]: lesson("Why Firestore", 1, true),
  [PATHS.ownerProgress]: { lessonId: "intro", completedAt: UPDATED },
  [PATHS.paidLesson]: lesson("Security rules in depth", 2, false),
  [PATHS.draftPreviewLesson]: lesson("Coming soon", 1, true),
  [PATHS.courseStats]: { enrolledCount: 2, paidCount: 0, revenue: 4000, updatedAt: UPDATED },
  [PATHS.ownerProfile]: {
    displayName: "Alice",
    photoURL: "https://example.com/alice.png",
    email: "alice@example.com",
    createdAt: CREATED,
  },
  [PATHS.otherProfile]: { displayName: "Bob", email: "bob@example.com", createdAt: CREATED },
  [PATHS.ownerEnrollment]: enrollment(OWNER_UID, "pi_alice_1", 2000),
  [PATHS.otherEnrollment]: enrollment(OTHER_UID, "pi_bob_1", 2000),
  [PATHS.ownerLedgerEntry]: ledgerEntry("pi_alice_1", 2000),
  [PATHS.otherLedgerEntry]: ledgerEntry("pi_bob_1", 2000),
  [PATHS.checkout]: {
    uid: OWNER_UID,
    courseId: PUBLISHED_COURSE,
    amount: 2900,
    currency: "eur",
    requestId: "req-1",
    idempotencyKey: "checkout:alice_req-1",
    provider: "local",
    isRemainingBalance: true,
    providerPaymentId: "pi_alice_2",
    clientSecret: "pi_alice_2_secret_x",
    status: "open",
    createdAt: CREATED,
    updatedAt: UPDATED,
  },
  [PATHS.webhookEvent]: {
    type: "payment_intent.succeeded",
    outcome: "applied",
    processedAt: UPDATED,
    expireAt: EXPIRES,
  },
  [PATHS.deadLetter]: {
    eventId: "evt_unknown_user",
    type: "payment_intent.succeeded",
    reason: "unknown-user",
    providerObjectId: "pi_ghost",
    createdAt: UPDATED,
  },
  [PATHS.triggerEvent]: { createdAt: UPDATED, expireAt: EXPIRES },
  [PATHS.adminAudit]: {
    action: "manual-payment",
    adminUid: "admin-1",
    uid: OWNER_UID,
    courseId: PUBLISHED_COURSE,
    ledgerEntryId: "manual_cash-1",
    amount: 1000,
    currency: "eur",
    createdAt: UPDATED,
  },
  [PATHS.rateLimit]: { windowStartMs: 1, count: 1, expireAt: EXPIRES },
  [PATHS.parkedEvent]: {
    eventId: "evt_alice_refund",
    eventType: "refund.created",
    providerObjectId: "re_alice_1",
    providerPaymentId: "pi_alice_2",
    owner: { uid: OWNER_UID, courseId: PUBLISHED_COURSE, via: "checkout" },
    source: "stripe",
    command: { kind: "applyEntries" },
    parkedAt: UPDATED,
    deadline: UPDATED,
  },
  [PATHS.refundHold]: {
    uid: OWNER_UID,
    courseId: PUBLISHED_COURSE,
    holds: { h_1: { amount: 500, refundId: null, heldAtMs: 1 } },
    answered: {},
    updatedAt: UPDATED,
  },
  [PATHS.refundRequest]: {
    uid: OWNER_UID,
    courseId: PUBLISHED_COURSE,
    paymentId: "pi_alice_1",
    requestId: "refund-req-1",
    requestedAmount: 500,
    amount: 500,
    idempotencyKey: "refund:pi_alice_1:500:refund-req-1",
    status: "answered",
    refundId: "re_alice_1",
    providerStatus: "succeeded",
    refusal: null,
    requestedBy: "admin-1",
    createdAt: UPDATED,
    updatedAt: UPDATED,
  },
  [PATHS.localProviderPayment]: {
    id: "pi_alice_1",
    chargeId: "ch_alice_1",
    amount: 2000,
    currency: "eur",
    idempotencyKey: "checkout:alice_req-0",
    clientSecret: "pi_alice_1_secret_x",
    metadata: { uid: OWNER_UID, courseId: PUBLISHED_COURSE },
    status: "succeeded",
    refunds: [],
    createdAt: CREATED,
  },
  [PATHS.integrityCheckpoint]: {
    cursor: `users/${OWNER_UID}/courses/${PUBLISHED_COURSE}`,
    lastRun: { scanned: 1, drifted: 0, repaired: 0, conflicts: 0 },
    updatedAt: UPDATED,
  },
  [PATHS.undeclaredCollection]: { text: "not part of the data model" },
  [PATHS.undeclaredUserSubcollection]: { theme: "dark" },
};

function course(title: string, price: number, published: boolean): DocumentData {
  return { title, price, currency: "eur", published, createdAt: CREATED, updatedAt: UPDATED };
}

function enrollment(uid: string, paymentId: string, amountPaid: number): DocumentData {
  return {
    uid,
    courseId: PUBLISHED_COURSE,
    price: 4900,
    currency: "eur",
    amountPaid,
    amountDue: 4900 - amountPaid,
    amountOverpaid: 0,
    paymentStatus: "partial",
    accessStatus: "locked",
    ledgerCount: 1,
    refundCount: 0,
    refundedByPayment: { [paymentId]: 0 },
    openDisputes: 0,
    disputes: {},
    openCheckout: null,
    createdAt: CREATED,
    updatedAt: UPDATED,
  };
}

function ledgerEntry(providerPaymentId: string, amount: number): DocumentData {
  return {
    amount,
    currency: "eur",
    type: "payment",
    source: "stripe",
    providerPaymentId,
    providerRefundId: null,
    eventId: `evt_${providerPaymentId}`,
    createdAt: CREATED,
  };
}

export function seedData(path: string): DocumentData {
  const data = SEED[path];
  if (data === undefined) {
    throw new Error(`No seed document at ${path}`);
  }
  return data;
}

/** Writes SEED with rules disabled, leaving out `except` (a document a test wants to create). */
export async function seed(testEnv: RulesTestEnvironment, except?: string): Promise<void> {
  await testEnv.withSecurityRulesDisabled(async (context) => {
    const db = firestoreOf(context);
    const batch = writeBatch(db);
    for (const [path, data] of Object.entries(SEED)) {
      if (path !== except) {
        batch.set(doc(db, path), data);
      }
    }
    await batch.commit();
  });
}

/** The document as stored (read with rules disabled), or undefined when it does not exist. */
export async function readAsServer(
  testEnv: RulesTestEnvironment,
  path: string,
): Promise<DocumentData | undefined> {
  let data: DocumentData | undefined;
  await testEnv.withSecurityRulesDisabled(async (context) => {
    const snapshot = await getDoc(doc(firestoreOf(context), path));
    data = snapshot.data();
  });
  return data;
}

/**
 * Registers the hooks most test files share: create the environment for the emulator in
 * FIRESTORE_EMULATOR_HOST (failing the file loudly when there is none), clear and re-seed before
 * each test, clean up at the end. Call once at a file's top level.
 */
export function useSeededEnvironment(): EnvironmentHolder {
  const emulator = emulatorFromEnv();
  const holder = new EnvironmentHolder();
  beforeAll(async () => {
    holder.set(await createTestEnvironment(emulator));
  });
  beforeEach(async () => {
    const testEnv = holder.get();
    await testEnv.clearFirestore();
    await seed(testEnv);
  });
  afterAll(async () => {
    await holder.cleanup();
  });
  return holder;
}

function lesson(title: string, order: number, preview: boolean): DocumentData {
  return { title, order, preview, body: `${title}: the lesson text.`, mediaRef: null, updatedAt: UPDATED };
}
