/**
 * The test kit: the one way to invoke the real handlers in-process, shared by the functions' tests (imported
 * from src), the fuzz suites, and the chaos simulation and benchmark in tools/sim (loaded from the build,
 * functions/lib/testing/kit.js, with the types of functions/lib/testing/kit.d.ts). Never imported by
 * index.ts, so no deployed function loads it, and firebase.json leaves lib/testing out of the deploy.
 *
 * No Firebase imports: a handler is anything with the shape firebase-functions gives it.
 */

/** Who calls a callable; `admin` puts the custom claim `admin: true` on the token. */
export interface Caller {
  uid: string;
  admin?: boolean;
  /** The token's `email` claim, and its `email_verified` (true unless said otherwise). */
  email?: string;
  emailVerified?: boolean;
}

/** The request a v2 callable's handler receives (firebase-functions `CallableRequest`, as far as we use it). */
export interface CallableRequestLike {
  data: unknown;
  auth?: { uid: string; token: Record<string, unknown> };
  rawRequest: unknown;
  acceptsStreaming: boolean;
}

/** A callable request from `caller` (unauthenticated when null), as Cloud Functions builds it. */
export function callableRequest(caller: Caller | null, data: unknown): CallableRequestLike {
  return {
    data,
    ...(caller === null
      ? {}
      : {
          auth: {
            uid: caller.uid,
            token: {
              uid: caller.uid,
              ...(caller.admin === true ? { admin: true } : {}),
              ...(caller.email === undefined
                ? {}
                : { email: caller.email, email_verified: caller.emailVerified ?? true }),
            },
          },
        }),
    rawRequest: { method: "POST", headers: {}, body: { data } },
    acceptsStreaming: false,
  };
}

/** base64url of a JSON value (a JWT segment). */
function jwtSegment(value: unknown): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
}

/**
 * An unsigned App Check token for `appId` (a JWT with `alg: none`), valid for an hour: what the local stack and the
 * tests send as `X-Firebase-AppCheck`. Only an emulator accepts it: the functions emulator decodes App Check tokens
 * without verifying them (as it does ID tokens), while deployed functions verify the signature against App Check's
 * keys and refuse it. It stands in for the App Check debug-token exchange, which needs Google's App Check server.
 */
export function emulatorAppCheckToken(projectId: string, appId: string, nowMs = Date.now()): string {
  const iat = Math.floor(nowMs / 1000);
  const payload = {
    iss: `https://firebaseappcheck.googleapis.com/${projectId}`,
    sub: appId,
    aud: [`projects/${projectId}`],
    iat,
    exp: iat + 3600,
  };
  return `${jwtSegment({ alg: "none", typ: "JWT" })}.${jwtSegment(payload)}.`;
}

/**
 * An unsigned Firebase ID token for `uid`, as the Auth emulator issues them: firebase-admin accepts it only while
 * FIREBASE_AUTH_EMULATOR_HOST is set. For tests that send callables real HTTP requests.
 */
export function emulatorIdToken(projectId: string, caller: Caller, nowMs = Date.now()): string {
  const iat = Math.floor(nowMs / 1000);
  const payload = {
    iss: `https://securetoken.google.com/${projectId}`,
    aud: projectId,
    auth_time: iat,
    user_id: caller.uid,
    sub: caller.uid,
    iat,
    exp: iat + 3600,
    firebase: { identities: {}, sign_in_provider: "custom" },
    ...(caller.admin === true ? { admin: true } : {}),
    ...(caller.email === undefined
      ? {}
      : { email: caller.email, email_verified: caller.emailVerified ?? true }),
  };
  return `${jwtSegment({ alg: "none", typ: "JWT" })}.${jwtSegment(payload)}.`;
}

/** A v2 `onRequest` function: an Express-style `(req, res)` handler. */
export type RequestHandlerLike = (req: unknown, res: unknown) => Promise<void> | void;

export interface HandlerRequest {
  method?: string;
  /** Header values as sent; a fuzz test may send any value. Names are matched case-insensitively. */
  headers?: Record<string, unknown>;
  /** The body bytes exactly as sent (Cloud Functions' `req.rawBody`). */
  rawBody?: string | Buffer;
}

export interface HandlerReply {
  status: number;
  body: unknown;
}

/**
 * Invokes an `onRequest` handler with what Cloud Functions passes it (method, lower-cased headers, `rawBody`,
 * the JSON-parsed `body`) and a response that records the status and body. Rejects when the handler returns
 * without answering.
 */
export async function invokeRequestHandler(
  handler: RequestHandlerLike,
  request: HandlerRequest,
): Promise<HandlerReply> {
  const reply: HandlerReply = { status: 0, body: undefined };
  let headersSent = false;
  const answer = (body: unknown) => {
    reply.body = body;
    headersSent = true;
    return res;
  };
  const responseHeaders = new Map<string, unknown>();
  const setHeader = (name: string, value: unknown) => {
    responseHeaders.set(name.toLowerCase(), value);
    return res;
  };
  const res = {
    get headersSent(): boolean {
      return headersSent;
    },
    // What the CORS middleware in front of a callable uses.
    getHeader: (name: string): unknown => responseHeaders.get(name.toLowerCase()),
    status(code: number) {
      reply.status = code;
      return res;
    },
    json: answer,
    send: answer,
    end: () => answer(reply.body),
    set: setHeader,
    setHeader,
    on: () => res,
  };
  const headers = Object.fromEntries(
    Object.entries(request.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
  );
  const rawBody =
    typeof request.rawBody === "string" ? Buffer.from(request.rawBody, "utf8") : request.rawBody;
  const header = (name: string): unknown => headers[name.toLowerCase()];
  const req = {
    method: request.method ?? "POST",
    url: "/",
    headers,
    rawBody,
    body: parseJson(rawBody),
    get: header,
    header,
  };
  await handler(req, res);
  if (!res.headersSent) throw new Error("the handler returned without answering");
  if (reply.status === 0) reply.status = 200;
  return reply;
}

function parseJson(buffer: Buffer | undefined): unknown {
  if (buffer === undefined) return undefined;
  try {
    return JSON.parse(buffer.toString("utf8")) as unknown;
  } catch {
    return undefined;
  }
}

export type PaymentStatusOracle = "unpaid" | "partial" | "paid" | "refunded";
export type AccessStatusOracle = "locked" | "active" | "suspended" | "revoked";

/**
 * The README's status policy, written out once more as the tests' oracle, on purpose apart from
 * domain/statusPolicy.ts (the fuzz and chaos models check the backend against it).
 */
export function expectedStatuses(e: {
  price: number;
  amountPaid: number;
  refundCount: number;
  openDisputes: number;
  /** On an installment plan: its amounts in order, and how many deadlines have passed. */
  plan?: { amounts: readonly number[]; deadlinesPassed: number } | undefined;
}): {
  amountDue: number;
  amountOverpaid: number;
  paymentStatus: PaymentStatusOracle;
  accessStatus: AccessStatusOracle;
} {
  let paymentStatus: PaymentStatusOracle = "unpaid";
  if (e.refundCount > 0 && e.amountPaid <= 0) paymentStatus = "refunded";
  else if (e.amountPaid >= e.price) paymentStatus = "paid";
  else if (e.amountPaid > 0) paymentStatus = "partial";
  let accessStatus: AccessStatusOracle = "locked";
  if (e.openDisputes > 0) accessStatus = "suspended";
  else if (paymentStatus === "refunded") accessStatus = "revoked";
  else if (paymentStatus === "paid") accessStatus = "active";
  else if (e.plan !== undefined && e.plan.amounts.length > 0) {
    // Owed by now: the first installment, and every one whose deadline passed.
    const owed = e.plan.amounts
      .slice(0, Math.max(1, e.plan.deadlinesPassed))
      .reduce((sum, amount) => sum + amount, 0);
    if (e.amountPaid >= owed) accessStatus = "active";
    else if (e.amountPaid >= (e.plan.amounts[0] ?? 0)) accessStatus = "suspended";
  }
  return {
    amountDue: Math.max(e.price - e.amountPaid, 0),
    amountOverpaid: Math.max(e.amountPaid - e.price, 0),
    paymentStatus,
    accessStatus,
  };
}
