import { readFileSync } from "node:fs";
import { resolve } from "node:path";

import {
  initializeTestEnvironment,
  type RulesTestContext,
  type RulesTestEnvironment,
} from "@firebase/rules-unit-testing";
import type { Firestore } from "firebase/firestore";

/** A `demo-` project: the emulator never talks to a real project. Matches .firebaserc. */
export const PROJECT_ID = "demo-courses";

/** The rules under test: the repository's deployable firestore.rules, read at test time. */
export const RULES_PATH = resolve(__dirname, "../../../../firestore.rules");

export interface EmulatorAddress {
  host: string;
  port: number;
}

const MISSING_EMULATOR = [
  "FIRESTORE_EMULATOR_HOST is not set, so the security-rules tests have nothing to run against.",
  "These tests never skip: an unset variable is a failure, not a pass.",
  "Start a Firestore emulator that evaluates security rules and export its address, e.g.",
  "  FIRESTORE_EMULATOR_HOST=127.0.0.1:8080 npm test -w tools/rules-tests",
  "(the official one: `firebase emulators:exec --only firestore 'npm test -w tools/rules-tests'`,",
  "which sets the variable itself).",
].join("\n");

/**
 * The emulator address from FIRESTORE_EMULATOR_HOST ("host:port", IPv6 as "[::1]:8080").
 * Throws with instructions when it is unset or malformed; test files call it at load time so
 * that jest reports "Test suite failed to run" with this message instead of skipping.
 */
export function emulatorFromEnv(env: NodeJS.ProcessEnv = process.env): EmulatorAddress {
  const raw = env.FIRESTORE_EMULATOR_HOST?.trim();
  if (raw === undefined || raw === "") {
    throw new Error(MISSING_EMULATOR);
  }
  const separator = raw.lastIndexOf(":");
  const host = raw.slice(0, separator);
  const port = Number(raw.slice(separator + 1));
  if (separator <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`FIRESTORE_EMULATOR_HOST must be "host:port", got "${raw}".`);
  }
  return { host, port };
}

/** Loads firestore.rules into the emulator for PROJECT_ID. */
export async function createTestEnvironment(emulator: EmulatorAddress): Promise<RulesTestEnvironment> {
  return initializeTestEnvironment({
    projectId: PROJECT_ID,
    firestore: { rules: readFileSync(RULES_PATH, "utf8"), host: emulator.host, port: emulator.port },
  });
}

/**
 * rules-unit-testing hands out a compat `firebase.firestore.Firestore`; the modular functions
 * (`doc`, `getDoc`, ...) accept it at run time because they unwrap compat instances, but its
 * TypeScript type is not the modular `Firestore`. This is the one place the two meet.
 */
export function firestoreOf(context: RulesTestContext): Firestore {
  return context.firestore() as unknown as Firestore;
}

export const ROLES = ["anonymous", "otherUser", "owner", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** The user who owns every user-scoped fixture (profile, enrollment, ledger, checkout). */
export const OWNER_UID = "alice";
/** A signed-in user who owns none of the fixtures under test. */
export const OTHER_UID = "bob";
/** A support admin: custom claim `admin: true`, owns nothing. */
export const ADMIN_UID = "carol";

/** Who each role is: null when signed out, else the uid and the token's custom claims. */
export const ROLE_AUTH: Readonly<Record<Role, { uid: string; claims?: Record<string, unknown> } | null>> = {
  anonymous: null,
  otherUser: { uid: OTHER_UID },
  owner: { uid: OWNER_UID },
  admin: { uid: ADMIN_UID, claims: { admin: true } },
};

export function contextFor(testEnv: RulesTestEnvironment, role: Role): RulesTestContext {
  const auth = ROLE_AUTH[role];
  return auth === null
    ? testEnv.unauthenticatedContext()
    : testEnv.authenticatedContext(auth.uid, auth.claims);
}

export function dbFor(testEnv: RulesTestEnvironment, role: Role): Firestore {
  return firestoreOf(contextFor(testEnv, role));
}

/** Holds the environment created in beforeAll and fails clearly if a test runs without it. */
export class EnvironmentHolder {
  private current: RulesTestEnvironment | undefined;

  set(testEnv: RulesTestEnvironment): void {
    this.current = testEnv;
  }

  get(): RulesTestEnvironment {
    if (this.current === undefined) {
      throw new Error("The rules test environment was not created (see the beforeAll error above).");
    }
    return this.current;
  }

  async cleanup(): Promise<void> {
    await this.current?.cleanup();
    this.current = undefined;
  }
}
