// The admin page: courses (and upsertCourse), every enrollment with a ledger, refunds, and dead letters, live
// through onSnapshot. Admins read with their `admin: true` claim; every change goes through a callable.
import { collection, collectionGroup, doc, onSnapshot } from "firebase/firestore";

import { connect, el, errorText, money, notify, signInPanel, statusBadges, toMinorUnits } from "./common.js";

const { config, auth, db, payments } = await connect();

/** What the listeners last delivered: courses, ledger entries by enrollment path, enrollments, dead letters. */
const state = { courses: [], ledgers: new Map(), enrollments: new Map(), deadLetters: [], health: null };
let stopListeners = [];

function listen(ref, onNext) {
  stopListeners.push(onSnapshot(ref, onNext, (error) => notify(errorText(error), "error")));
}

signInPanel({
  auth,
  account: config.demoUsers.admin,
  onUser: (user) => {
    for (const stop of stopListeners.splice(0)) stop();
    Object.assign(state, {
      courses: [],
      ledgers: new Map(),
      enrollments: new Map(),
      deadLetters: [],
      health: null,
    });
    render();
    if (user === null) return;
    listen(collection(db, "courses"), (snap) => {
      state.courses = snap.docs.map((d) => ({ id: d.id, ...d.data() }));
      render();
    });
    listen(collectionGroup(db, "ledger"), (snap) => {
      const ledgers = new Map();
      for (const entry of snap.docs) {
        const enrollmentPath = entry.ref.parent.parent.path;
        if (!ledgers.has(enrollmentPath)) ledgers.set(enrollmentPath, []);
        ledgers.get(enrollmentPath).push({ id: entry.id, ...entry.data() });
        if (!state.enrollments.has(enrollmentPath)) {
          state.enrollments.set(enrollmentPath, null);
          listen(doc(db, enrollmentPath), (enrollment) => {
            state.enrollments.set(enrollmentPath, enrollment.data() ?? null);
            render();
          });
        }
      }
      state.ledgers = ledgers;
      render();
    });
    listen(doc(db, "ops/summary"), (snap) => {
      state.health = snap.data() ?? null;
      render();
    });
    listen(collection(db, "deadLetters"), (snap) => {
      state.deadLetters = snap.docs.map((d) => ({ id: d.id, ...d.data() }));
      render();
    });
  },
});

async function act(label, work) {
  notify(`${label}…`);
  try {
    notify(await work());
  } catch (error) {
    notify(errorText(error), "error");
  }
}

document.getElementById("upsert-course").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const price = String(form.get("price") ?? "").trim();
  const request = {
    courseId: String(form.get("courseId")).trim(),
    published: form.get("published") === "on",
  };
  if (String(form.get("title")).trim() !== "") request.title = String(form.get("title")).trim();
  if (price !== "") Object.assign(request, { price: toMinorUnits(price), currency: "usd" });
  void act(`Saving ${request.courseId}`, async () => {
    const result = await payments.upsertCourse(request);
    return `${result.created ? "Created" : "Updated"} ${result.courseId}.`;
  });
});

document.getElementById("refresh-health").addEventListener("click", () => {
  void act("Refreshing the health summary", async () => {
    const { summary } = await payments.getOpsSummary({ refresh: true });
    return `Health summary as of ${summary?.asOf ?? "never"}.`;
  });
});

function refund(uid, courseId, entry) {
  return act(`Refunding ${entry.id}`, async () => {
    const result = await payments.refundPayment({ uid, courseId, paymentId: entry.id });
    return `Refund ${result.refundId} of ${money(result.amount, entry.currency)}: ${result.status}${result.applied ? ", applied" : ""}.`;
  });
}

function coursesTable() {
  return [
    el("tr", {}, el("th", {}, "id"), el("th", {}, "title"), el("th", {}, "price"), el("th", {}, "published")),
    ...state.courses.map((c) =>
      el(
        "tr",
        { "data-course": c.id },
        el("td", {}, c.id),
        el("td", {}, c.title),
        el("td", {}, money(c.price, c.currency)),
        el("td", {}, c.published ? "yes" : "no"),
      ),
    ),
  ];
}

function enrollmentCard([path, entries]) {
  const [, uid, , courseId] = path.split("/");
  const enrollment = state.enrollments.get(path);
  const refunded = enrollment?.refundedByPayment ?? {};
  return el(
    "article",
    { class: "course", "data-enrollment": path },
    el("h3", {}, courseId, " ", el("small", {}, `student ${uid}`)),
    enrollment
      ? el(
          "p",
          {},
          statusBadges(enrollment),
          ` paid ${money(enrollment.amountPaid, enrollment.currency)} of ${money(enrollment.price, enrollment.currency)}`,
        )
      : undefined,
    el(
      "table",
      { class: "ledger" },
      entries.map((entry) =>
        el(
          "tr",
          { "data-entry": entry.id },
          el("td", {}, entry.type),
          el("td", {}, money(entry.amount, entry.currency)),
          el("td", {}, el("small", {}, entry.id)),
          el(
            "td",
            {},
            entry.type === "payment" && (refunded[entry.id] ?? 0) < entry.amount
              ? el("button", { onclick: () => void refund(uid, courseId, entry) }, "Refund")
              : undefined,
          ),
        ),
      ),
    ),
  );
}

function deadLettersTable() {
  if (state.deadLetters.length === 0) return [el("tr", {}, el("td", { class: "muted" }, "No dead letters."))];
  return [
    el("tr", {}, el("th", {}, "event"), el("th", {}, "type"), el("th", {}, "reason")),
    ...state.deadLetters.map((d) =>
      el("tr", {}, el("td", {}, d.eventId ?? d.id), el("td", {}, d.type ?? ""), el("td", {}, d.reason ?? "")),
    ),
  ];
}

/** The health summary: per day, events by outcome, parked and dead-lettered; now, what is waiting or wrong. */
function healthView() {
  const h = state.health;
  if (h === null) return [el("p", { class: "muted" }, "No summary yet: refresh it.")];
  const days = Object.entries(h.days ?? {}).sort(([a], [b]) => b.localeCompare(a));
  return [
    el(
      "table",
      { class: "health" },
      el(
        "tr",
        {},
        ...["day", "applied", "no-op", "dead-lettered", "ignored", "parked", "dead letters"].map((t) =>
          el("th", {}, t),
        ),
      ),
      ...days.map(([day, c]) =>
        el(
          "tr",
          { "data-day": day },
          el("td", {}, day),
          ...[
            c.events.applied,
            c.events.noop,
            c.events["dead-lettered"],
            c.events.ignored,
            c.parked,
            c.deadLetters,
          ].map((n) => el("td", {}, String(n))),
        ),
      ),
    ),
    el(
      "p",
      { id: "health-now" },
      `Now: ${h.now.parkedEvents} parked, ${h.now.deadLetters} dead letters, ${h.now.openDisputes} open disputes, ` +
        `${h.now.overdueInstallments} overdue installments (as of ${h.asOf}).`,
    ),
  ];
}

function render() {
  document.getElementById("health").replaceChildren(...healthView());
  document.getElementById("courses").replaceChildren(...coursesTable());
  document.getElementById("enrollments").replaceChildren(...[...state.ledgers].map(enrollmentCard));
  document.getElementById("dead-letters").replaceChildren(...deadLettersTable());
}
