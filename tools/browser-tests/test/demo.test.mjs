/**
 * The demo web app (tools/demo) end to end in headless Chromium, on the whole local stack (local Firestore, the
 * Firebase CLI's functions and auth emulators, the local payment provider): the student signs in, enrolls, is
 * refused an overpayment with the callable's documented message, pays in part and then the balance; status,
 * balance, ledger and unlocked content arrive through onSnapshot. The admin, in a separate browser context, sees
 * the ledger and refunds a payment; the student's open page shows the refund live. Screenshots are saved in
 * tools/browser-tests/artifacts/.
 *
 * LOCAL_STACK_SKIP_BUILD=1 skips building functions/ and tools/local-firestore (when `npm run build` just ran).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { launchChromium, openPage, screenshot } from "@course-payments/browser-tests";

import { startDemoServer } from "../../demo/server.mjs";
import { DEMO, freePort, startLocalStack } from "../../local-stack/stack.mjs";

const WAIT_MS = 20_000;
const COURSE = `[data-course="${DEMO.course.courseId}"]`;

let stack;
let demo;
let chromium;
let student;
let admin;
const stackOutput = [];

before(
  async () => {
    stack = await startLocalStack({
      firestorePort: 0,
      functionsPort: await freePort(),
      authPort: await freePort(),
      projectId: "demo-courses",
      build: process.env.LOCAL_STACK_SKIP_BUILD !== "1",
      log: (line) => {
        stackOutput.push(line);
        if (stackOutput.length > 200) stackOutput.shift();
      },
    });
    demo = await startDemoServer(stack, { port: 0 });
    chromium = await launchChromium();
  },
  { timeout: 180_000 },
);

after(async () => {
  await chromium?.close();
  await demo?.close();
  await stack?.stop();
});

/** Waits until the element's text is `expected` (or matches it, for a RegExp). */
async function waitForText(opened, selector, expected) {
  try {
    await opened.page.waitForFunction(
      (sel, source, flags) => {
        const text = document.querySelector(sel)?.textContent?.trim();
        return (
          text !== undefined && (flags === null ? text === source : new RegExp(source, flags).test(text))
        );
      },
      { timeout: WAIT_MS },
      selector,
      expected instanceof RegExp ? expected.source : expected,
      expected instanceof RegExp ? expected.flags : null,
    );
  } catch (error) {
    const actual = await opened.page
      .$eval(selector, (node) => node.textContent)
      .catch(() => "(no such element)");
    const messages = await opened.page.$eval("#messages", (node) => node.textContent).catch(() => "");
    throw new Error(
      `${selector}: expected ${expected}, saw ${JSON.stringify(actual)}; page messages: ${JSON.stringify(messages)}\n` +
        `--- browser log ---\n${opened.log.slice(-20).join("\n")}\n--- stack output ---\n${stackOutput.slice(-30).join("\n")}`,
      { cause: error },
    );
  }
}

async function count(opened, selector) {
  return opened.page.$$eval(selector, (nodes) => nodes.length);
}

/**
 * Clicks the element in one step inside the page. The pages redraw from their snapshot listeners, so an element
 * handle taken in Node may be detached by the time a click arrives; a click in the page cannot be.
 */
async function click(opened, selector) {
  await opened.page.waitForSelector(selector, { timeout: WAIT_MS });
  await opened.page.evaluate((sel) => document.querySelector(sel).click(), selector);
}

/** Types the amount as the user would (an input event per value), then presses "Pay". */
async function pay(amountText) {
  await student.page.evaluate(
    (sel, value) => {
      const input = document.querySelector(sel);
      input.value = value;
      input.dispatchEvent(new Event("input", { bubbles: true }));
    },
    `${COURSE} input[name=amount]`,
    amountText,
  );
  // The button is disabled while the page's previous call runs (its snapshot can arrive before its answer).
  await click(student, `${COURSE} form.pay button[type=submit]:not([disabled])`);
}

test("the student signs in and sees the published catalogue", async () => {
  student = await openPage(chromium.browser, `${demo.url}/`);
  await click(student, "#sign-in button");
  await waitForText(student, "#who", DEMO.student.email);
  await student.page.waitForSelector(`${COURSE} h3`, { timeout: WAIT_MS });
  await waitForText(student, `[data-course="${DEMO.freeCourse.courseId}"] .price`, "free");
  await screenshot(student.page, "demo-1-catalogue");
});

test("enrolling shows the enrollment unpaid and locked", async () => {
  await click(student, `${COURSE} button`);
  await waitForText(student, `${COURSE} [data-field=paymentStatus]`, "unpaid");
  await waitForText(student, `${COURSE} [data-field=accessStatus]`, "locked");
  await waitForText(student, `${COURSE} [data-field=amountDue]`, "$49.00");
});

test("an overpayment is refused with the callable's documented message, and nothing changes", async () => {
  await pay("100");
  await waitForText(
    student,
    "#messages [role=alert]",
    "failed-precondition: The amount exceeds the amount due.",
  );
  await waitForText(student, `${COURSE} [data-field=amountPaid]`, "$0.00");
  await screenshot(student.page, "demo-2-error");
});

test("a part payment arrives live: partial, balance, ledger; content stays locked", async () => {
  await pay("20");
  await waitForText(student, `${COURSE} [data-field=paymentStatus]`, "partial");
  await waitForText(student, `${COURSE} [data-field=amountDue]`, "$29.00");
  await student.page.waitForFunction(
    (sel) => document.querySelectorAll(sel).length === 1,
    { timeout: WAIT_MS },
    `${COURSE} .ledger li`,
  );
  await waitForText(student, `${COURSE} [data-field=content]`, /^Content locked/);
});

test("paying the balance makes access active and unlocks the content, live", async () => {
  const started = Date.now();
  await pay("");
  await waitForText(student, `${COURSE} [data-field=accessStatus]`, "active");
  console.log(
    `demo: click "Pay" → access active on the page in ${Date.now() - started} ms (startPayment, provider, webhook, onSnapshot)`,
  );
  await waitForText(student, `${COURSE} [data-field=paymentStatus]`, "paid");
  await waitForText(student, `${COURSE} [data-field=content] h4`, "Course content (unlocked)");
  assert.equal(await count(student, `${COURSE} .ledger li`), 2);
  assert.equal(await count(student, `${COURSE} form.pay`), 0);
  await screenshot(student.page, "demo-3-student-paid");
});

test("the admin refunds the part payment; the student's open page shows it live", async () => {
  // A separate browser context: its own auth session, as another person's browser would be.
  const context = await chromium.browser.createBrowserContext();
  admin = await openPage(context, `${demo.url}/admin.html`);
  await click(admin, "#sign-in button");
  await waitForText(admin, "#who", DEMO.admin.email);
  await admin.page.waitForSelector(`[data-course="${DEMO.course.courseId}"]`, { timeout: WAIT_MS });
  await waitForText(admin, "#dead-letters", "No dead letters.");
  const enrollment = `[data-enrollment="users/${stack.users.student.uid}/courses/${DEMO.course.courseId}"]`;
  await admin.page.waitForFunction(
    (sel) => document.querySelectorAll(sel).length === 2,
    { timeout: WAIT_MS },
    `${enrollment} tr`,
  );
  await waitForText(admin, `${enrollment} [data-field=accessStatus]`, "active");
  const partPayment = await admin.page.$$eval(`${enrollment} tr`, (rows) =>
    rows.find((row) => row.textContent.includes("$20.00"))?.getAttribute("data-entry"),
  );
  assert.ok(partPayment, "the $20.00 payment is listed");
  await click(admin, `${enrollment} tr[data-entry="${partPayment}"] button`);
  await waitForText(admin, "#messages p", /^Refund re_\S+ of \$20\.00: succeeded/);
  await waitForText(admin, `${enrollment} [data-field=paymentStatus]`, "partial");

  await waitForText(student, `${COURSE} [data-field=paymentStatus]`, "partial");
  await waitForText(student, `${COURSE} [data-field=accessStatus]`, "locked");
  await waitForText(student, `${COURSE} [data-field=amountPaid]`, "$29.00");
  await student.page.waitForFunction(
    (sel) => document.querySelectorAll(sel).length === 3,
    { timeout: WAIT_MS },
    `${COURSE} .ledger li`,
  );
  // The health summary: refreshed by the admin callable, shown live from ops/summary (onSnapshot).
  await waitForText(admin, "#health", "No summary yet: refresh it.");
  await click(admin, "#refresh-health");
  await waitForText(
    admin,
    "#health-now",
    /^Now: 0 parked, 0 dead letters, 0 open disputes, 0 overdue installments/,
  );
  const applied = await admin.page.$eval("#health tr[data-day] td:nth-child(2)", (td) =>
    Number(td.textContent),
  );
  assert.ok(applied >= 3, `today's applied events: ${applied}`); // two payments and the refund
  await screenshot(admin.page, "demo-4-admin-refund");
  await screenshot(student.page, "demo-5-student-after-refund");
});
