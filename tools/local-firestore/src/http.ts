import { status } from "@grpc/grpc-js";
import type * as http from "node:http";
import { RpcError } from "./errors";
import type { Logger } from "./log";

/**
 * HTTP/1.1 plumbing shared by the REST and WebChannel transports and the control endpoints:
 * CORS (every response, and preflights), bodies, and Google's JSON error shape.
 */

/** Request headers a browser may send cross-origin to any endpoint (answered to preflights). */
const EXPOSED_HEADERS = "X-HTTP-Session-Id, X-HTTP-Initial-Response, X-Client-Wire-Protocol, Content-Type";

/**
 * CORS as the official emulator does it: any origin may call (a page on any localhost port),
 * with credentials (the web SDK's WebChannel XHRs set `withCredentials`, which rules out `*`).
 */
export function applyCors(req: http.IncomingMessage, res: http.ServerResponse): void {
  const origin = req.headers.origin;
  res.setHeader("Access-Control-Allow-Origin", origin ?? "*");
  if (origin) {
    res.setHeader("Access-Control-Allow-Credentials", "true");
    res.setHeader("Vary", "Origin");
  }
  res.setHeader("Access-Control-Expose-Headers", EXPOSED_HEADERS);
}

/** Answers a CORS preflight: every method, whatever headers were asked for, cached for an hour. */
export function answerPreflight(req: http.IncomingMessage, res: http.ServerResponse): void {
  res.setHeader("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS");
  const asked = req.headers["access-control-request-headers"];
  res.setHeader("Access-Control-Allow-Headers", asked ?? "*");
  if (req.headers["access-control-request-private-network"] === "true")
    res.setHeader("Access-Control-Allow-Private-Network", "true");
  res.setHeader("Access-Control-Max-Age", "3600");
  res.writeHead(204);
  res.end();
}

export async function readBody(req: http.IncomingMessage, limit = 16 * 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) throw new RpcError(status.INVALID_ARGUMENT, "Request payload too large.");
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export function sendJson(res: http.ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { "content-type": "application/json; charset=utf-8" });
  res.end(JSON.stringify(body));
}

const HTTP_STATUS: Record<number, number> = {
  [status.OK]: 200,
  [status.CANCELLED]: 499,
  [status.UNKNOWN]: 500,
  [status.INVALID_ARGUMENT]: 400,
  [status.DEADLINE_EXCEEDED]: 504,
  [status.NOT_FOUND]: 404,
  [status.ALREADY_EXISTS]: 409,
  [status.PERMISSION_DENIED]: 403,
  [status.RESOURCE_EXHAUSTED]: 429,
  [status.FAILED_PRECONDITION]: 400,
  [status.ABORTED]: 409,
  [status.OUT_OF_RANGE]: 400,
  [status.UNIMPLEMENTED]: 501,
  [status.INTERNAL]: 500,
  [status.UNAVAILABLE]: 503,
  [status.DATA_LOSS]: 500,
  [status.UNAUTHENTICATED]: 401,
};

/** Google's JSON error body: `{error: {code: <HTTP status>, message, status: "NOT_FOUND"}}`. */
export function googleError(err: RpcError): { error: { code: number; message: string; status: string } } {
  return {
    error: { code: HTTP_STATUS[err.code] ?? 500, message: err.message, status: status[err.code] },
  };
}

export function sendError(res: http.ServerResponse, err: RpcError): void {
  const body = googleError(err);
  if (res.headersSent) {
    res.end();
    return;
  }
  sendJson(res, body.error.code, body);
}

/** Runs an HTTP handler so that nothing it throws escapes: RpcErrors get their status, the rest 500. */
export function guard(
  log: Logger,
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>,
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    handler(req, res).catch((err: unknown) => {
      if (!(err instanceof RpcError)) log.info(`http handler failed: ${String(err)}`);
      const e = err instanceof RpcError ? err : new RpcError(status.INTERNAL, "internal error");
      sendError(res, e);
    });
  };
}
