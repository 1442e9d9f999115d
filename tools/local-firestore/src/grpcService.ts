import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { callerFromAuthorization } from "./auth";
import type { Caller } from "./auth";
import type { RpcError } from "./errors";
import type { Engine } from "./engine";
import { openStream } from "./listen";
import type { Logger } from "./log";
import { call } from "./operations";
import { METHODS } from "./protocol";
import type { CallMethod, MethodName, StreamMethod } from "./protocol";

/** The gRPC transport: a thin adapter from grpc-js calls to the operations and streams. */

export const PROTO_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: false,
};

let cachedService: grpc.ServiceDefinition | undefined;

/** The google.firestore.v1.Firestore service definition from the official protos. */
export function firestoreServiceDefinition(): grpc.ServiceDefinition {
  if (cachedService) return cachedService;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const json = require("@google-cloud/firestore/build/protos/v1.json") as Parameters<
    typeof protoLoader.fromJSON
  >[0];
  const def = protoLoader.fromJSON(json, PROTO_OPTIONS);
  const service = def["google.firestore.v1.Firestore"];
  if (!service || !("GetDocument" in service)) throw new Error("Firestore service not found in protos");
  cachedService = service;
  return cachedService;
}

function callerOf(md: grpc.Metadata): Caller {
  const header = md.get("authorization")[0];
  return callerFromAuthorization(typeof header === "string" ? header : header?.toString("utf8"));
}

const statusOf = (e: RpcError): Partial<grpc.StatusObject> => ({ code: e.code, details: e.message });

/** Builds the gRPC handlers. Every handler answers; none can throw out and crash the server. */
export function buildHandlers(engine: Engine, log: Logger): Record<string, grpc.UntypedHandleCall> {
  const unary =
    (method: CallMethod) =>
    (c: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>): void => {
      call(engine, log, method, c.request, callerOf(c.metadata)).then(
        (out) => {
          callback(null, out[0] ?? {});
        },
        (err: unknown) => {
          callback(statusOf(err as RpcError));
        },
      );
    };

  const serverStream =
    (method: CallMethod) =>
    (c: grpc.ServerWritableStream<unknown, unknown>): void => {
      // Send the response headers at once, as a server does before it streams results. Without
      // them an error is a "trailers-only" response, which the Node client (google-gax with
      // retry-request) treats as "no response received" and silently re-sends the request twice,
      // 2-6 s later: every failed query or read surfaced seconds late, and a failed read that
      // began a transaction (newTransaction) was executed up to three times.
      c.sendMetadata(new grpc.Metadata());
      call(engine, log, method, c.request, callerOf(c.metadata)).then(
        (out) => {
          for (const m of out) c.write(m);
          c.end();
        },
        (err: unknown) => {
          c.emit("error", statusOf(err as RpcError));
        },
      );
    };

  const bidi =
    (method: StreamMethod) =>
    (c: grpc.ServerDuplexStream<unknown, unknown>): void => {
      let done = false;
      const session = openStream(engine, log, method, callerOf(c.metadata), {
        send: (m) => c.write(m),
        fail: (e) => {
          done = true;
          c.emit("error", statusOf(e));
        },
        end: () => {
          done = true;
          c.end();
        },
      });
      c.on("data", (m: unknown) => {
        session.receive(m);
      });
      const close = (): void => {
        session.close();
        if (!done) {
          done = true;
          c.end();
        }
      };
      c.on("end", close);
      c.on("cancelled", close);
      c.on("error", close);
    };

  const handlers: Record<string, grpc.UntypedHandleCall> = {};
  for (const [name, spec] of Object.entries(METHODS) as Array<[MethodName, (typeof METHODS)[MethodName]]>) {
    if (spec.kind === "unary") handlers[name] = unary(name as CallMethod);
    else if (spec.kind === "server-stream") handlers[name] = serverStream(name as CallMethod);
    else handlers[name] = bidi(name as StreamMethod);
  }
  return handlers;
}
