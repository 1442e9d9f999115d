/**
 * firebase-admin, initialised once and lazily. Only services import this module, and services are loaded
 * by the handlers on first use, so a cold start does not load firebase-admin until a function needs it.
 */
import { getApps, initializeApp } from "firebase-admin/app";
import { getFirestore, type Firestore } from "firebase-admin/firestore";

let db: Firestore | undefined;

export function firestore(): Firestore {
  if (db === undefined) {
    const app = getApps()[0] ?? initializeApp();
    db = getFirestore(app);
  }
  return db;
}
