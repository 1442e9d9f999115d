/**
 * Provider reconciliation (services/reconciliationService): the local provider records every event it sends, as
 * Stripe keeps them; a deliverer that drops some of them stands for a broken endpoint. Reconciliation applies
 * exactly what was dropped, once — run again, concurrently, and racing the late deliveries of the dropped events.
 */
import { reconcilePayments } from "../../src/functions/reconcilePayments";
import { setPaymentProviderForTesting } from "../../src/services/payments";
import { LocalPaymentProvider } from "../../src/services/payments/local/localProvider";
import { reconcileRange, reconcileScheduled, SETTLE_MS } from "../../src/services/reconciliationService";
import { firestore } from "../../src/shared/admin";
import {
  ADMIN,
  call,
  createCourse,
  enroll,
  expectHttpsError,
  ledgerSum,
  postWebhook,
  readDoc,
  refundPayment,
  snapshotAll,
  startPayment,
} from "../support/harness";
import { TEST_WEBHOOK_SECRET, useLocalFirestore } from "../support/localFirestore";

const lf = useLocalFirestore();

const STUDENTS = ["r1", "r2", "r3", "r4"];
let provider: LocalPaymentProvider;
/** Signed deliveries the "endpoint" never got, by event id. */
let dropped: Map<string, { rawBody: string; signature: string }>;
let sent = 0;

beforeEach(async () => {
  dropped = new Map();
  sent = 0;
  provider = new LocalPaymentProvider({
    webhookSecret: () => TEST_WEBHOOK_SECRET,
    // Some events are lost on their way (the provider sent them; the webhook never saw them): r2's and r4's
    // payments and r1's refund.
    deliver: async (rawBody, signature) => {
      sent++;
      const event = JSON.parse(rawBody) as {
        type: string;
        data: { object: { metadata?: { uid?: string } } };
      };
      const uid = event.data.object.metadata?.uid;
      const lost = event.type.startsWith("payment_intent.") ? uid === "r2" || uid === "r4" : uid === "r1";
      if (lost) {
        dropped.set((JSON.parse(rawBody) as { id: string }).id, { rawBody, signature });
        return 503;
      }
      return (await postWebhook(rawBody, signature)).status;
    },
  });
  setPaymentProviderForTesting(provider);
  await createCourse("c1", 1000);
  for (const uid of STUDENTS) await enroll(uid, "c1");
});
afterAll(() => {
  setPaymentProviderForTesting(undefined);
});

/** Each student pays in full; r1 and r3 are then refunded 300 (refund events go through the same lossy pipe). */
async function payAndRefund(): Promise<void> {
  for (const [i, uid] of STUDENTS.entries()) {
    const started = await call(startPayment, { uid }, { courseId: "c1", requestId: `req-recon-${i}` });
    await provider.confirmPayment(started.paymentId);
    if (uid === "r1" || uid === "r3") {
      await call(refundPayment, ADMIN, {
        uid,
        courseId: "c1",
        paymentId: started.paymentId,
        amount: 300,
        requestId: `refund-recon-${i}`,
      });
    }
  }
}

/** The money movements whose events were all lost: r2's and r4's payments, r1's refund. */
const MOVEMENTS_LOST = 3;

const expected = (uid: string) => (uid === "r1" || uid === "r3" ? 700 : 1000);

async function expectExact(): Promise<void> {
  for (const uid of STUDENTS) {
    const { sum } = await ledgerSum(uid, "c1");
    expect({ uid, sum }).toEqual({ uid, sum: expected(uid) });
    expect(await readDoc(`users/${uid}/courses/c1`)).toMatchObject({ amountPaid: expected(uid) });
  }
}

const everything = () => ({ fromMs: Date.now() - 3600_000, toMs: Date.now() + 60_000 });

describe("reconciliation", () => {
  it("applies exactly the events the webhook missed; a second run changes nothing", async () => {
    await payAndRefund();
    expect(dropped.size).toBeGreaterThan(0);
    const before = await Promise.all(STUDENTS.map(async (uid) => (await ledgerSum(uid, "c1")).sum));
    expect(before).not.toEqual(STUDENTS.map(expected));

    const report = await reconcileRange(everything());
    expect(report.listed).toBe(sent);
    // Three money movements were lost (r2's and r4's payments, r1's refund, which the provider reports in two
    // events: the refund event applies it, the charge event without a refund list is a no-op); everything else
    // had been processed.
    expect(report.outcomes).toMatchObject({
      applied: MOVEMENTS_LOST,
      noop: 1,
      duplicate: sent - MOVEMENTS_LOST - 1,
    });
    expect(report.cursor).toBeNull();
    await expectExact();

    const after = await snapshotAll();
    const again = await reconcileRange(everything());
    expect(again.outcomes).toMatchObject({ applied: 0, duplicate: sent });
    expect(await snapshotAll()).toEqual(after);
  });

  it("runs concurrently with each other and with the late deliveries of the dropped events: each applies once", async () => {
    await payAndRefund();
    const late = [...dropped.values()];
    await Promise.all([
      reconcileRange(everything()),
      reconcileRange(everything()),
      ...late.map((d) => postWebhook(d.rawBody, d.signature)),
      reconcileRange(everything()),
      ...late.map((d) => postWebhook(d.rawBody, d.signature)),
    ]);
    await expectExact();
    const entries = await firestore().collectionGroup("ledger").get();
    expect(entries.size).toBe(STUDENTS.length + 2);
  });

  it("is bounded: `limit` events per run, continued from the cursor", async () => {
    await payAndRefund();
    let cursor: string | null = null;
    let runs = 0;
    let listed = 0;
    do {
      const report = await reconcileRange({ ...everything(), limit: 2, startingAfter: cursor });
      expect(report.listed).toBeLessThanOrEqual(2);
      listed += report.listed;
      cursor = report.cursor;
      runs++;
    } while (cursor !== null && runs < 20);
    expect(listed).toBe(sent);
    expect(runs).toBe(Math.ceil(sent / 2) + (sent % 2 === 0 ? 1 : 0));
    await expectExact();
  });

  it("the scheduled run keeps a checkpoint: the first looks back 3 days, the next starts an hour before the last ended", async () => {
    await payAndRefund();
    const now = Date.now() + SETTLE_MS + 60_000;
    const first = await reconcileScheduled(now);
    expect(first.outcomes.applied).toBe(MOVEMENTS_LOST);
    expect(Date.parse(first.from)).toBe(now - 72 * 3600_000);
    expect(Date.parse(first.to)).toBe(now - SETTLE_MS);
    expect(await readDoc("ops/reconciliation")).toMatchObject({
      cursor: null,
      done: true,
      toMs: now - SETTLE_MS,
    });
    await expectExact();
    const second = await reconcileScheduled(now + 3600_000);
    expect(Date.parse(second.from)).toBe(now - SETTLE_MS - 3600_000);
    expect(second.outcomes.applied).toBe(0);
  });

  it("a run with transient failures leaves its window to be done again; the next run applies what they missed", async () => {
    await payAndRefund();
    const now = Date.now() + SETTLE_MS + 60_000;
    // Every commit touching an enrollment times out (its outcome unknown): the lost movements cannot apply now.
    lf.server().faults.inject({
      method: "Commit",
      kind: "deadline-exceeded",
      probability: 1,
      pathContains: "users/",
    });
    const failing = await reconcileScheduled(now);
    lf.server().faults.clear();
    // Nothing applied: every commit of a lost movement failed (at least the three of them).
    expect(failing.outcomes.applied).toBe(0);
    expect(failing.outcomes.failed).toBeGreaterThanOrEqual(MOVEMENTS_LOST);
    expect(await readDoc("ops/reconciliation")).toMatchObject({
      done: false,
      cursor: null,
      fromMs: now - 72 * 3600_000,
    });
    // The next run works through the same window, not the next one.
    const next = await reconcileScheduled(now + 3600_000);
    expect(Date.parse(next.from)).toBe(now - 72 * 3600_000);
    expect(next.outcomes).toMatchObject({ applied: MOVEMENTS_LOST, failed: 0 });
    expect(await readDoc("ops/reconciliation")).toMatchObject({ done: true, cursor: null });
    await expectExact();
  }, 120_000);

  it("an event that fails for good (corrupt stored data) is dead-lettered and the rest of the run goes on", async () => {
    await payAndRefund();
    // r2's enrollment can no longer be read (a price someone typed as text): its lost payment cannot apply.
    await firestore().doc("users/r2/courses/c1").update({ price: "10.00" });
    const report = await reconcileRange(everything());
    expect(report.outcomes).toMatchObject({ applied: MOVEMENTS_LOST - 1, "dead-lettered": 1, failed: 0 });
    const deadLetters = await firestore().collection("deadLetters").get();
    expect(deadLetters.docs.map((d) => d.get("reason") as unknown)).toEqual(["internal-error"]);
    expect((await ledgerSum("r4", "c1")).sum).toBe(1000);
    expect((await ledgerSum("r1", "c1")).sum).toBe(700);
    // The next run does not stop at it either: it is recorded, so a duplicate now.
    expect((await reconcileRange(everything())).outcomes).toMatchObject({ applied: 0, "dead-lettered": 0 });
  });

  it("reconcilePayments: admins only, a bounded range, then the same run", async () => {
    await payAndRefund();
    const range = {
      from: new Date(Date.now() - 3600_000).toISOString(),
      to: new Date(Date.now() + 60_000).toISOString(),
    };
    await expectHttpsError(call(reconcilePayments, { uid: "r1" }, range), "permission-denied");
    await expectHttpsError(
      call(reconcilePayments, ADMIN, { from: range.to, to: range.from }),
      "invalid-argument",
    );
    await expectHttpsError(
      call(reconcilePayments, ADMIN, { from: "2026-01-01T00:00:00Z", to: "2026-03-01T00:00:00Z" }),
      "invalid-argument",
    );
    const report = await call(reconcilePayments, ADMIN, range);
    expect(report.outcomes.applied).toBe(MOVEMENTS_LOST);
    await expectExact();
  });
});
