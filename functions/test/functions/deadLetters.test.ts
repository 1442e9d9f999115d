/**
 * Dead-letter operations (services/deadLetterService) through the deployed callables, against the local Firestore:
 * a dead letter's original event is fetched from the provider (the local provider keeps what it sent) and replayed
 * through the webhook's exactly-once path once its cause is fixed — once, however often and however concurrently
 * it is replayed —; a dismissal is audited and blocks replay; non-admins are refused.
 */
import { dismissDeadLetter } from "../../src/functions/dismissDeadLetter";
import { getDeadLetter } from "../../src/functions/getDeadLetter";
import { listDeadLetters } from "../../src/functions/listDeadLetters";
import { replayDeadLetter } from "../../src/functions/replayDeadLetter";
import { setPaymentProviderForTesting } from "../../src/services/payments";
import { paymentSucceededEvent, type LocalPaymentView } from "../../src/services/payments/local/localEvents";
import type { LocalPaymentProvider } from "../../src/services/payments/local/localProvider";
import { firestore } from "../../src/shared/admin";
import {
  ADMIN,
  call,
  createCourse,
  enroll,
  expectHttpsError,
  installLocalProvider,
  ledgerSum,
  readDoc,
} from "../support/harness";
import { useLocalFirestore } from "../support/localFirestore";
import { deliverStripeEvent, outcomeOf, stripePaymentIntent } from "../support/stripeShapes";

useLocalFirestore();
const UID = "student-late";
const ENROLLMENT = `users/${UID}/courses/c1`;
let provider: LocalPaymentProvider;

beforeEach(async () => {
  provider = installLocalProvider();
  await createCourse("c1", 1000);
});
afterAll(() => {
  setPaymentProviderForTesting(undefined);
});

const view = (id: string, amount: number, uid = UID): LocalPaymentView => ({
  id,
  chargeId: `ch_${id}`,
  amount,
  currency: "usd",
  metadata: { uid, courseId: "c1" },
  refunds: [],
});

/** The provider sends a payment of a student who is not enrolled (yet): dead-lettered `unknown-enrollment`. */
async function deadLetteredPayment(eventId: string, paymentId: string, amount = 1000): Promise<void> {
  await provider.send(paymentSucceededEvent(view(paymentId, amount), eventId));
  expect(await readDoc(`deadLetters/${eventId}`)).toMatchObject({
    reason: "unknown-enrollment",
    status: "open",
  });
}

async function auditRecords(): Promise<Record<string, unknown>[]> {
  return (await firestore().collection("adminAudit").get()).docs.map((d) => d.data());
}

const replay = (id: string, requestId?: string) =>
  call(replayDeadLetter, ADMIN, { id, ...(requestId === undefined ? {} : { requestId }) });

describe("replayDeadLetter", () => {
  it("still failing: stays open and says why; once the student enrolls: applies once, audited", async () => {
    await deadLetteredPayment("evt_late1", "pi_late1");
    // The cause is not fixed yet: nothing applied, the dead letter stays open and says why.
    expect(await replay("evt_late1", "req-replay-early")).toEqual({
      id: "evt_late1",
      status: "open",
      outcome: "dead-lettered",
      reason: "unknown-enrollment",
    });
    expect(await readDoc("deadLetters/evt_late1")).toMatchObject({
      status: "open",
      lastReplay: { by: ADMIN.uid, reason: "unknown-enrollment" },
    });
    expect(await auditRecords()).toEqual([
      expect.objectContaining({ action: "dead-letter-replay-failed", outcome: "unknown-enrollment" }),
    ]);

    await enroll(UID, "c1");
    const inspected = await call(getDeadLetter, ADMIN, { id: "evt_late1" });
    expect(inspected.replay).toMatchObject({
      retrievable: true,
      command: "applyEntries",
      uid: UID,
      courseId: "c1",
      enrollmentExists: true,
      entries: [{ id: "pi_late1", type: "payment", amount: 1000, currency: "usd" }],
    });

    expect(await replay("evt_late1", "req-replay-1")).toEqual({
      id: "evt_late1",
      status: "replayed",
      outcome: "applied",
      reason: null,
    });
    expect(await ledgerSum(UID, "c1")).toEqual({ sum: 1000, ids: ["pi_late1"] });
    expect(await readDoc(ENROLLMENT)).toMatchObject({
      amountPaid: 1000,
      ledgerCount: 1,
      paymentStatus: "paid",
      accessStatus: "active",
    });
    expect(await readDoc("deadLetters/evt_late1")).toMatchObject({
      status: "replayed",
      resolution: { by: ADMIN.uid, outcome: "applied", note: null, requestId: "req-replay-1" },
    });
    expect((await auditRecords()).filter((a) => a.action === "dead-letter-replay")).toEqual([
      expect.objectContaining({ adminUid: ADMIN.uid, deadLetterId: "evt_late1", outcome: "applied" }),
    ]);

    // A retry of the same request gets the same answer; another replay is refused; nothing moves again.
    expect(await replay("evt_late1", "req-replay-1")).toMatchObject({
      status: "replayed",
      outcome: "applied",
    });
    await expectHttpsError(replay("evt_late1", "req-replay-2"), "failed-precondition");
    await expectHttpsError(replay("evt_late1"), "failed-precondition");
    // The provider redelivering the original event: still the dead-lettered record's duplicate.
    expect(
      await outcomeOf(
        deliverStripeEvent(
          "evt_late1",
          "payment_intent.succeeded",
          stripePaymentIntent({
            id: "pi_late1",
            amount: 1000,
            currency: "usd",
            metadata: { uid: UID, courseId: "c1" },
          }),
        ),
      ),
    ).toBe("duplicate");
    expect(await ledgerSum(UID, "c1")).toEqual({ sum: 1000, ids: ["pi_late1"] });
    expect(await readDoc(ENROLLMENT)).toMatchObject({ amountPaid: 1000, ledgerCount: 1 });
    expect(await call(getDeadLetter, ADMIN, { id: "evt_late1" })).toMatchObject({
      deadLetter: { status: "replayed" },
      replay: null,
    });
  });

  it("4 concurrent replays apply it once: one answers applied, the others are refused", async () => {
    await deadLetteredPayment("evt_late2", "pi_late2", 700);
    await enroll(UID, "c1");
    const results = await Promise.allSettled(
      [1, 2, 3, 4].map((i) => replay("evt_late2", i % 2 === 0 ? `req-concurrent-${i}` : undefined)),
    );
    const answered = results.filter((r) => r.status === "fulfilled").map((r) => r.value);
    const refused = results
      .filter((r) => r.status === "rejected")
      .map((r) => (r.reason as { code: string }).code);
    expect(answered).toEqual([{ id: "evt_late2", status: "replayed", outcome: "applied", reason: null }]);
    expect(refused).toEqual(["failed-precondition", "failed-precondition", "failed-precondition"]);
    expect(await ledgerSum(UID, "c1")).toEqual({ sum: 700, ids: ["pi_late2"] });
    expect(await readDoc(ENROLLMENT)).toMatchObject({
      amountPaid: 700,
      ledgerCount: 1,
      paymentStatus: "partial",
    });
    expect((await auditRecords()).filter((a) => a.action === "dead-letter-replay")).toHaveLength(1);
  });

  it("a payment already in the ledger (its checkout's event applied it meanwhile): replayed as a duplicate, no money moves", async () => {
    await deadLetteredPayment("evt_late3", "pi_late3", 400);
    await enroll(UID, "c1");
    await deliverStripeEvent(
      "evt_other_copy",
      "payment_intent.succeeded",
      stripePaymentIntent({
        id: "pi_late3",
        amount: 400,
        currency: "usd",
        metadata: { uid: UID, courseId: "c1" },
      }),
    );
    expect(await replay("evt_late3")).toEqual({
      id: "evt_late3",
      status: "replayed",
      outcome: "duplicate",
      reason: null,
    });
    expect(await readDoc(ENROLLMENT)).toMatchObject({ amountPaid: 400, ledgerCount: 1 });
  });

  it("an event the provider does not have (past Stripe's 30 days): failed-precondition, nothing written; unknown id: not-found", async () => {
    // Delivered straight to the webhook, never sent by the provider: the provider cannot give it back.
    await deliverStripeEvent(
      "evt_gone",
      "payment_intent.succeeded",
      stripePaymentIntent({
        id: "pi_gone",
        amount: 500,
        currency: "usd",
        metadata: { uid: UID, courseId: "c1" },
      }),
    );
    await enroll(UID, "c1");
    const err = await expectHttpsError(replay("evt_gone"), "failed-precondition");
    expect(err.message).toMatch(/no longer has this event/);
    expect(await call(getDeadLetter, ADMIN, { id: "evt_gone" })).toMatchObject({
      deadLetter: { id: "evt_gone", status: "open", reason: "unknown-enrollment" },
      replay: { retrievable: false, command: null },
    });
    expect(await readDoc("deadLetters/evt_gone")).toMatchObject({ status: "open" });
    expect(await readDoc(ENROLLMENT)).toMatchObject({ amountPaid: 0 });
    await expectHttpsError(replay("evt_nothing"), "not-found");
    await expectHttpsError(call(getDeadLetter, ADMIN, { id: "evt_nothing" }), "not-found");
  });
});

describe("dismissDeadLetter", () => {
  it("is audited, blocks replay (also once the cause is fixed), and is answered again only to its own retry", async () => {
    await deadLetteredPayment("evt_dismiss", "pi_dismiss");
    const reason = "Credited by hand: bank transfer ref 42";
    expect(await call(dismissDeadLetter, ADMIN, { id: "evt_dismiss", reason })).toEqual({
      id: "evt_dismiss",
      status: "dismissed",
    });
    expect(await readDoc("deadLetters/evt_dismiss")).toMatchObject({
      status: "dismissed",
      resolution: { by: ADMIN.uid, note: reason, outcome: null },
    });
    expect(await auditRecords()).toEqual([
      expect.objectContaining({
        action: "dead-letter-dismiss",
        adminUid: ADMIN.uid,
        note: reason,
        deadLetterId: "evt_dismiss",
      }),
    ]);
    await enroll(UID, "c1");
    await expectHttpsError(replay("evt_dismiss"), "failed-precondition");
    expect(await call(dismissDeadLetter, ADMIN, { id: "evt_dismiss", reason })).toMatchObject({
      status: "dismissed",
    });
    await expectHttpsError(
      call(dismissDeadLetter, ADMIN, { id: "evt_dismiss", reason: "other" }),
      "failed-precondition",
    );
    expect(await readDoc(ENROLLMENT)).toMatchObject({ amountPaid: 0, ledgerCount: 0 });
    expect(await auditRecords()).toHaveLength(1);
  });

  it("racing a replay: exactly one of them resolves the dead letter", async () => {
    await deadLetteredPayment("evt_race", "pi_race", 300);
    await enroll(UID, "c1");
    const [replayed, dismissed] = await Promise.allSettled([
      replay("evt_race"),
      call(dismissDeadLetter, ADMIN, { id: "evt_race", reason: "duplicate of a manual payment" }),
    ]);
    expect([replayed.status, dismissed.status].sort()).toEqual(["fulfilled", "rejected"]);
    const dl = await readDoc("deadLetters/evt_race");
    const amountPaid = (await readDoc(ENROLLMENT))?.amountPaid;
    expect(
      dl?.status === "replayed" ? amountPaid === 300 : dl?.status === "dismissed" && amountPaid === 0,
    ).toBe(true);
    expect((await auditRecords()).filter((a) => a.action !== "dead-letter-replay-failed")).toHaveLength(1);
  });
});

describe("listDeadLetters", () => {
  it("pages newest first and filters by reason and status (with the indexes firestore.indexes.json declares)", async () => {
    await deadLetteredPayment("evt_l1", "pi_l1");
    await deadLetteredPayment("evt_l2", "pi_l2");
    await provider.send(paymentSucceededEvent({ ...view("pi_l3", 500), metadata: {} }, "evt_l3"));
    await call(dismissDeadLetter, ADMIN, { id: "evt_l1", reason: "test" });

    const first = await call(listDeadLetters, ADMIN, { limit: 2 });
    expect(first.deadLetters.map((d) => d.id)).toEqual(["evt_l3", "evt_l2"]);
    expect(first.next).toBe("evt_l2");
    const second = await call(listDeadLetters, ADMIN, { limit: 2, startAfter: "evt_l2" });
    expect(second.deadLetters.map((d) => d.id)).toEqual(["evt_l1"]);
    expect(second.next).toBeNull();
    expect(second.deadLetters[0]).toMatchObject({ status: "dismissed", resolution: { note: "test" } });

    const open = await call(listDeadLetters, ADMIN, { status: "open" });
    expect(open.deadLetters.map((d) => d.id)).toEqual(["evt_l3", "evt_l2"]);
    const unknown = await call(listDeadLetters, ADMIN, { reason: "unknown-enrollment" });
    expect(unknown.deadLetters.map((d) => d.id)).toEqual(["evt_l2", "evt_l1"]);
    const both = await call(listDeadLetters, ADMIN, { reason: "unknown-enrollment", status: "open" });
    expect(both.deadLetters.map((d) => d.id)).toEqual(["evt_l2"]);
    await expectHttpsError(call(listDeadLetters, ADMIN, { startAfter: "evt_none" }), "invalid-argument");
  });
});

describe("who may", () => {
  it("non-admins are refused every dead-letter callable, and nothing changes", async () => {
    await deadLetteredPayment("evt_perm", "pi_perm");
    await enroll(UID, "c1");
    const student = { uid: UID };
    await expectHttpsError(call(listDeadLetters, student, {}), "permission-denied");
    await expectHttpsError(call(getDeadLetter, student, { id: "evt_perm" }), "permission-denied");
    await expectHttpsError(call(replayDeadLetter, student, { id: "evt_perm" }), "permission-denied");
    await expectHttpsError(
      call(dismissDeadLetter, student, { id: "evt_perm", reason: "x" }),
      "permission-denied",
    );
    await expectHttpsError(call(replayDeadLetter, null, { id: "evt_perm" }), "unauthenticated");
    expect(await readDoc("deadLetters/evt_perm")).toMatchObject({ status: "open" });
    expect(await readDoc(ENROLLMENT)).toMatchObject({ amountPaid: 0 });
  });
});
