import { status } from "@grpc/grpc-js";
import { randomBytes } from "node:crypto";
import type * as http from "node:http";
import { callerFromAuthorization } from "./auth";
import type { Engine } from "./engine";
import { RpcError, invalidArgument } from "./errors";
import { googleError, readBody } from "./http";
import { openStream } from "./listen";
import type { StreamSession } from "./listen";
import type { Logger } from "./log";
import { METHODS } from "./protocol";
import type { StreamMethod } from "./protocol";
import { fromProto3Json, toProto3Json } from "./protoJson";
import { parseHeaderBlock } from "./rest";

/**
 * The WebChannel transport (closure's WebChannel, wire version 8), which the Firebase web SDK
 * uses for the Listen and Write streams: `POST /google.firestore.v1.Firestore/{Listen|Write}/channel`.
 *
 * - Handshake: a POST without SID (`VER=8&RID=n&CVER=22&X-HTTP-Session-Id=gsessionid`) whose form
 *   body may carry `headers=` (the Authorization header etc., `Name:value\r\n` url-encoded, the
 *   SDK's encodeInitMessageHeaders) and the first messages. Answered with array 0,
 *   `["c", SID, hostPrefix, 8, serverVersion, keepaliveMs]`, and the `X-HTTP-Session-Id` header.
 * - Forward channel: POSTs with `SID`, `RID`, `AID` (last array the client has) and a form body
 *   `count=N&ofs=K&req0___data__=<json>&...` (message ids ofs..ofs+N-1; a retried POST repeats
 *   ids, which are applied once). Answered `[backChannelPresent, lastArrayId, outstandingBytes]`.
 * - Back channel: GETs with `RID=rpc&SID&AID&TYPE=xmlhttp`; `CI=0` streams arrays as they come,
 *   `CI=1` (long polling: forced, or a buffering proxy detected) answers as soon as it has
 *   something and ends. Arrays the client has not acknowledged are re-sent on a new back channel.
 * - Every response body is length-prefixed chunks: `<length in UTF-16 units>\n<json>`, the json
 *   being `[[arrayId, [message]], ...]`; noops (`["noop"]`) keep an idle stream alive.
 * - `TYPE=terminate` closes the session; a session with no back channel for a minute expires.
 *
 * Each session is one Listen or Write stream, served by the same stream logic as gRPC, for the
 * caller resolved from the handshake's Authorization header.
 */

const SERVER_VERSION = 14;
/** How long a streaming back channel may stay silent before a noop is sent. */
const KEEPALIVE_MS = 20_000;
/** Longest a long-poll back channel is held open without data. */
const LONG_POLL_MS = 25_000;
/** A session without back channel or forward traffic for this long is closed (default). */
const SESSION_IDLE_MS = 60_000;
/** Unacknowledged arrays kept for re-sending (beyond these, the oldest already written ones go). */
const MAX_UNACKED = 10_000;

interface BackChannel {
  res: http.ServerResponse;
  streaming: boolean;
  timer: NodeJS.Timeout | undefined;
}

class Session {
  private readonly queue: Array<{ id: number; text: string }> = [];
  private nextArrayId = 1;
  /** Highest array id written to a back channel. */
  private written = 0;
  private lastMapId = -1;
  private back: BackChannel | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private stream: StreamSession | undefined;
  closed = false;

  constructor(
    readonly sid: string,
    private readonly method: StreamMethod,
    private readonly idleMs: number,
    private readonly onClosed: (s: Session) => void,
  ) {
    this.touch();
  }

  attach(stream: StreamSession): void {
    this.stream = stream;
  }

  /** Queues one server message (a response, an error, or a control array like ["close"]). */
  push(payload: unknown): void {
    if (this.closed) return;
    const id = this.nextArrayId++;
    this.queue.push({ id, text: `[${id},${JSON.stringify(payload)}]` });
    // A streaming client acknowledges only with its next request: bound what is kept.
    while (this.queue.length > MAX_UNACKED && (this.queue[0]?.id ?? Infinity) <= this.written)
      this.queue.shift();
    this.flush();
  }

  sendMessage(message: unknown): void {
    this.push([toProto3Json(METHODS[this.method].response, message)]);
  }

  /** Drops arrays the client has acknowledged (`AID`). */
  ack(aid: number): void {
    while (this.queue.length > 0 && (this.queue[0]?.id ?? Infinity) <= aid) this.queue.shift();
  }

  /** Applies the forward channel's messages in id order, each once. */
  receive(form: URLSearchParams): void {
    const count = Number(form.get("count") ?? "0");
    const ofs = Number(form.get("ofs") ?? "0");
    for (let i = 0; i < count; i++) {
      const mapId = ofs + i;
      const data = form.get(`req${i}___data__`);
      if (mapId <= this.lastMapId || data === null) continue;
      this.lastMapId = mapId;
      let json: unknown;
      try {
        json = JSON.parse(data);
      } catch {
        throw invalidArgument("Invalid JSON in a WebChannel message.");
      }
      this.stream?.receive(fromProto3Json(METHODS[this.method].request, json));
    }
    this.touch();
  }

  /** The forward channel's answer: back channel present, last array id, bytes not yet acknowledged. */
  postResponse(): string {
    const outstanding = this.queue.reduce((n, e) => n + e.text.length, 0);
    return JSON.stringify([1, this.nextArrayId - 1, outstanding]);
  }

  openBackChannel(res: http.ServerResponse, streaming: boolean, longPollMs: number): void {
    this.endBackChannel();
    const back: BackChannel = { res, streaming, timer: undefined };
    this.back = back;
    res.writeHead(200, chunkedHeaders());
    res.flushHeaders();
    res.on("close", () => {
      if (this.back === back) {
        clearTimeout(back.timer);
        this.back = undefined;
        this.touch();
      }
    });
    if (this.queue.length > 0) {
      // Everything not acknowledged (the queue, after `ack`) is (re)sent on the new back channel.
      this.written = (this.queue[0]?.id ?? this.nextArrayId) - 1;
      this.flush();
    } else if (streaming) {
      // A first byte at once: the SDK's buffering-proxy detection (auto-detect long polling)
      // then knows the stream is not buffered.
      this.push(["noop"]);
    }
    if (this.back === back) this.arm(back, streaming ? KEEPALIVE_MS : longPollMs);
    clearTimeout(this.idleTimer);
  }

  private arm(back: BackChannel, ms: number): void {
    clearTimeout(back.timer);
    back.timer = setTimeout(() => {
      if (this.back !== back) return;
      this.push(["noop"]);
    }, ms);
  }

  /** Writes queued arrays not yet written to the open back channel. */
  private flush(): void {
    const back = this.back;
    if (!back) return;
    const pending = this.queue.filter((e) => e.id > this.written);
    if (pending.length === 0) return;
    const body = `[${pending.map((e) => e.text).join(",")}]`;
    back.res.write(`${body.length}\n${body}`);
    this.written = pending[pending.length - 1]?.id ?? this.written;
    if (back.streaming) {
      this.arm(back, KEEPALIVE_MS);
    } else {
      // Long polling: one answer per request.
      this.endBackChannel();
    }
  }

  private endBackChannel(): void {
    const back = this.back;
    if (!back) return;
    this.back = undefined;
    clearTimeout(back.timer);
    back.res.end();
    this.touch();
  }

  private touch(): void {
    clearTimeout(this.idleTimer);
    if (this.closed || this.back) return;
    this.idleTimer = setTimeout(() => {
      this.close();
    }, this.idleMs);
  }

  /** Ends the session: the stream stops, an open back channel is answered and ended. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idleTimer);
    this.stream?.close();
    this.endBackChannel();
    this.onClosed(this);
  }

  /** Sends the stream's end (an error, or ["close"]) and closes once it is written or times out. */
  finish(payload: unknown): void {
    this.push(payload);
    this.closeSoon();
  }

  private closeSoon(): void {
    setTimeout(() => {
      this.close();
    }, 5_000).unref();
  }
}

function chunkedHeaders(): http.OutgoingHttpHeaders {
  return {
    "content-type": "text/plain; charset=utf-8",
    "cache-control": "no-cache, no-store, max-age=0, must-revalidate",
    "x-content-type-options": "nosniff",
  };
}

const CHANNEL_PATH = /^\/google\.firestore\.v1\.Firestore\/(Listen|Write)\/channel$/;

export class WebChannelServer {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly engine: Engine,
    private readonly log: Logger,
    private readonly sessionIdleMs = SESSION_IDLE_MS,
  ) {}

  static matches(pathname: string): boolean {
    return CHANNEL_PATH.test(pathname);
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  closeAll(): void {
    for (const s of [...this.sessions.values()]) s.close();
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const method = CHANNEL_PATH.exec(url.pathname)?.[1] as StreamMethod | undefined;
    if (!method) throw new RpcError(status.NOT_FOUND, "Not a WebChannel path.");
    const q = url.searchParams;
    const sid = q.get("SID");
    const type = q.get("TYPE");
    this.log.debug(
      `WebChannel ${req.method ?? ""} ${method} SID=${sid ?? "-"} RID=${q.get("RID") ?? "-"} TYPE=${type ?? "-"} CI=${q.get("CI") ?? "-"}`,
    );

    if (!sid) {
      if (req.method !== "POST") throw invalidArgument("A WebChannel session starts with a POST.");
      await this.create(method, req, res, url);
      return;
    }
    const session = this.sessions.get(sid);
    if (!session) {
      // The SDK recognises "Unknown SID" (not at offset 0) and opens a new session.
      res.writeHead(400, { "content-type": "text/plain" });
      res.end(`Error: Unknown SID ${sid}`);
      return;
    }
    const aid = Number(q.get("AID") ?? "-1");
    if (Number.isInteger(aid)) session.ack(aid);
    if (type === "terminate") {
      session.close();
      res.writeHead(200, { "content-type": "text/plain" });
      res.end();
      return;
    }
    if (q.get("RID") === "rpc") {
      const timeout = Number(q.get("TO") ?? "");
      session.openBackChannel(
        res,
        q.get("CI") !== "1",
        timeout > 0 ? Math.min(timeout, LONG_POLL_MS) : LONG_POLL_MS,
      );
      return;
    }
    if (req.method !== "POST") throw invalidArgument("Forward channel requests are POSTs.");
    session.receive(new URLSearchParams(await readBody(req)));
    writeChunk(res, session.postResponse());
  }

  private async create(
    method: StreamMethod,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
  ): Promise<void> {
    const form = new URLSearchParams(await readBody(req));
    const headers = {
      ...parseHeaderBlock(url.searchParams.get("$httpHeaders")),
      ...parseHeaderBlock(form.get("headers")),
    };
    const caller = callerFromAuthorization(headers.authorization ?? req.headers.authorization);
    const sid = randomBytes(12).toString("base64url");
    const session = new Session(sid, method, this.sessionIdleMs, (s) => this.sessions.delete(s.sid));
    this.sessions.set(sid, session);
    session.attach(
      openStream(this.engine, this.log, method, caller, {
        send: (m) => {
          session.sendMessage(m);
        },
        // The SDK takes `{error: {code, message, status}}` in a message as the stream's end.
        fail: (e) => {
          session.finish([googleError(e)]);
        },
        end: () => {
          session.finish(["close"]);
        },
      }),
    );
    const extra: http.OutgoingHttpHeaders = {};
    if (url.searchParams.has("X-HTTP-Session-Id"))
      extra["X-HTTP-Session-Id"] = randomBytes(8).toString("hex");
    res.writeHead(200, { ...chunkedHeaders(), ...extra });
    const handshake = JSON.stringify([[0, ["c", sid, "", 8, SERVER_VERSION, KEEPALIVE_MS]]]);
    res.end(`${handshake.length}\n${handshake}`);
    session.receive(form);
  }
}

function writeChunk(res: http.ServerResponse, text: string): void {
  res.writeHead(200, chunkedHeaders());
  res.end(`${text.length}\n${text}`);
}
