import * as grpc from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { RpcError, invalidArgument, notFound } from "./errors";
import type { Engine, ReadConsistency } from "./engine";
import type { ExplainOptions } from "./explain";
import { serveListen, serveWrite } from "./listen";
import type { Logger } from "./log";
import type { Timestamp, Value } from "./types";

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

interface ConsistencyFields {
  transaction?: Uint8Array;
  newTransaction?: { readOnly?: { readTime?: Timestamp }; readWrite?: { retryTransaction?: Uint8Array } };
  readTime?: Timestamp;
}

function consistencyOf(req: ConsistencyFields): ReadConsistency {
  if (req.transaction && req.transaction.length > 0) return { kind: "transaction", id: req.transaction };
  if (req.newTransaction) return { kind: "new", options: req.newTransaction };
  if (req.readTime) return { kind: "readTime", readTime: req.readTime };
  return { kind: "latest" };
}

type Handler = grpc.UntypedHandleCall;

/** Maps any thrown error to a gRPC status; unknown errors become INTERNAL and are logged. */
function toServiceError(err: unknown, log: Logger, method: string): Partial<grpc.StatusObject> {
  if (err instanceof RpcError) return { code: err.code, details: err.message };
  log.info(`internal error in ${method}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return {
    code: status.INTERNAL,
    details: `Internal error in ${method}: ${err instanceof Error ? err.message : String(err)}`,
  };
}

/** Builds the gRPC handlers. Every handler answers; none can throw out and crash the server. */
export function buildHandlers(engine: Engine, log: Logger): Record<string, Handler> {
  const unary =
    (
      method: string,
      fn: (req: never, md: grpc.Metadata) => Promise<unknown>,
      names: (req: never) => string[],
    ) =>
    (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>): void => {
      const started = Date.now();
      const req = call.request as never;
      void (async () => {
        try {
          const fault = await engine.before(method, safeNames(names, req));
          const reply = await fn(req, call.metadata);
          if (fault) throw fault;
          log.debug(`${method} ok ${Date.now() - started}ms`);
          callback(null, reply);
        } catch (err) {
          const e = toServiceError(err, log, method);
          log.debug(`${method} ${String(e.code)} ${Date.now() - started}ms ${e.details ?? ""}`);
          callback(e);
        }
      })();
    };

  const serverStream =
    (
      method: string,
      fn: (req: never, emit: (msg: unknown) => void, md: grpc.Metadata) => Promise<void>,
      names: (req: never) => string[],
    ) =>
    (call: grpc.ServerWritableStream<unknown, unknown>): void => {
      const started = Date.now();
      const req = call.request as never;
      // Send the response headers at once, as a server does before it streams results. Without
      // them an error is a "trailers-only" response, which the Node client (google-gax with
      // retry-request) treats as "no response received" and silently re-sends the request twice,
      // 2-6 s later: every failed query or read surfaced seconds late, and a failed read that
      // began a transaction (newTransaction) was executed up to three times.
      call.sendMetadata(new grpc.Metadata());
      void (async () => {
        try {
          const fault = await engine.before(method, safeNames(names, req));
          const out: unknown[] = [];
          await fn(req, (m) => out.push(m), call.metadata);
          if (fault) throw fault;
          for (const m of out) call.write(m);
          log.debug(`${method} ok ${out.length} messages ${Date.now() - started}ms`);
          call.end();
        } catch (err) {
          const e = toServiceError(err, log, method);
          log.debug(`${method} ${String(e.code)} ${Date.now() - started}ms ${e.details ?? ""}`);
          call.emit("error", e);
        }
      })();
    };

  const none = (): string[] => [];

  return {
    GetDocument: unary(
      "GetDocument",
      async (req: { name?: string; mask?: { fieldPaths?: string[] } } & ConsistencyFields, md) => {
        if (!req.name) throw invalidArgument("GetDocument needs a document name.");
        const { docs } = await engine.batchGet([req.name], consistencyOf(req), req.mask?.fieldPaths, md);
        const doc = docs[0]?.doc;
        if (!doc) throw notFound(`Document "${req.name}" not found.`);
        return doc;
      },
      (r: { name?: string }) => (r.name ? [r.name] : []),
    ),
    BatchGetDocuments: serverStream(
      "BatchGetDocuments",
      async (
        req: {
          database?: string;
          documents?: string[];
          mask?: { fieldPaths?: string[] };
        } & ConsistencyFields,
        emit,
        md,
      ) => {
        const { docs, readTime, transaction } = await engine.batchGet(
          req.documents ?? [],
          consistencyOf(req),
          req.mask?.fieldPaths,
          md,
        );
        let first = true;
        for (const { name, doc } of docs) {
          emit({
            ...(doc ? { found: doc } : { missing: name }),
            readTime,
            ...(first && transaction ? { transaction } : {}),
          });
          first = false;
        }
        if (first && transaction) emit({ transaction, readTime });
      },
      (r: { documents?: string[] }) => r.documents ?? [],
    ),
    BeginTransaction: unary(
      "BeginTransaction",
      async (req: { database?: string; options?: ConsistencyFields["newTransaction"] }) =>
        Promise.resolve({ transaction: engine.beginTransaction(req.database ?? "", req.options) }),
      none,
    ),
    Commit: unary(
      "Commit",
      async (req: { database?: string; writes?: unknown[]; transaction?: Uint8Array }, md) =>
        engine.commit(req.database ?? "", req.writes ?? [], req.transaction, md),
      (r: { writes?: unknown[] }) => engine.writeTargets(r.writes ?? []),
    ),
    Rollback: unary(
      "Rollback",
      async (req: { database?: string; transaction?: Uint8Array }) => {
        engine.rollback(req.transaction);
        return Promise.resolve({});
      },
      none,
    ),
    RunQuery: serverStream(
      "RunQuery",
      async (
        req: {
          parent?: string;
          structuredQuery?: unknown;
          explainOptions?: ExplainOptions;
        } & ConsistencyFields,
        emit,
        md,
      ) => {
        const { docs, readTime, transaction, explainMetrics } = await engine.runQuery(
          req.parent ?? "",
          req.structuredQuery,
          consistencyOf(req),
          md,
          req.explainOptions,
        );
        let first = true;
        for (const doc of docs) {
          emit({ document: doc, readTime, ...(first && transaction ? { transaction } : {}) });
          first = false;
        }
        emit({
          ...(readTime ? { readTime } : {}),
          done: true,
          ...(first && transaction ? { transaction } : {}),
          ...(explainMetrics ? { explainMetrics } : {}),
        });
      },
      (r: { parent?: string }) => (r.parent ? [r.parent] : []),
    ),
    RunAggregationQuery: serverStream(
      "RunAggregationQuery",
      async (
        req: {
          parent?: string;
          structuredAggregationQuery?: unknown;
          explainOptions?: ExplainOptions;
        } & ConsistencyFields,
        emit,
        md,
      ) => {
        const { result, readTime, transaction, explainMetrics } = await engine.runAggregation(
          req.parent ?? "",
          req.structuredAggregationQuery,
          consistencyOf(req),
          md,
          req.explainOptions,
        );
        emit({
          ...(result ? { result: { aggregateFields: result } } : {}),
          ...(readTime ? { readTime } : {}),
          ...(transaction ? { transaction } : {}),
          ...(explainMetrics ? { explainMetrics } : {}),
        });
      },
      (r: { parent?: string }) => (r.parent ? [r.parent] : []),
    ),
    ListDocuments: unary(
      "ListDocuments",
      async (
        req: {
          parent?: string;
          collectionId?: string;
          pageSize?: number;
          pageToken?: string;
          mask?: { fieldPaths?: string[] };
          showMissing?: boolean;
        } & ConsistencyFields,
        md,
      ) => engine.listDocuments(req, consistencyOf(req), md),
      (r: { parent?: string }) => (r.parent ? [r.parent] : []),
    ),
    ListCollectionIds: unary(
      "ListCollectionIds",
      async (req: { parent?: string; pageSize?: number; pageToken?: string } & ConsistencyFields) =>
        Promise.resolve(engine.listCollectionIds(req, consistencyOf(req))),
      (r: { parent?: string }) => (r.parent ? [r.parent] : []),
    ),
    BatchWrite: unary(
      "BatchWrite",
      async (req: { database?: string; writes?: unknown[] }, md) =>
        engine.batchWrite(req.database ?? "", req.writes ?? [], md),
      (r: { writes?: unknown[] }) => engine.writeTargets(r.writes ?? []),
    ),
    CreateDocument: unary(
      "CreateDocument",
      async (
        req: {
          parent?: string;
          collectionId?: string;
          documentId?: string;
          document?: { fields?: Record<string, Value> };
        },
        md,
      ) => engine.createDocument(req, md),
      none,
    ),
    UpdateDocument: unary(
      "UpdateDocument",
      async (
        req: {
          document?: { name?: string; fields?: Record<string, Value> };
          updateMask?: { fieldPaths?: string[] };
          currentDocument?: { exists?: boolean; updateTime?: Timestamp };
        },
        md,
      ) => engine.updateDocument(req, md),
      (r: { document?: { name?: string } }) => (r.document?.name ? [r.document.name] : []),
    ),
    DeleteDocument: unary(
      "DeleteDocument",
      async (req: { name?: string; currentDocument?: { exists?: boolean; updateTime?: Timestamp } }, md) =>
        engine.deleteDocument(req, md),
      (r: { name?: string }) => (r.name ? [r.name] : []),
    ),
    PartitionQuery: unary("PartitionQuery", async () => Promise.resolve({ partitions: [] }), none),
    Write: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
      serveWrite(engine, call, log);
    },
    Listen: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
      serveListen(engine, call, log);
    },
  };
}

function safeNames(fn: (req: never) => string[], req: never): string[] {
  try {
    return fn(req);
  } catch {
    return [];
  }
}
