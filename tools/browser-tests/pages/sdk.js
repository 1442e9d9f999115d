// Loads the Firebase web SDK's browser builds (through the import map) and hands them to the tests, which
// drive them with page.evaluate: window.sdk.firestore is the `firebase/firestore` module, and so on.
import * as app from "firebase/app";
import * as auth from "firebase/auth";
import * as firestore from "firebase/firestore";
import * as lite from "firebase/firestore/lite";
import * as functions from "firebase/functions";
import * as client from "@course-payments/client";

let apps = 0;
const open = [];

/**
 * A fresh app and Firestore instance pointed at the emulator, signed in with the SDK's emulator mock token when
 * `uid` is given (claims are added to the token). `lite: true` gives Firestore Lite (REST); `settings` go to
 * initializeFirestore (e.g. { experimentalForceLongPolling: true }).
 */
function firestoreFor({ projectId, host, port, uid, claims = {}, lite: useLite = false, settings }) {
  const instance = app.initializeApp({ projectId, apiKey: "fake-api-key" }, `test-app-${++apps}`);
  const sdk = useLite ? lite : firestore;
  const db =
    settings === undefined ? sdk.getFirestore(instance) : sdk.initializeFirestore(instance, settings);
  sdk.connectFirestoreEmulator(
    db,
    host,
    port,
    uid === undefined ? {} : { mockUserToken: { user_id: uid, ...claims } },
  );
  open.push({ sdk, db, instance });
  return db;
}

/**
 * Terminates every Firestore instance firestoreFor made and deletes its app. Tests call it when they end: each
 * instance holds its own streams, and Chromium allows six HTTP/1.1 connections per host, so instances left open
 * by earlier tests would starve later ones (over plain-http emulators there is no HTTP/2 to multiplex them).
 */
async function closeAll() {
  for (const { sdk, db, instance } of open.splice(0)) {
    await sdk.terminate(db);
    await app.deleteApp(instance);
  }
}

/** Resolves like `promise`, or rejects with code "timeout" after `ms` (the SDK retries some failures forever). */
function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error(`${what}: no answer in ${ms} ms`), { code: "timeout" })),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Settles `promise` into plain JSON: { ok, value, ms } or { ok: false, code, message, ms }. */
async function settle(promise) {
  const started = performance.now();
  try {
    const value = await promise;
    return {
      ok: true,
      value: value === undefined ? null : JSON.parse(JSON.stringify(value)),
      ms: performance.now() - started,
    };
  } catch (error) {
    return {
      ok: false,
      code: String(error?.code),
      message: String(error?.message),
      ms: performance.now() - started,
    };
  }
}

window.testing = { firestoreFor, closeAll, withTimeout, settle };
window.sdk = { app, auth, firestore, lite, functions, client };
document.getElementById("status").textContent = `Firebase ${app.SDK_VERSION} loaded`;
