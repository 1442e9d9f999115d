// What both pages share: connecting the Firebase web SDK to the local stack, the typed callables client, sign-in,
// money formatting and the messages shown for errors.
import { initializeApp } from "firebase/app";
import { CustomProvider, initializeAppCheck } from "firebase/app-check";
import {
  connectAuthEmulator,
  getAuth,
  onAuthStateChanged,
  signInWithEmailAndPassword,
  signOut,
} from "firebase/auth";
import { connectFirestoreEmulator, getFirestore } from "firebase/firestore";
import { connectFunctionsEmulator, getFunctions } from "firebase/functions";
import { createCoursePaymentsClient } from "@course-payments/client";

/** The Firebase app, pointed at the emulators whose addresses the demo server publishes in /__/config.json. */
export async function connect() {
  const config = await (await fetch("/__/config.json")).json();
  const app = initializeApp({ projectId: config.projectId, apiKey: config.apiKey, appId: config.appId });
  // Every callable enforces App Check. A production app uses reCAPTCHA Enterprise (or the App Check debug token,
  // which Google's App Check server exchanges); offline there is no App Check server, so the demo's provider fetches
  // an unsigned token from the demo server that only the functions emulator accepts.
  initializeAppCheck(app, {
    provider: new CustomProvider({
      getToken: async () => {
        const reply = await fetch("/__/api/appCheckToken", { method: "POST", body: "{}" });
        if (!reply.ok) throw new Error(`App Check token: HTTP ${reply.status}`);
        return reply.json();
      },
    }),
    isTokenAutoRefreshEnabled: true,
  });
  const auth = getAuth(app);
  connectAuthEmulator(auth, config.authEmulatorUrl, { disableWarnings: true });
  const db = getFirestore(app);
  connectFirestoreEmulator(db, config.firestore.host, config.firestore.port);
  const functions = getFunctions(app, config.functions.region);
  connectFunctionsEmulator(functions, config.functions.host, config.functions.port);
  const payments = createCoursePaymentsClient(functions, { timeoutMs: 15_000, retry: { attempts: 3 } });
  return { config, auth, db, payments };
}

/** Creates an element: el("p", { class: "x", onclick }, "text", child). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...children.flat().filter((child) => child !== undefined && child !== null));
  return node;
}

/** The enrollment's paymentStatus and accessStatus, as two badges. */
export function statusBadges(enrollment) {
  return ["paymentStatus", "accessStatus"].flatMap((field, index) => [
    index === 0 ? undefined : " ",
    el("span", { class: `badge ${enrollment[field]}`, "data-field": field }, enrollment[field]),
  ]);
}

/** Minor units → "$49.00". */
export function money(cents, currency) {
  return new Intl.NumberFormat("en", { style: "currency", currency: currency.toUpperCase() }).format(
    cents / 100,
  );
}

/** "49" or "49.00" → 4900 minor units (2-decimal currencies); NaN when it is not an amount. */
export function toMinorUnits(text) {
  return /^\s*\d+(\.\d{1,2})?\s*$/.test(text) ? Math.round(Number(text) * 100) : Number.NaN;
}

/** What the user sees for a failed call: the callable's code and its documented message. */
export function errorText(error) {
  const code = String(error?.code ?? "error").replace(/^(functions|firestore|auth)\//, "");
  // httpsCallable appends the HTTP status to the backend's message ("… [400]"); the user needs the message.
  const message = String(error?.message ?? error).replace(/ \[\d{3}\]$/, "");
  return `${code}: ${message}`;
}

/** Shows `text` in the page's message area (role="status" for news, role="alert" for errors). */
export function notify(text, kind = "info") {
  const area = document.getElementById("messages");
  area.replaceChildren(el("p", { class: kind, role: kind === "error" ? "alert" : "status" }, text));
}

/**
 * The sign-in panel: prefilled with the demo user, signs in with the auth emulator, and calls `onUser(user)` or
 * `onUser(null)` whenever the signed-in user changes.
 */
export function signInPanel({ auth, account, onUser }) {
  const panel = document.getElementById("session");
  const email = el("input", { name: "email", type: "email", value: account.email, "aria-label": "email" });
  const password = el("input", {
    name: "password",
    type: "password",
    value: account.password,
    "aria-label": "password",
  });
  const form = el(
    "form",
    {
      id: "sign-in",
      onsubmit: (event) => {
        event.preventDefault();
        signInWithEmailAndPassword(auth, email.value, password.value).catch((error) =>
          notify(errorText(error), "error"),
        );
      },
    },
    email,
    password,
    el("button", { type: "submit" }, "Sign in"),
  );
  onAuthStateChanged(auth, (user) => {
    panel.replaceChildren(
      user === null
        ? form
        : el(
            "p",
            {},
            "Signed in as ",
            el("strong", { id: "who" }, user.email),
            " ",
            el("button", { onclick: () => signOut(auth) }, "Sign out"),
          ),
    );
    onUser(user);
  });
}
