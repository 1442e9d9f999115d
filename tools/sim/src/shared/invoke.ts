/**
 * Calling the real handlers in-process: callables through their `.run` (the handler firebase-functions wraps,
 * minus the HTTP/auth-token layer), the webhook through its Express-style handler with a fake request that
 * carries the raw body, exactly what Cloud Functions passes it.
 */
import type { CallableLike, RequestHandlerLike } from "./backend";

export interface Caller {
  uid: string;
  admin?: boolean;
}

export type CallResult<T> = { ok: true; value: T } | { ok: false; code: string; message: string };

/** Calls a callable as `caller`; an HttpsError (or anything thrown) becomes `{ ok: false, code }`. */
export async function callCallable<T>(
  fn: CallableLike,
  caller: Caller,
  data: unknown,
): Promise<CallResult<T>> {
  try {
    const value = (await fn.run({
      data,
      auth: {
        uid: caller.uid,
        token: { uid: caller.uid, ...(caller.admin === true ? { admin: true } : {}) },
      },
      rawRequest: { method: "POST", headers: {}, body: { data } },
      acceptsStreaming: false,
    })) as T;
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

export interface HttpReply {
  status: number;
  body: unknown;
}

/** POSTs a raw body to an onRequest handler (Cloud Functions' req: method, headers, rawBody, parsed body). */
export async function postToHandler(
  handler: RequestHandlerLike,
  rawBody: string,
  headers: Record<string, string>,
): Promise<HttpReply> {
  const reply: HttpReply = { status: 0, body: undefined };
  let headersSent = false;
  const lowerHeaders = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const res = {
    get headersSent(): boolean {
      return headersSent;
    },
    status(code: number) {
      reply.status = code;
      return res;
    },
    json(body: unknown) {
      reply.body = body;
      headersSent = true;
      return res;
    },
    send(body: unknown) {
      reply.body = body;
      headersSent = true;
      return res;
    },
    end() {
      headersSent = true;
      return res;
    },
    set() {
      return res;
    },
    setHeader() {
      return res;
    },
    on() {
      return res;
    },
  };
  const buffer = Buffer.from(rawBody, "utf8");
  let parsed: unknown;
  try {
    parsed = JSON.parse(rawBody) as unknown;
  } catch {
    parsed = undefined;
  }
  const req = {
    method: "POST",
    url: "/",
    headers: { "content-type": "application/json", ...lowerHeaders },
    rawBody: buffer,
    body: parsed,
    get: (name: string) => lowerHeaders[name.toLowerCase()],
    header: (name: string) => lowerHeaders[name.toLowerCase()],
  };
  await handler(req, res);
  if (reply.status === 0 && res.headersSent) reply.status = 200;
  return reply;
}
