/**
 * End-to-end smoke over HTTP through the local stack (local Firestore + the Firebase CLI's functions and auth
 * emulators): enroll → startPayment → signed webhook → the enrollment shows paid and active, and the
 * onEnrollmentWritten trigger (delivered by the local Firestore to the functions emulator) updated courseStats.
 *
 *   node --test "tools/local-stack/test/*.test.mjs"
 *
 * LOCAL_STACK_SKIP_BUILD=1 skips building functions/ and tools/local-firestore (when `npm run build` just ran);
 * LOCAL_STACK_VERBOSE=1 prints the emulators' output.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { after, before, test } from "node:test";
import { createRequire } from "node:module";
import { DEMO, startLocalStack } from "../stack.mjs";

/** The official stripe package (functions' dependency), as a developer signing an event would use it. */
const Stripe = createRequire(new URL("../../../functions/package.json", import.meta.url))("stripe");

const verbose = process.env.LOCAL_STACK_VERBOSE === "1";
const outputTail = [];
const runtimeLines = [];
let stack;
/** Chosen, as a developer would with `STRIPE_WEBHOOK_SECRET=… npm start` (e.g. the secret `stripe listen` prints). */
const WEBHOOK_SECRET = `whsec_e2e_${randomUUID().replaceAll("-", "")}`;

before(
  async () => {
    stack = await startLocalStack({
      firestorePort: 0,
      functionsPort: 0,
      authPort: 0,
      projectId: "demo-courses",
      build: process.env.LOCAL_STACK_SKIP_BUILD !== "1",
      providerEnv: { STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET },
      log: (line) => {
        if (verbose) console.log(line);
        if (/Using node@\d+ from/.test(line) || /requested "node" version/.test(line))
          runtimeLines.push(line);
        outputTail.push(line);
        if (outputTail.length > 200) outputTail.shift();
      },
    });
    const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
    const { buildMs, emulatorsReadyMs, readyMs } = stack.timings;
    console.log(
      `build ${seconds(buildMs)}; stack ready in ${seconds(readyMs)} (emulators ${seconds(emulatorsReadyMs)})`,
    );
  },
  { timeout: 180_000 },
);

after(async () => {
  await stack?.stop();
});

/** On failure, the emulators' recent output is the first thing anyone needs. */
async function withOutput(fn) {
  try {
    await fn();
  } catch (error) {
    if (!verbose) console.error(`--- recent stack output ---\n${outputTail.slice(-80).join("\n")}`);
    throw error;
  }
}

test("the functions emulator runs the function runtimes on the deployed Node major (firebase.json)", async () => {
  const { functions } = JSON.parse(
    await readFile(new URL("../../../firebase.json", import.meta.url), "utf8"),
  );
  const major = functions[0].runtime.replace("nodejs", "");
  assert.deepEqual(runtimeLines, [`[firebase] ✔  functions: Using node@${major} from host.`]);
  assert.equal(process.versions.node.split(".")[0], major, "the stack itself runs on the same Node");
});

test("a callable without a token answers UNAUTHENTICATED", async () => {
  const reply = await stack.callFunction("enrollInCourse", { courseId: DEMO.course.courseId });
  assert.equal(reply.status, 401);
  assert.equal(reply.error?.status, "UNAUTHENTICATED");
});

test("a signed-in user's callable without an App Check token answers UNAUTHENTICATED and changes nothing", async () => {
  const courseId = DEMO.course.courseId;
  const reply = await stack.callFunction("enrollInCourse", { courseId }, stack.tokens.admin, {
    appCheck: false,
  });
  assert.equal(reply.status, 401);
  assert.equal(reply.error?.status, "UNAUTHENTICATED");
  const enrollment = await stack.db.doc(`users/${stack.users.admin.uid}/courses/${courseId}`).get();
  assert.equal(enrollment.exists, false);
});

test("the webhook answers 400 to a bad signature", async () => {
  const rawBody = JSON.stringify({ id: "evt_forged", object: "event", type: "payment_intent.succeeded" });
  const t = Math.floor(Date.now() / 1000);
  const reply = await stack.postWebhook(rawBody, `t=${t},v1=${"0".repeat(64)}`);
  assert.equal(reply.status, 400);
  const unsigned = await stack.postWebhook(rawBody, undefined);
  assert.equal(unsigned.status, 400);
});

test("the webhook takes events signed by hand with the chosen STRIPE_WEBHOOK_SECRET, not with another", async () => {
  assert.equal(stack.webhookSecret, WEBHOOK_SECRET);
  assert.equal(stack.webhookSecretSource, "STRIPE_WEBHOOK_SECRET");
  // A Payment Link style payment (no checkout) for someone not enrolled: processed and set aside for an admin.
  const event = {
    id: `evt_e2e_${randomUUID().replaceAll("-", "")}`,
    object: "event",
    api_version: "2025-01-01",
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    pending_webhooks: 1,
    type: "payment_intent.succeeded",
    data: {
      object: {
        id: `pi_e2e_${randomUUID().replaceAll("-", "")}`,
        object: "payment_intent",
        amount: 4900,
        amount_received: 4900,
        currency: "usd",
        status: "succeeded",
        metadata: { uid: stack.users.admin.uid, courseId: DEMO.course.courseId },
      },
    },
  };
  const rawBody = JSON.stringify(event);
  const sign = (secret) => Stripe.webhooks.generateTestHeaderString({ payload: rawBody, secret });
  const forged = await stack.postWebhook(rawBody, sign("whsec_someone_else"));
  assert.equal(forged.status, 400);
  const signed = await stack.postWebhook(rawBody, sign(WEBHOOK_SECRET));
  assert.equal(signed.status, 200, JSON.stringify(signed.body));
  assert.equal(signed.body.outcome, "dead-lettered");
});

test("a free course is paid and active at enrollment", async () => {
  const reply = await stack.callFunction(
    "enrollInCourse",
    { courseId: DEMO.freeCourse.courseId },
    stack.tokens.student,
  );
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  assert.equal(reply.result.paymentStatus, "paid");
  assert.equal(reply.result.accessStatus, "active");
});

test("enroll → startPayment → signed webhook → paid and active; courseStats updated by the trigger", async () => {
  await withOutput(async () => {
    const { student } = stack.tokens;
    const uid = stack.users.student.uid;
    const courseId = DEMO.course.courseId;

    const enrolled = await stack.callFunction("enrollInCourse", { courseId }, student);
    assert.equal(enrolled.status, 200, JSON.stringify(enrolled.body));
    assert.equal(enrolled.result.paymentStatus, "unpaid");
    assert.equal(enrolled.result.accessStatus, "locked");
    assert.equal(enrolled.result.amountDue, DEMO.course.price);

    const requestId = `e2e-${randomUUID()}`;
    const started = await stack.callFunction("startPayment", { courseId, requestId }, student);
    assert.equal(started.status, 200, JSON.stringify(started.body));
    assert.equal(started.result.amount, DEMO.course.price);
    assert.equal(started.result.currency, DEMO.course.currency);
    assert.match(started.result.paymentId, /^pi_local_/);

    const retried = await stack.callFunction("startPayment", { courseId, requestId }, student);
    assert.equal(retried.status, 200, JSON.stringify(retried.body));
    assert.equal(retried.result.paymentId, started.result.paymentId);

    const delivered = await stack.confirmPayment(started.result.paymentId);
    assert.equal(delivered.status, 200, JSON.stringify(delivered.body));

    const enrollment = await stack.waitForDoc(
      `users/${uid}/courses/${courseId}`,
      (d) => d.paymentStatus === "paid" && d.accessStatus === "active",
    );
    const e = enrollment.data();
    assert.equal(e.amountPaid, DEMO.course.price);
    assert.equal(e.amountDue, 0);
    assert.equal(e.price, DEMO.course.price);
    assert.equal(e.currency, DEMO.course.currency);

    const ledger = await stack.db.collection(`users/${uid}/courses/${courseId}/ledger`).get();
    assert.deepEqual(
      ledger.docs.map((d) => [d.id, d.data().amount]),
      [[started.result.paymentId, DEMO.course.price]],
    );

    // The same signed event again (a provider redelivery) changes nothing.
    const redelivered = await stack.confirmPayment(started.result.paymentId);
    assert.equal(redelivered.status, 200, JSON.stringify(redelivered.body));

    const stats = await stack.waitForDoc(
      `courseStats/${courseId}`,
      (d) => d.enrolledCount >= 1 && d.revenue === DEMO.course.price,
    );
    assert.equal(stats.data().revenue, DEMO.course.price);
    assert.equal(stats.data().paidCount, 1);

    const after = (await stack.db.doc(`users/${uid}/courses/${courseId}`).get()).data();
    assert.equal(after.amountPaid, DEMO.course.price);
  });
});

/** An admin-made published course the student enrolls in. */
async function enrolledCourse(courseId, price) {
  const made = await stack.callFunction(
    "upsertCourse",
    { courseId, title: `E2E ${courseId}`, price, currency: "usd", published: true },
    stack.tokens.admin,
  );
  assert.equal(made.status, 200, JSON.stringify(made.body));
  const enrolled = await stack.callFunction("enrollInCourse", { courseId }, stack.tokens.student);
  assert.equal(enrolled.status, 200, JSON.stringify(enrolled.body));
}

test("startCheckoutSession → the student pays the hosted page → paid and active, one ledger entry", async () => {
  await withOutput(async () => {
    const courseId = `e2e-hosted-${randomUUID().slice(0, 8)}`;
    const uid = stack.users.student.uid;
    await enrolledCourse(courseId, 3000);
    const started = await stack.callFunction(
      "startCheckoutSession",
      {
        courseId,
        requestId: `e2e-${randomUUID()}`,
        successUrl: "http://localhost:5173/paid",
        cancelUrl: "http://localhost:5173/",
      },
      stack.tokens.student,
    );
    assert.equal(started.status, 200, JSON.stringify(started.body));
    assert.match(started.result.sessionId, /^cs_local_/);
    assert.ok(started.result.url.endsWith(started.result.sessionId), started.result.url);

    const delivered = await stack.confirmPayment(started.result.sessionId);
    assert.equal(delivered.status, 200, JSON.stringify(delivered.body));
    const enrollment = await stack.waitForDoc(
      `users/${uid}/courses/${courseId}`,
      (d) => d.paymentStatus === "paid" && d.accessStatus === "active",
    );
    assert.equal(enrollment.data().amountPaid, 3000);
    const ledger = await stack.db.collection(`users/${uid}/courses/${courseId}/ledger`).get();
    assert.equal(ledger.size, 1);
    const checkout = (await stack.db.doc(`checkouts/${started.result.checkoutId}`).get()).data();
    assert.equal(checkout.status, "succeeded");
    assert.equal(checkout.providerPaymentId, ledger.docs[0].id);
  });
});

test("a refund that overtakes its payment is parked, and the emulator's onEnrollmentWritten trigger applies it once the payment lands", async () => {
  await withOutput(async () => {
    const courseId = `e2e-parked-${randomUUID().slice(0, 8)}`;
    const uid = stack.users.student.uid;
    await enrolledCourse(courseId, 4000);
    const started = await stack.callFunction(
      "startPayment",
      { courseId, requestId: `e2e-${randomUUID()}` },
      stack.tokens.student,
    );
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const paymentId = started.result.paymentId;
    const view = {
      id: paymentId,
      chargeId: `ch_${paymentId}`,
      amount: 4000,
      currency: "usd",
      metadata: { uid, courseId, checkoutId: started.result.checkoutId },
      refunds: [],
    };
    const early = await stack.sendEvent(
      stack.localEvents.refundEvent(
        view,
        { id: `re_e2e_${randomUUID().slice(0, 8)}`, amount: 1500, status: "succeeded" },
        "refund.created",
      ),
    );
    assert.equal(early.status, 200, JSON.stringify(early.body));
    assert.equal(early.body.outcome, "parked");

    await stack.confirmPayment(paymentId);
    const enrollment = await stack.waitForDoc(
      `users/${uid}/courses/${courseId}`,
      (d) => d.amountPaid === 2500 && d.refundCount === 1,
    );
    assert.equal(enrollment.data().paymentStatus, "partial");
    // The trigger deletes the parked event right after applying it, and lowers the enrollment's count with it.
    const parked = stack.db.collection("parkedEvents").where("providerPaymentId", "==", paymentId);
    for (let i = 0; i < 50 && (await parked.get()).size > 0; i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.equal((await parked.get()).size, 0);
    const after = (await stack.db.doc(`users/${uid}/courses/${courseId}`).get()).data();
    assert.equal(after.parkedEvents, 0);
  });
});

test("the demo course's lessons: the preview is public, the rest opens once the student's access is active", async () => {
  const lessons = (
    await stack.db.collection(`courses/${DEMO.course.courseId}/lessons`).orderBy("order").get()
  ).docs;
  assert.deepEqual(
    lessons.map((d) => [d.id, d.data().preview]),
    DEMO.lessons.map((l) => [l.lessonId, l.preview === true]),
  );
});

test("an installment plan: the first part opens access, the simulated clock's overdue part suspends it, paying restores it", async () => {
  await withOutput(async () => {
    const courseId = "e2e-plan";
    const made = await stack.callFunction(
      "upsertCourse",
      {
        courseId,
        title: "E2E plan",
        price: 3000,
        currency: "usd",
        published: true,
        plans: { halves: { installments: 2, intervalDays: 30, graceDays: 2 } },
      },
      stack.tokens.admin,
    );
    assert.equal(made.status, 200, JSON.stringify(made.body));
    const enrolled = await stack.callFunction(
      "enrollInCourse",
      { courseId, planId: "halves" },
      stack.tokens.student,
    );
    assert.equal(enrolled.status, 200, JSON.stringify(enrolled.body));
    assert.deepEqual(
      enrolled.result.plan.installments.map((i) => i.amount),
      [1500, 1500],
    );
    const path = `users/${stack.users.student.uid}/courses/${courseId}`;
    const payDue = async () => {
      const requestId = `e2e-plan-${randomUUID()}`;
      const started = await stack.callFunction("startPayment", { courseId, requestId }, stack.tokens.student);
      assert.equal(started.status, 200, JSON.stringify(started.body));
      assert.equal(started.result.amount, 1500);
      assert.equal((await stack.confirmPayment(started.result.paymentId)).status, 200);
    };
    await payDue();
    await stack.waitForDoc(path, (d) => d.amountPaid === 1500 && d.accessStatus === "active");
    // 33 days on: installment 2 (due at day 30, 2 days of grace) is overdue.
    const run = await stack.runInstallmentDeadlines({ aheadDays: 33 });
    assert.equal(run.suspended, 1, JSON.stringify(run));
    await stack.waitForDoc(path, (d) => d.deadlinesPassed === 2 && d.accessStatus === "suspended");
    const again = await stack.runInstallmentDeadlines({ aheadDays: 33 });
    assert.equal(again.advanced, 0, JSON.stringify(again));
    await payDue();
    await stack.waitForDoc(path, (d) => d.paymentStatus === "paid" && d.accessStatus === "active");
  });
});

test("quizzes: the demo quiz is seeded without its key; a student's attempt is graded on the server, once per requestId", async () => {
  const seeded = (
    await stack.db.doc(`courses/${DEMO.course.courseId}/quizzes/${DEMO.quizzes[0].quizId}`).get()
  ).data();
  assert.equal(seeded.questions.length, DEMO.quizzes[0].questions.length);
  assert.ok(!JSON.stringify(seeded).includes("correct"));
  // A free course: access is active at enrollment, so the attempt needs no payment.
  const courseId = "e2e-quiz-course";
  const made = await stack.callFunction(
    "upsertCourse",
    { courseId, title: "E2E quizzes", price: 0, currency: "usd", published: true },
    stack.tokens.admin,
  );
  assert.equal(made.status, 200, JSON.stringify(made.body));
  const quiz = await stack.callFunction(
    "upsertQuiz",
    { ...DEMO.quizzes[0], courseId, lessonId: undefined },
    stack.tokens.admin,
  );
  assert.equal(quiz.status, 200, JSON.stringify(quiz.body));
  const enrolled = await stack.callFunction("enrollInCourse", { courseId }, stack.tokens.student);
  assert.equal(enrolled.result.accessStatus, "active", JSON.stringify(enrolled.body));
  // enrollInCourse created the profile with the email of the student's ID token.
  const profile = (await stack.db.doc(`users/${stack.users.student.uid}`).get()).data();
  assert.equal(profile.email, DEMO.student.email);

  const attempt = {
    courseId,
    quizId: DEMO.quizzes[0].quizId,
    answers: { q1: "b", q2: ["a"] },
    requestId: `e2e-quiz-${randomUUID()}`,
  };
  const graded = await stack.callFunction("submitQuizAttempt", attempt, stack.tokens.student);
  assert.equal(graded.status, 200, JSON.stringify(graded.body));
  assert.deepEqual(
    [graded.result.score, graded.result.maxScore, graded.result.attemptCount, graded.result.duplicate],
    [1, 3, 1, false],
  );
  const retried = await stack.callFunction("submitQuizAttempt", attempt, stack.tokens.student);
  assert.deepEqual(retried.result, { ...graded.result, duplicate: true });
});
