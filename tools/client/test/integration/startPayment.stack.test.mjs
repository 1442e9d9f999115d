/**
 * The client against the real backend on the local stack (tools/local-stack: the local Firestore plus the
 * Firebase CLI's functions and auth emulators), through the built package and the real Firebase JS SDK.
 *
 * The failure injected is the one that double-charges: the server does the work but the client gives up on
 * the reply. A latency fault holds the commit of the provider payment (local provider, a Firestore document)
 * longer than the client's per-attempt timeout, so the first attempts of startPayment fail with
 * `functions/deadline-exceeded` while the server goes on and creates the checkout and the payment. With the
 * client the retries carry the same requestId and find that payment: exactly one payment, 10.00 paid once.
 * The control does what the original app did, retrying with a fresh id per attempt, under the same fault:
 * more than one payment, and the student is charged for each.
 *
 *   node --test "test/integration/*.test.mjs"     (after `npm run build`; builds functions/ and the local Firestore if stale)
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { deleteApp, initializeApp } from "firebase/app";
import { CustomProvider, initializeAppCheck } from "firebase/app-check";
import {
  connectAuthEmulator,
  createUserWithEmailAndPassword,
  getAuth,
  signInWithEmailAndPassword,
} from "firebase/auth";
import { connectFunctionsEmulator, getFunctions, httpsCallable } from "firebase/functions";
import { RetryHandler, createCoursePaymentsClient } from "@course-payments/client";
import { DEMO, REPO_ROOT, startLocalStack } from "../../../local-stack/stack.mjs";

const HOST = "127.0.0.1";
const COURSE = { courseId: "client-retry-course", title: "Retry course", price: 5000, currency: "usd" };
const AMOUNT = 1000;
/** The client gives up on an attempt after ATTEMPT_TIMEOUT_MS; the fault holds the payment's commit longer. */
const ATTEMPT_TIMEOUT_MS = 1000;
const FAULT = {
  method: "Commit",
  kind: "latency",
  latencyMs: 2500,
  pathContains: "/localProvider/",
  times: 1,
};
const RETRY = { attempts: 8, baseDelayMs: 50, maxDelayMs: 200, deadlineMs: 30_000 };

const verbose = process.env.LOCAL_STACK_VERBOSE === "1";
const outputTail = [];
let stack;
const apps = [];

/** Newest mtime of the files under `dir`. */
function newestMtime(dir) {
  return Math.max(
    ...readdirSync(dir, { withFileTypes: true, recursive: true })
      .filter((entry) => entry.isFile())
      .map((entry) => statSync(path.join(entry.parentPath ?? entry.path, entry.name)).mtimeMs),
  );
}

/** The stack runs functions/lib and tools/local-firestore/lib: build them when a source is newer. */
function buildsAreStale() {
  if (process.env.LOCAL_STACK_SKIP_BUILD === "1") return false;
  return [
    ["functions/src", "functions/lib/index.js"],
    ["tools/local-firestore/src", "tools/local-firestore/lib/index.js"],
  ].some(([src, built]) => {
    try {
      return newestMtime(path.join(REPO_ROOT, src)) > statSync(path.join(REPO_ROOT, built)).mtimeMs;
    } catch {
      return true;
    }
  });
}

/**
 * A Firebase app signed in as one user, its Functions pointed at the emulator; App Check (enforced by every
 * callable) gets the stack's emulator-only token, as the demo app does.
 */
async function signedInApp(signIn) {
  const app = initializeApp(
    { projectId: stack.projectId, apiKey: "demo-api-key", appId: stack.appId },
    `app-${randomUUID()}`,
  );
  apps.push(app);
  initializeAppCheck(app, { provider: new CustomProvider({ getToken: async () => stack.appCheckToken() }) });
  const auth = getAuth(app);
  connectAuthEmulator(auth, stack.urls.auth, { disableWarnings: true });
  const functions = getFunctions(app, "us-central1");
  const { port } = new URL(stack.urls.functions);
  connectFunctionsEmulator(functions, HOST, Number(port));
  const { user } = await signIn(auth);
  return { functions, uid: user.uid };
}

const newStudent = () =>
  signedInApp((auth) =>
    createUserWithEmailAndPassword(auth, `student-${randomUUID()}@example.com`, "student-password"),
  );

async function waitFor(check, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const last = await check();
    if (last === true) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms (last: ${last})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** What the server holds for one student: checkouts, provider payments, the enrollment's money. */
async function moneyOf(uid) {
  const [checkouts, payments, enrollment, ledger] = await Promise.all([
    stack.db.collection("checkouts").where("uid", "==", uid).get(),
    stack.db.collection("localProvider").where("metadata.uid", "==", uid).get(),
    stack.db.doc(`users/${uid}/courses/${COURSE.courseId}`).get(),
    stack.db.collection(`users/${uid}/courses/${COURSE.courseId}/ledger`).get(),
  ]);
  return {
    checkouts: checkouts.docs.map((d) => d.data()),
    paymentIds: payments.docs.map((d) => d.id).sort(),
    amountPaid: enrollment.get("amountPaid"),
    ledgerEntries: ledger.size,
  };
}

before(
  async () => {
    stack = await startLocalStack({
      firestorePort: 0,
      functionsPort: 0,
      authPort: 0,
      projectId: "demo-courses",
      build: buildsAreStale(),
      log: (line) => {
        if (verbose) console.log(line);
        outputTail.push(line);
        if (outputTail.length > 200) outputTail.shift();
      },
    });
    const { buildMs, readyMs } = stack.timings;
    console.log(`stack ready in ${(readyMs / 1000).toFixed(1)} s (build ${(buildMs / 1000).toFixed(1)} s)`);

    // The admin (seeded by the stack, with the admin claim) publishes the course through the client.
    const admin = await signedInApp((auth) =>
      signInWithEmailAndPassword(auth, DEMO.admin.email, DEMO.admin.password),
    );
    const adminClient = createCoursePaymentsClient(admin.functions);
    await adminClient.upsertCourse({ ...COURSE, published: true });
  },
  { timeout: 180_000 },
);

after(async () => {
  await Promise.all(apps.map((app) => deleteApp(app)));
  await stack?.stop();
});

async function enrolledStudent() {
  const student = await newStudent();
  // Setup calls get no short timeout: the emulator's first call of a function includes its cold start.
  const setup = createCoursePaymentsClient(student.functions);
  const enrollment = await setup.enrollInCourse({ courseId: COURSE.courseId });
  assert.equal(enrollment.amountDue, COURSE.price);
  // Warm startPayment's worker; a bad input is `invalid-argument`, which is never retried.
  const calls = [];
  await assert.rejects(
    setup.startPayment(
      { courseId: COURSE.courseId, amount: 0 },
      { retry: { onRetry: (event) => calls.push(event) } },
    ),
    { code: "functions/invalid-argument" },
  );
  assert.equal(calls.length, 0);
  return student;
}

test("startPayment: the first attempts time out while the server works; exactly one payment results", async () => {
  const student = await enrolledStudent();
  const requestIds = [];
  const retries = [];
  const client = createCoursePaymentsClient(student.functions, {
    timeoutMs: ATTEMPT_TIMEOUT_MS,
    newRequestId: () => {
      const id = randomUUID();
      requestIds.push(id);
      return id;
    },
    retry: { ...RETRY, onRetry: (event) => retries.push(event.code) },
  });

  stack.firestoreServer.faults.inject(FAULT);
  const payment = await client.startPayment({ courseId: COURSE.courseId, amount: AMOUNT });
  assert.deepEqual(stack.firestoreServer.faults.list(), [], "the latency fault was used");
  assert.ok(retries.length >= 1, "the first attempt failed");
  assert.ok(
    retries.every((code) => code === "deadline-exceeded"),
    `attempts failed with ${retries.join(", ")}`,
  );
  assert.equal(requestIds.length, 1, "one requestId for the whole call");
  assert.equal(payment.amount, AMOUNT);
  assert.equal(payment.currency, COURSE.currency);

  // The provider confirms the payment (signed webhook); the money moves once.
  await stack.confirmPayment(payment.paymentId);
  await waitFor(async () => (await moneyOf(student.uid)).amountPaid === AMOUNT);
  const money = await moneyOf(student.uid);
  assert.equal(money.checkouts.length, 1);
  assert.equal(money.checkouts[0].requestId, requestIds[0]);
  assert.deepEqual(money.paymentIds, [payment.paymentId]);
  assert.equal(money.ledgerEntries, 1);
  assert.equal(money.amountPaid, AMOUNT);
  console.log(
    `client: ${retries.length + 1} attempts, 1 requestId, 1 payment, amountPaid ${money.amountPaid}`,
  );
});

test("control: the same fault with a fresh requestId per attempt charges the student more than once", async () => {
  const student = await enrolledStudent();
  const retry = new RetryHandler(RETRY);
  const startPayment = httpsCallable(student.functions, "startPayment", { timeout: ATTEMPT_TIMEOUT_MS });
  let attempts = 0;

  stack.firestoreServer.faults.inject(FAULT);
  // The original app's mistake: the retry key is made inside the retried operation.
  await retry.run(async () => {
    attempts++;
    return startPayment({ courseId: COURSE.courseId, amount: AMOUNT, requestId: randomUUID() });
  });
  assert.ok(attempts >= 2, "the first attempt failed");

  // The abandoned first attempt still completes on the server: a second payment appears.
  await waitFor(async () => (await moneyOf(student.uid)).paymentIds.length >= 2);
  const { paymentIds, checkouts } = await moneyOf(student.uid);
  assert.ok(checkouts.length >= 2);
  for (const paymentId of paymentIds) await stack.confirmPayment(paymentId);
  const charged = AMOUNT * paymentIds.length;
  await waitFor(async () => (await moneyOf(student.uid)).amountPaid === charged);
  console.log(`control: ${attempts} attempts, ${paymentIds.length} payments, amountPaid ${charged}`);
});
