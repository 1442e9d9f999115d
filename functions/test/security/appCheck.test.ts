/**
 * App Check on every callable, through the HTTP layer firebase-functions wraps a callable in (the other suites call
 * the handlers' `.run`, which skips it). A request without a valid App Check token is refused `unauthenticated`
 * before any handler code runs, and changes nothing.
 *
 * Two verification modes, chosen per request (see support/debugMode): the functions emulator's, which decodes App
 * Check and ID tokens without verifying them (the local stack's path, with the kit's unsigned token), and
 * production's, where firebase-admin verifies the App Check token's signature — an unsigned or forged token is
 * refused there. A genuinely signed token cannot be made offline (App Check's keys are Google's), nor can an ID
 * token be verified without Google's keys or an Auth emulator, so the production-mode requests carry no ID token:
 * refused by App Check they answer "Unauthenticated" (firebase-functions), past App Check "Sign in first." (ours).
 */
import "./support/debugMode";
import {
  emulatorAppCheckToken,
  emulatorIdToken,
  invokeRequestHandler,
  type Caller,
} from "../../src/testing/kit";
import * as callables from "../../src/index";
import { ADMIN, createCourse, readDoc } from "../support/harness";
import { TEST_PROJECT, useLocalFirestore } from "../support/localFirestore";

useLocalFirestore();

const APP_ID = "1:000000000000:web:0000000000000000";
const STUDENT: Caller = { uid: "student-1" };

type Handler = Parameters<typeof invokeRequestHandler>[0];

interface Verification {
  /** true: as the functions emulator (tokens decoded, not verified); false: as production. */
  emulator: boolean;
}

async function post(
  fn: unknown,
  data: unknown,
  options: { caller?: Caller; appCheck?: string | null } & Verification,
) {
  const saved = process.env.FIREBASE_DEBUG_FEATURES;
  process.env.FIREBASE_DEBUG_FEATURES = JSON.stringify(
    options.emulator ? { skipTokenVerification: true } : {},
  );
  try {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (options.caller !== undefined)
      headers.authorization = `Bearer ${emulatorIdToken(TEST_PROJECT, options.caller)}`;
    const appCheck =
      options.appCheck === undefined ? emulatorAppCheckToken(TEST_PROJECT, APP_ID) : options.appCheck;
    if (appCheck !== null) headers["x-firebase-appcheck"] = appCheck;
    const reply = await invokeRequestHandler(fn as Handler, {
      method: "POST",
      headers,
      rawBody: JSON.stringify({ data }),
    });
    return reply as {
      status: number;
      body: { result?: unknown; error?: { status?: string; message?: string } };
    };
  } finally {
    process.env.FIREBASE_DEBUG_FEATURES = saved;
  }
}

/** firebase-functions' answer when a token is missing or rejected; ours for a request without a signed-in user. */
const REFUSED_BY_APP_CHECK = "Unauthenticated";
const NOT_SIGNED_IN = "Sign in first.";
beforeEach(async () => {
  await createCourse("c1", 5000);
});

describe("App Check is enforced on every callable", () => {
  // Every callable the backend exports (firebase-functions marks them with a callable trigger), so a new one is
  // covered without editing this list.
  const all = Object.fromEntries(
    Object.entries(callables).filter(
      ([, fn]) =>
        (fn as { __endpoint?: { callableTrigger?: unknown } }).__endpoint?.callableTrigger !== undefined,
    ),
  );

  it("finds the callables", () => {
    expect(Object.keys(all).sort()).toEqual(
      expect.arrayContaining([
        "enrollInCourse",
        "recordManualPayment",
        "refundPayment",
        "startPayment",
        "upsertCourse",
      ]),
    );
    expect(Object.keys(all)).not.toContain("paymentWebhook");
  });

  it.each(Object.keys(all))(
    "%s without an App Check token: unauthenticated, for students and admins",
    async (name) => {
      const fn = all[name];
      for (const caller of [STUDENT, ADMIN]) {
        const reply = await post(fn, { courseId: "c1" }, { caller, appCheck: null, emulator: true });
        expect(reply.status).toBe(401);
        expect(reply.body.error?.status).toBe("UNAUTHENTICATED");
      }
    },
  );

  it("with the emulator's token the call goes through; without one nothing is written", async () => {
    const refused = await post(
      callables.enrollInCourse,
      { courseId: "c1" },
      { caller: STUDENT, appCheck: null, emulator: true },
    );
    expect(refused.status).toBe(401);
    expect(await readDoc(`users/${STUDENT.uid}/courses/c1`)).toBeUndefined();
    const accepted = await post(
      callables.enrollInCourse,
      { courseId: "c1" },
      { caller: STUDENT, emulator: true },
    );
    expect(accepted.status).toBe(200);
    expect(accepted.body.result).toMatchObject({ courseId: "c1", paymentStatus: "unpaid" });
    expect(await readDoc(`users/${STUDENT.uid}/courses/c1`)).toMatchObject({ amountDue: 5000 });
  });

  it("where tokens are verified (production), an unsigned or forged App Check token is refused", async () => {
    const unsigned = emulatorAppCheckToken(TEST_PROJECT, APP_ID);
    const forged = `${unsigned.split(".").slice(0, 2).join(".")}.${Buffer.from("not a signature").toString("base64url")}`;
    for (const appCheck of [unsigned, forged, "not-a-jwt", null]) {
      const reply = await post(callables.enrollInCourse, { courseId: "c1" }, { appCheck, emulator: false });
      expect(reply.status).toBe(401);
      expect(reply.body.error?.message).toBe(REFUSED_BY_APP_CHECK);
    }
    // In the emulator's mode the same request without an ID token gets past App Check and is refused by the handler.
    const past = await post(callables.enrollInCourse, { courseId: "c1" }, { emulator: true });
    expect(past.body.error?.message).toBe(NOT_SIGNED_IN);
  });

  it("with ENFORCE_APP_CHECK=false a request without a valid App Check token reaches the handler", async () => {
    process.env.ENFORCE_APP_CHECK = "false";
    let relaxed: unknown;
    try {
      await jest.isolateModulesAsync(async () => {
        relaxed = (await import("../../src/functions/enrollInCourse")).enrollInCourse;
      });
    } finally {
      delete process.env.ENFORCE_APP_CHECK;
    }
    for (const appCheck of ["not-a-jwt", null]) {
      const reply = await post(relaxed, { courseId: "c1" }, { appCheck, emulator: false });
      expect(reply.status).toBe(401);
      expect(reply.body.error?.message).toBe(NOT_SIGNED_IN);
    }
  });
});
