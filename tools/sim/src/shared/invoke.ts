/**
 * Calling the real handlers in-process, through the test kit (functions/src/testing/kit.ts): callables through
 * their `.run` (the handler firebase-functions wraps, minus the HTTP/auth-token layer), the webhook through its
 * Express-style handler with a fake request that carries the raw body, exactly what Cloud Functions passes it.
 */
import {
  testKit,
  type CallableLike,
  type Caller,
  type HandlerReply,
  type RequestHandlerLike,
} from "./backend";

export type { Caller };
export type HttpReply = HandlerReply;

export type CallResult<T> = { ok: true; value: T } | { ok: false; code: string; message: string };

/** Calls a callable as `caller`; an HttpsError (or anything thrown) becomes `{ ok: false, code }`. */
export async function callCallable<T>(
  fn: CallableLike,
  caller: Caller,
  data: unknown,
): Promise<CallResult<T>> {
  try {
    const value = (await fn.run(testKit().callableRequest(caller, data))) as T;
    return { ok: true, value };
  } catch (error) {
    const e = error as { code?: unknown; message?: unknown } | null;
    return {
      ok: false,
      code: typeof e?.code === "string" ? e.code : "thrown",
      message: typeof e?.message === "string" ? e.message : String(error),
    };
  }
}

/** POSTs a raw body to an onRequest handler (Cloud Functions' req: method, headers, rawBody, parsed body). */
export function postToHandler(
  handler: RequestHandlerLike,
  rawBody: string,
  headers: Record<string, string>,
): Promise<HttpReply> {
  return testKit().invokeRequestHandler(handler, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    rawBody,
  });
}
