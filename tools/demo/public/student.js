// The student page: the catalogue of published courses, enrollment, payments in full or in part through the
// local payment provider, and the enrollment's status, balance and ledger, all live through onSnapshot.
import { collection, onSnapshot, orderBy, query, where } from "firebase/firestore";

import { connect, el, errorText, money, notify, signInPanel, statusBadges, toMinorUnits } from "./common.js";

const { config, auth, db, payments } = await connect();

/** What the listeners last delivered; render() draws the page from it. */
const state = {
  uid: null,
  courses: [],
  enrollments: new Map(),
  ledgers: new Map(),
  amounts: new Map(),
  busy: new Set(),
};
let stopListeners = [];

function stopAll() {
  for (const stop of stopListeners) stop();
  stopListeners = [];
}

function listen(ref, onNext) {
  stopListeners.push(onSnapshot(ref, onNext, (error) => notify(errorText(error), "error")));
}

signInPanel({
  auth,
  account: config.demoUsers.student,
  onUser: (user) => {
    stopAll();
    Object.assign(state, { uid: user?.uid ?? null, courses: [], enrollments: new Map(), ledgers: new Map() });
    render();
    if (user === null) return;
    listen(query(collection(db, "courses"), where("published", "==", true)), (snap) => {
      state.courses = snap.docs
        .map((d) => ({ id: d.id, ...d.data() }))
        .sort((a, b) => a.title.localeCompare(b.title));
      render();
    });
    listen(collection(db, "users", user.uid, "courses"), (snap) => {
      for (const change of snap.docChanges()) {
        const courseId = change.doc.id;
        if (!state.enrollments.has(courseId)) {
          // A new enrollment: follow its ledger too.
          listen(
            query(collection(db, "users", user.uid, "courses", courseId, "ledger"), orderBy("createdAt")),
            (ledger) => {
              state.ledgers.set(
                courseId,
                ledger.docs.map((d) => ({ id: d.id, ...d.data() })),
              );
              render();
            },
          );
        }
        state.enrollments.set(courseId, change.doc.data());
      }
      render();
    });
  },
});

/** Runs a callable for one course, showing progress and the callable's message on failure. */
async function act(courseId, label, work) {
  state.busy.add(courseId);
  notify(`${label}…`);
  render();
  try {
    notify(await work());
  } catch (error) {
    notify(errorText(error), "error");
  } finally {
    state.busy.delete(courseId);
    render();
  }
}

function enroll(course) {
  return act(course.id, `Enrolling in ${course.title}`, async () => {
    await payments.enrollInCourse({ courseId: course.id });
    return `Enrolled in ${course.title}.`;
  });
}

function pay(course) {
  const text = state.amounts.get(course.id) ?? "";
  const amount = text.trim() === "" ? undefined : toMinorUnits(text);
  if (Number.isNaN(amount)) {
    notify("Enter an amount like 20 or 20.50, or leave it empty to pay the balance.", "error");
    return undefined;
  }
  return act(course.id, "Paying", async () => {
    const payment = await payments.startPayment({ courseId: course.id, amount });
    // What Stripe.js would do with payment.clientSecret: the local provider confirms the card and sends the
    // signed webhook event. The enrollment then changes on the server and arrives here through onSnapshot.
    notify(`Confirming ${money(payment.amount, payment.currency)} with the local payment provider…`);
    const response = await fetch("/__/api/confirmPayment", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ paymentId: payment.paymentId }),
    });
    if (!response.ok)
      throw new Error((await response.json()).error ?? `provider answered ${response.status}`);
    state.amounts.delete(course.id);
    return `Payment of ${money(payment.amount, payment.currency)} confirmed (${payment.paymentId}).`;
  });
}

function ledgerList(entries, currency) {
  if (entries.length === 0) return el("p", { class: "muted" }, "No payments yet.");
  return el(
    "ul",
    { class: "ledger" },
    entries.map((entry) =>
      el(
        "li",
        { "data-entry": entry.id },
        `${entry.type} ${money(entry.amount, entry.currency ?? currency)}`,
        el("small", {}, ` ${entry.id}`),
      ),
    ),
  );
}

function enrollmentPanel(course, enrollment) {
  const busy = state.busy.has(course.id);
  const unlocked = enrollment.accessStatus === "active";
  return el(
    "div",
    { class: "enrollment" },
    el("p", {}, statusBadges(enrollment)),
    el(
      "p",
      {},
      "Paid ",
      el("strong", { "data-field": "amountPaid" }, money(enrollment.amountPaid, enrollment.currency)),
      " of ",
      money(enrollment.price, enrollment.currency),
      " · balance ",
      el("strong", { "data-field": "amountDue" }, money(enrollment.amountDue, enrollment.currency)),
    ),
    enrollment.amountDue > 0
      ? el(
          "form",
          {
            class: "pay",
            onsubmit: (event) => {
              event.preventDefault();
              void pay(course);
            },
          },
          el("input", {
            name: "amount",
            inputmode: "decimal",
            placeholder: (enrollment.amountDue / 100).toFixed(2),
            value: state.amounts.get(course.id) ?? "",
            "aria-label": "amount to pay",
            oninput: (event) => state.amounts.set(course.id, event.target.value),
          }),
          el("button", { type: "submit", disabled: busy }, "Pay"),
          el(
            "small",
            { class: "muted" },
            enrollment.installments ? " empty = the installment due now" : " empty = the whole balance",
          ),
        )
      : undefined,
    el("h4", {}, "Ledger"),
    ledgerList(state.ledgers.get(course.id) ?? [], enrollment.currency),
    el(
      "div",
      { class: `content ${unlocked ? "unlocked" : "locked"}`, "data-field": "content" },
      unlocked
        ? [
            el("h4", {}, "Course content (unlocked)"),
            el("ol", {}, el("li", {}, "Welcome"), el("li", {}, "Lesson 1: getting started")),
          ]
        : el("p", {}, `Content locked (${enrollment.accessStatus}): pay the balance to unlock it.`),
    ),
  );
}

function courseCard(course) {
  const enrollment = state.enrollments.get(course.id);
  return el(
    "article",
    { class: "course", "data-course": course.id },
    el(
      "h3",
      {},
      course.title,
      " ",
      el("span", { class: "price" }, course.price === 0 ? "free" : money(course.price, course.currency)),
    ),
    enrollment === undefined
      ? el("button", { onclick: () => void enroll(course), disabled: state.busy.has(course.id) }, "Enroll")
      : enrollmentPanel(course, enrollment),
  );
}

function render() {
  const main = document.getElementById("catalogue");
  if (state.uid === null) {
    main.replaceChildren(el("p", { class: "muted" }, "Sign in to see the catalogue."));
    return;
  }
  const focused = document.activeElement?.closest?.("[data-course]")?.getAttribute("data-course");
  main.replaceChildren(...state.courses.map(courseCard));
  // Keep typing where it was when a snapshot redraws the page.
  if (focused) document.querySelector(`[data-course="${focused}"] input[name=amount]`)?.focus();
}
