import { Change } from "firebase-functions/v2";
import type { DocumentSnapshot } from "firebase-admin/firestore";
import { onEnrollmentWritten } from "../../src/functions/onEnrollmentWritten";
import { firestore } from "../../src/shared/admin";
import { setPaymentProviderForTesting } from "../../src/services/payments";
import { paymentSucceededEvent } from "../../src/services/payments/local/localEvents";
import { createCourse, deliverEvent, enroll, fft, installLocalProvider, readDoc } from "../support/harness";
import { useLocalFirestore } from "../support/localFirestore";

const lf = useLocalFirestore();
const PATH = "users/u1/courses/c1";

async function snap(): Promise<DocumentSnapshot> {
  return firestore().doc(PATH).get();
}

async function deliver(id: string, before: DocumentSnapshot, after: DocumentSnapshot): Promise<void> {
  const wrapped = fft.wrap(onEnrollmentWritten);
  await wrapped({
    id,
    params: { uid: "u1", courseId: "c1" },
    data: new Change(before, after),
  });
}

beforeEach(async () => {
  installLocalProvider();
  await createCourse("c1", 1000);
});
afterAll(() => {
  setPaymentProviderForTesting(undefined);
});

/** Snapshots of the enrollment: before enrolling, after enrolling, after its full payment (pi_1, 1000). */
async function enrollAndPay(): Promise<{ s0: DocumentSnapshot; s1: DocumentSnapshot; s2: DocumentSnapshot }> {
  const s0 = await snap();
  await enroll("u1", "c1");
  const s1 = await snap();
  await deliverEvent(
    paymentSucceededEvent(
      {
        id: "pi_1",
        chargeId: "ch_1",
        amount: 1000,
        currency: "usd",
        metadata: { uid: "u1", courseId: "c1" },
        refunds: [],
      },
      "evt_1",
    ),
  );
  return { s0, s1, s2: await snap() };
}

describe("onEnrollmentWritten", () => {
  it("counts enrollment and payment once each, even when every event is delivered twice (and concurrently)", async () => {
    const { s0, s1, s2 } = await enrollAndPay();
    await deliver("ce-1", s0, s1);
    await deliver("ce-1", s0, s1);
    await Promise.all([deliver("ce-2", s1, s2), deliver("ce-2", s1, s2), deliver("ce-2", s1, s2)]);
    expect(await readDoc("courseStats/c1")).toMatchObject({ enrolledCount: 1, paidCount: 1, revenue: 1000 });
    expect(await readDoc("triggerEvents/ce-1")).toHaveProperty("expireAt");
  });

  it("converges when events arrive out of order", async () => {
    const { s0, s1, s2 } = await enrollAndPay();
    await deliver("ce-b", s1, s2);
    await deliver("ce-a", s0, s1);
    expect(await readDoc("courseStats/c1")).toMatchObject({ enrolledCount: 1, paidCount: 1, revenue: 1000 });
  });

  it("writes nothing for a change that moves no aggregate", async () => {
    await enroll("u1", "c1");
    const s1 = await snap();
    await deliver("ce-noop", s1, s1);
    expect(await readDoc("courseStats/c1")).toBeUndefined();
    expect(await readDoc("triggerEvents/ce-noop")).toBeUndefined();
  });

  it("corrects derived fields that trail the totals, from the event's after snapshot, and only while it is current", async () => {
    const { s2 } = await enrollAndPay();
    // A concurrent movement left the derived fields behind the totals (what a blind increment commit can do).
    await firestore().doc(PATH).update({ amountDue: 1000, paymentStatus: "unpaid", accessStatus: "locked" });
    const stale = await snap();
    await deliver("ce-stale-fix", s2, stale);
    expect(await readDoc(PATH)).toMatchObject({
      amountPaid: 1000,
      amountDue: 0,
      paymentStatus: "paid",
      accessStatus: "active",
    });
    // Its correction is a write whose own event finds nothing to correct and moves no stats: nothing written.
    const corrected = await snap();
    await deliver("ce-after-fix", stale, corrected);
    expect((await snap()).updateTime?.isEqual(corrected.updateTime ?? corrected.readTime)).toBe(true);
    expect(await readDoc("courseStats/c1")).toMatchObject({ paidCount: 0, revenue: 0 });
    expect(await readDoc("triggerEvents/ce-after-fix")).toBeDefined();
  });

  it("a stale event never overwrites a newer state, but still counts its stats delta once", async () => {
    const { s1 } = await enrollAndPay();
    await firestore().doc(PATH).update({ paymentStatus: "unpaid", accessStatus: "locked", amountDue: 1000 });
    const old = await snap();
    // A newer write (e.g. the next movement) lands before the old write's event is delivered.
    await firestore().doc(PATH).update({ paymentStatus: "paid", accessStatus: "active", amountDue: 0 });
    const newer = await snap();
    await deliver("ce-old", s1, old);
    await deliver("ce-old", s1, old);
    expect((await snap()).updateTime?.isEqual(newer.updateTime ?? newer.readTime)).toBe(true);
    expect(await readDoc("courseStats/c1")).toMatchObject({ paidCount: 0, revenue: 1000 });
  });
  it("events handled at once share commits: each counted once, only the newest write's correction lands, despite a lost reply", async () => {
    const { s0, s1, s2 } = await enrollAndPay();
    // Two later writes leave the derived fields behind the totals; each event carries a correction.
    await firestore().doc(PATH).update({ amountDue: 1000, paymentStatus: "unpaid", accessStatus: "locked" });
    const old = await snap();
    await firestore().doc(PATH).update({ amountDue: 900, paymentStatus: "partial", accessStatus: "locked" });
    const newer = await snap();
    lf.server().resetStats();
    lf.server().faults.inject({ method: "Commit", kind: "reply-lost", times: 1 });
    const events: [string, DocumentSnapshot, DocumentSnapshot][] = [
      ["ce-g1", s0, s1],
      ["ce-g2", s1, s2],
      ["ce-g3", s2, old],
      ["ce-g4", old, newer],
    ];
    await Promise.all([...events, ...events].map(([id, before, after]) => deliver(id, before, after)));
    expect(lf.server().stats().faultsInjected).toBe(1);
    // Enrolled once, paid and unpaid again (s2 → old), revenue counted once.
    expect(await readDoc("courseStats/c1")).toMatchObject({ enrolledCount: 1, paidCount: 0, revenue: 1000 });
    // The newest write's correction: the derived fields follow the totals again.
    expect(await readDoc(PATH)).toMatchObject({
      amountPaid: 1000,
      amountDue: 0,
      paymentStatus: "paid",
      accessStatus: "active",
    });
    for (const id of ["ce-g1", "ce-g2", "ce-g3"]) expect(await readDoc(`triggerEvents/${id}`)).toBeDefined();
  });
});
