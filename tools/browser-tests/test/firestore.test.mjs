/**
 * The Firebase web SDK (`firebase/firestore`, `firebase/firestore/lite`) in headless Chromium against the local
 * Firestore, with the repository's firestore.rules: reads, queries, snapshot listeners (time from commit to
 * snapshot, median printed), client writes and transactions judged by the rules (money writes denied with
 * permission-denied, profile writes allowed), Firestore Lite (REST) and the long-polling modes.
 *
 * Data is seeded and read back from Node with the server SDK (`Bearer owner`, rules bypassed); the browser signs
 * in with the SDK's emulator mock token. Every browser call has its own timeout: the SDK retries an unreachable
 * backend for ever, and a hang must fail the test, not the suite's time budget.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { after, before, describe, test } from "node:test";

import { median, openSdkPage, screenshot } from "@course-payments/browser-tests";
import localFirestore from "@course-payments/local-firestore";

const require = createRequire(import.meta.url);
const { Firestore } = require("@google-cloud/firestore");

const PROJECT_ID = "demo-browser-tests";
const STUDENT = "student-web";
const OTHER = "other-web";
const COURSE = "web-course";
const ENROLLMENT = `users/${STUDENT}/courses/${COURSE}`;
const CALL_TIMEOUT_MS = 5_000;
const LISTENER_SAMPLES = 20;

let firestoreServer;
let admin;
let session;

const SEED = {
  [`courses/${COURSE}`]: { title: "Web course", price: 4900, currency: "usd", published: true },
  "courses/another-course": { title: "Another course", price: 2500, currency: "usd", published: true },
  "courses/draft-course": { title: "Draft", price: 100, currency: "usd", published: false },
  [`users/${STUDENT}`]: { displayName: "Student", email: "student@example.com" },
  [ENROLLMENT]: {
    uid: STUDENT,
    courseId: COURSE,
    price: 4900,
    currency: "usd",
    amountPaid: 1000,
    amountDue: 3900,
    amountOverpaid: 0,
    paymentStatus: "partial",
    accessStatus: "locked",
  },
  [`${ENROLLMENT}/ledger/pi_web_1`]: { amount: 1000, currency: "usd", type: "payment", source: "stripe" },
  [`users/${OTHER}/courses/${COURSE}`]: {
    uid: OTHER,
    courseId: COURSE,
    amountPaid: 0,
    paymentStatus: "unpaid",
  },
};

async function seed() {
  const batch = admin.batch();
  for (const [path, data] of Object.entries(SEED)) batch.set(admin.doc(path), data);
  await batch.commit();
}

async function stored(path) {
  return (await admin.doc(path).get()).data();
}

/** Where the page's Firestore instances point, and as whom. */
function target(uid, extra = {}) {
  const { host, port } = firestoreServer;
  return { projectId: PROJECT_ID, host, port, uid, ...extra };
}

/**
 * Runs `fn(target)` in the page; `fn` uses window.sdk / window.testing and returns a promise, which is settled
 * into { ok, value, ms } or { ok: false, code, message, ms } with CALL_TIMEOUT_MS as its limit.
 */
async function inBrowser(fn, arg) {
  return session.page.evaluate(
    async (source, arg, timeoutMs) => {
      const { settle, withTimeout } = window.testing;
      // The test's function, rebuilt from its source in the page.
      const run = new Function(`return (${source})`)();
      return settle(
        withTimeout(
          Promise.resolve().then(() => run(arg)),
          timeoutMs,
          "browser call",
        ),
      );
    },
    fn.toString(),
    arg,
    CALL_TIMEOUT_MS,
  );
}

function assertOk(reply) {
  assert.equal(reply.ok, true, `expected success, got ${reply.code}: ${reply.message}`);
  return reply.value;
}

function assertDenied(reply) {
  assert.equal(reply.ok, false, "expected permission-denied, the write succeeded");
  assert.equal(
    reply.code,
    "permission-denied",
    `expected permission-denied, got ${reply.code}: ${reply.message}`,
  );
  return reply.ms;
}

before(async () => {
  firestoreServer = await localFirestore.start({ host: "127.0.0.1", port: 0, projectId: PROJECT_ID });
  firestoreServer.loadRules(
    PROJECT_ID,
    await readFile(new URL("../../../firestore.rules", import.meta.url), "utf8"),
  );
  admin = new Firestore({ projectId: PROJECT_ID, host: firestoreServer.address, ssl: false });
  await seed();
  session = await openSdkPage();
});

after(async () => {
  if (session !== undefined) await screenshot(session.page, "firestore-sdk-page").catch(() => undefined);
  await session?.close();
  await admin?.terminate();
  await firestoreServer?.close();
});

/** On failure, what the browser said is the first thing anyone needs. */
function browserTest(name, fn) {
  test(name, async () => {
    try {
      await fn();
    } catch (error) {
      console.error(`--- browser log (last 30) ---\n${session?.log.slice(-30).join("\n")}`);
      throw error;
    } finally {
      await session?.page.evaluate(() => window.testing.closeAll());
    }
  });
}

describe("reads and queries (firebase/firestore, WebChannel)", () => {
  browserTest("a signed-out visitor reads a published course", async () => {
    const reply = await inBrowser(async (t) => {
      const { doc, getDoc } = window.sdk.firestore;
      const db = window.testing.firestoreFor(t);
      return (await getDoc(doc(db, "courses/web-course"))).data();
    }, target(undefined));
    assert.deepEqual(assertOk(reply), SEED[`courses/${COURSE}`]);
  });

  browserTest("the student reads their own enrollment and ledger", async () => {
    const reply = await inBrowser(async (t) => {
      const { collection, doc, getDoc, getDocs } = window.sdk.firestore;
      const db = window.testing.firestoreFor(t);
      const enrollment = (await getDoc(doc(db, "users", t.uid, "courses", "web-course"))).data();
      const ledger = await getDocs(collection(db, "users", t.uid, "courses", "web-course", "ledger"));
      return { enrollment, ledger: ledger.docs.map((d) => d.id) };
    }, target(STUDENT));
    assert.deepEqual(assertOk(reply), { enrollment: SEED[ENROLLMENT], ledger: ["pi_web_1"] });
  });

  browserTest("the catalogue query returns published courses in title order", async () => {
    const reply = await inBrowser(async (t) => {
      const { collection, getDocs, orderBy, query, where } = window.sdk.firestore;
      const db = window.testing.firestoreFor(t);
      const q = query(collection(db, "courses"), where("published", "==", true), orderBy("title"));
      return (await getDocs(q)).docs.map((d) => d.id);
    }, target(STUDENT));
    assert.deepEqual(assertOk(reply), ["another-course", COURSE]);
  });

  browserTest("reading another student's enrollment and an unconstrained catalogue are denied", async () => {
    const reply = await inBrowser(async (t) => {
      const { collection, doc, getDoc, getDocs } = window.sdk.firestore;
      const { settle } = window.testing;
      const db = window.testing.firestoreFor(t);
      return {
        other: await settle(getDoc(doc(db, "users/other-web/courses/web-course"))),
        all: await settle(getDocs(collection(db, "courses"))),
      };
    }, target(STUDENT));
    const { other, all } = assertOk(reply);
    assertDenied(other);
    assertDenied(all);
  });
});

describe("snapshot listeners", () => {
  browserTest(
    `a listener sees each committed change (${LISTENER_SAMPLES} commits; median printed)`,
    async () => {
      // The listener records when each amountPaid value arrives (wall clock, ms); Node commits the values one at
      // a time and takes each commit's time from the server's write time.
      const started = await inBrowser(async (t) => {
        const { doc, onSnapshot } = window.sdk.firestore;
        const db = window.testing.firestoreFor(t);
        window.arrivals = {};
        await new Promise((resolve, reject) => {
          window.stopListening = onSnapshot(
            doc(db, "users", t.uid, "courses", "web-course"),
            (snap) => {
              window.arrivals[snap.get("amountPaid")] = performance.timeOrigin + performance.now();
              resolve();
            },
            reject,
          );
        });
      }, target(STUDENT));
      assertOk(started);
      const latencies = [];
      for (let i = 1; i <= LISTENER_SAMPLES; i++) {
        const amountPaid = 1000 + i;
        const result = await admin.doc(ENROLLMENT).update({ amountPaid });
        const committedAt = result.writeTime.toMillis() + (result.writeTime.nanoseconds % 1e6) / 1e6;
        const arrived = await inBrowser(
          (value) =>
            new Promise((resolve) => {
              const poll = () =>
                window.arrivals[value] ? resolve(window.arrivals[value]) : setTimeout(poll, 1);
              poll();
            }),
          amountPaid,
        );
        latencies.push(assertOk(arrived) - committedAt);
      }
      await inBrowser(async () => window.stopListening(), undefined);
      const sorted = [...latencies].sort((a, b) => a - b);
      console.log(
        `listener: commit → snapshot in Chromium over WebChannel, ${LISTENER_SAMPLES} commits: ` +
          `median ${median(latencies).toFixed(1)} ms, min ${sorted[0].toFixed(1)} ms, max ${sorted.at(-1).toFixed(1)} ms`,
      );
      await admin.doc(ENROLLMENT).update({ amountPaid: 1000 });
    },
  );

  browserTest("a listener on another student's enrollment is denied", async () => {
    const reply = await inBrowser(
      (t) =>
        new Promise((resolve, reject) => {
          const { doc, onSnapshot } = window.sdk.firestore;
          const db = window.testing.firestoreFor(t);
          onSnapshot(doc(db, "users/other-web/courses/web-course"), () => resolve("got data"), reject);
        }),
      target(STUDENT),
    );
    assertDenied(reply);
  });
});

describe("client writes judged by the rules", () => {
  browserTest("money writes are denied with permission-denied and change nothing", async () => {
    const reply = await inBrowser(async (t) => {
      const { doc, increment, runTransaction, setDoc, updateDoc, writeBatch } = window.sdk.firestore;
      const { settle } = window.testing;
      const db = window.testing.firestoreFor(t);
      const enrollment = doc(db, "users", t.uid, "courses", "web-course");
      const batch = writeBatch(db);
      batch.update(enrollment, { amountPaid: increment(3900) });
      return {
        update: await settle(
          updateDoc(enrollment, { amountPaid: 4900, paymentStatus: "paid", accessStatus: "active" }),
        ),
        merge: await settle(setDoc(enrollment, { accessStatus: "active" }, { merge: true })),
        batchIncrement: await settle(batch.commit()),
        ledgerEntry: await settle(
          setDoc(doc(enrollment, "ledger", "pi_forged"), {
            amount: 3900,
            currency: "usd",
            type: "payment",
          }),
        ),
        transaction: await settle(
          runTransaction(db, async (tx) => {
            const snap = await tx.get(enrollment);
            tx.update(enrollment, { amountPaid: snap.get("amountPaid") + 3900 });
          }),
        ),
        newCourse: await settle(
          setDoc(doc(db, "courses/free-for-me"), { title: "Mine", price: 0, published: true }),
        ),
      };
    }, target(STUDENT));
    const outcomes = assertOk(reply);
    const times = Object.entries(outcomes).map(([name, outcome]) => {
      assert.equal(outcome.ok, false, `${name} was allowed`);
      assert.equal(outcome.code, "permission-denied", `${name}: ${outcome.code} ${outcome.message}`);
      return `${name} ${outcome.ms.toFixed(0)} ms`;
    });
    console.log(`denied writes answered in: ${times.join(", ")}`);
    assert.deepEqual(await stored(ENROLLMENT), SEED[ENROLLMENT]);
    assert.equal(await stored(`${ENROLLMENT}/ledger/pi_forged`), undefined);
    assert.equal(await stored("courses/free-for-me"), undefined);
  });

  browserTest("profile writes are allowed: a display-name update and a transaction", async () => {
    const reply = await inBrowser(async (t) => {
      const { doc, runTransaction, updateDoc } = window.sdk.firestore;
      const db = window.testing.firestoreFor(t);
      const profile = doc(db, "users", t.uid);
      await updateDoc(profile, { displayName: "Web student" });
      await runTransaction(db, async (tx) => {
        const snap = await tx.get(profile);
        tx.update(profile, { photoURL: `https://example.com/${snap.get("displayName").length}.png` });
      });
    }, target(STUDENT));
    assertOk(reply);
    assert.deepEqual(await stored(`users/${STUDENT}`), {
      ...SEED[`users/${STUDENT}`],
      displayName: "Web student",
      photoURL: "https://example.com/11.png",
    });
    await admin.doc(`users/${STUDENT}`).set(SEED[`users/${STUDENT}`]);
  });
});

describe("Firestore Lite (REST)", () => {
  browserTest("reads, a query, an allowed profile write and a denied money write", async () => {
    const reply = await inBrowser(async (t) => {
      const { collection, doc, getDoc, getDocs, query, setDoc, updateDoc, where } = window.sdk.lite;
      const { settle } = window.testing;
      const db = window.testing.firestoreFor({ ...t, lite: true });
      return {
        course: await settle(getDoc(doc(db, "courses/web-course")).then((s) => s.data())),
        catalogue: await settle(
          getDocs(query(collection(db, "courses"), where("published", "==", true))).then((s) =>
            s.docs.map((d) => d.id).sort(),
          ),
        ),
        profile: await settle(
          setDoc(doc(db, "users", t.uid), { displayName: "Lite student" }, { merge: true }),
        ),
        money: await settle(
          updateDoc(doc(db, "users", t.uid, "courses", "web-course"), { amountPaid: 4900 }),
        ),
      };
    }, target(STUDENT));
    const { course, catalogue, profile, money } = assertOk(reply);
    assert.deepEqual(assertOk(course), SEED[`courses/${COURSE}`]);
    assert.deepEqual(assertOk(catalogue), ["another-course", COURSE]);
    assertOk(profile);
    assertDenied(money);
    assert.equal((await stored(`users/${STUDENT}`)).displayName, "Lite student");
    assert.deepEqual(await stored(ENROLLMENT), SEED[ENROLLMENT]);
    await admin.doc(`users/${STUDENT}`).set(SEED[`users/${STUDENT}`]);
  });
});

describe("long-polling modes", () => {
  for (const settings of [
    { experimentalForceLongPolling: true },
    { experimentalAutoDetectLongPolling: true },
  ]) {
    browserTest(`${Object.keys(settings)[0]}: a read, a listener update and a denied write`, async () => {
      const listening = await inBrowser(
        async (t) => {
          const { doc, getDoc, onSnapshot } = window.sdk.firestore;
          const db = window.testing.firestoreFor(t);
          window.longPoll = { db, values: [] };
          const course = (await getDoc(doc(db, "courses/web-course"))).data();
          await new Promise((resolve, reject) => {
            window.longPoll.stop = onSnapshot(
              doc(db, "users", t.uid, "courses", "web-course"),
              (snap) => {
                window.longPoll.values.push(snap.get("amountPaid"));
                resolve();
              },
              reject,
            );
          });
          return course;
        },
        target(STUDENT, { settings }),
      );
      assert.deepEqual(assertOk(listening), SEED[`courses/${COURSE}`]);
      await admin.doc(ENROLLMENT).update({ amountPaid: 2222 });
      const seen = await inBrowser(
        () =>
          new Promise((resolve) => {
            const poll = () =>
              window.longPoll.values.includes(2222) ? resolve(window.longPoll.values) : setTimeout(poll, 5);
            poll();
          }),
        undefined,
      );
      assert.deepEqual(assertOk(seen), [1000, 2222]);
      const denied = await inBrowser(async () => {
        const { doc, updateDoc } = window.sdk.firestore;
        const { db } = window.longPoll;
        window.longPoll.stop();
        return updateDoc(doc(db, "users/student-web/courses/web-course"), { amountPaid: 4900 });
      }, undefined);
      assertDenied(denied);
      await admin.doc(ENROLLMENT).update({ amountPaid: 1000 });
    });
  }
});
