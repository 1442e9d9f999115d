import { status } from "@grpc/grpc-js";
import type { Caller } from "./auth";
import { RpcError, invalidArgument, notFound } from "./errors";
import type { Engine, ReadConsistency } from "./engine";
import type { Logger } from "./log";
import { splitDocumentName } from "./paths";
import { checkPrecondition } from "./writes";
import type {
  BatchGetDocumentsRequest,
  BatchWriteRequest,
  BeginTransactionRequest,
  CallMethod,
  CommitRequest,
  ConsistencyFields,
  CreateDocumentRequest,
  DeleteDocumentRequest,
  GetDocumentRequest,
  ListCollectionIdsRequest,
  ListDocumentsRequest,
  Precondition,
  RollbackRequest,
  RunAggregationQueryRequest,
  RunQueryRequest,
  UpdateDocumentRequest,
} from "./protocol";

/**
 * The operations behind the unary and server-streaming methods, one table for every transport:
 * each takes the decoded request and the resolved caller and emits its response messages
 * (one for a unary method). `call()` is the single place where a call is counted, where
 * faults are admitted, and where unexpected errors become INTERNAL.
 */

type Emit = (message: unknown) => void;

interface Operation<Req> {
  /** Documents the request touches (for `pathContains` fault rules). */
  names(req: Req, engine: Engine): string[];
  run(engine: Engine, req: Req, caller: Caller, emit: Emit): Promise<void>;
}

function consistencyOf(req: ConsistencyFields): ReadConsistency {
  if (req.transaction && req.transaction.length > 0) return { kind: "transaction", id: req.transaction };
  if (req.newTransaction) return { kind: "new", options: req.newTransaction };
  if (req.readTime) return { kind: "readTime", readTime: req.readTime };
  return { kind: "latest" };
}

const none = (): string[] => [];
const parentOf = (r: { parent?: string }): string[] => (r.parent ? [r.parent] : []);

const OPERATIONS: { [K in CallMethod]: Operation<never> } = {
  GetDocument: {
    names: (r: GetDocumentRequest) => (r.name ? [r.name] : []),
    run: async (engine, req: GetDocumentRequest, caller, emit) => {
      if (!req.name) throw invalidArgument("GetDocument needs a document name.");
      const { docs } = await engine.batchGet([req.name], consistencyOf(req), req.mask?.fieldPaths, caller);
      const doc = docs[0]?.doc;
      if (!doc) throw notFound(`Document "${req.name}" not found.`);
      emit(doc);
    },
  },
  BatchGetDocuments: {
    names: (r: BatchGetDocumentsRequest) => r.documents ?? [],
    run: async (engine, req: BatchGetDocumentsRequest, caller, emit) => {
      const { docs, readTime, transaction } = await engine.batchGet(
        req.documents ?? [],
        consistencyOf(req),
        req.mask?.fieldPaths,
        caller,
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
  },
  BeginTransaction: {
    names: none,
    run: async (engine, req: BeginTransactionRequest, _caller, emit) => {
      emit({ transaction: engine.beginTransaction(req.database ?? "", req.options) });
      return Promise.resolve();
    },
  },
  Commit: {
    names: (r: CommitRequest, engine) => engine.writeTargets(r.writes ?? []),
    run: async (engine, req: CommitRequest, caller, emit) => {
      // The web SDK sends `verify` writes in transactions for documents it read but does not
      // write: a precondition only, checked under the transaction's locks, no rules, no change.
      const writes = req.writes ?? [];
      const verified = new Set<number>();
      writes.forEach((w, i) => {
        const v = w as { verify?: string; currentDocument?: Precondition };
        if (v.verify === undefined) return;
        splitDocumentName(v.verify);
        checkPrecondition(v.currentDocument, engine.store.get(v.verify), v.verify);
        verified.add(i);
      });
      const applied = writes.filter((_w, i) => !verified.has(i));
      const result = await engine.commit(req.database ?? "", applied, req.transaction, caller);
      const results = [...result.writeResults];
      emit({ ...result, writeResults: writes.map((_w, i) => (verified.has(i) ? {} : results.shift())) });
    },
  },
  Rollback: {
    names: none,
    run: async (engine, req: RollbackRequest, _caller, emit) => {
      engine.rollback(req.transaction);
      emit({});
      return Promise.resolve();
    },
  },
  RunQuery: {
    names: parentOf,
    run: async (engine, req: RunQueryRequest, caller, emit) => {
      const { docs, readTime, transaction } = await engine.runQuery(
        req.parent ?? "",
        req.structuredQuery,
        consistencyOf(req),
        caller,
      );
      let first = true;
      for (const doc of docs) {
        emit({ document: doc, readTime, ...(first && transaction ? { transaction } : {}) });
        first = false;
      }
      emit({ readTime, done: true, ...(first && transaction ? { transaction } : {}) });
    },
  },
  RunAggregationQuery: {
    names: parentOf,
    run: async (engine, req: RunAggregationQueryRequest, caller, emit) => {
      const { result, readTime, transaction } = await engine.runAggregation(
        req.parent ?? "",
        req.structuredAggregationQuery,
        consistencyOf(req),
        caller,
      );
      emit({ result: { aggregateFields: result }, readTime, ...(transaction ? { transaction } : {}) });
    },
  },
  ListDocuments: {
    names: parentOf,
    run: async (engine, req: ListDocumentsRequest, caller, emit) => {
      emit(await engine.listDocuments(req, consistencyOf(req), caller));
    },
  },
  ListCollectionIds: {
    names: parentOf,
    run: async (engine, req: ListCollectionIdsRequest, _caller, emit) => {
      emit(engine.listCollectionIds(req, consistencyOf(req)));
      return Promise.resolve();
    },
  },
  BatchWrite: {
    names: (r: BatchWriteRequest, engine) => engine.writeTargets(r.writes ?? []),
    run: async (engine, req: BatchWriteRequest, caller, emit) => {
      emit(await engine.batchWrite(req.database ?? "", req.writes ?? [], caller));
    },
  },
  CreateDocument: {
    names: none,
    run: async (engine, req: CreateDocumentRequest, caller, emit) => {
      emit(await engine.createDocument(req, caller));
    },
  },
  UpdateDocument: {
    names: (r: UpdateDocumentRequest) => (r.document?.name ? [r.document.name] : []),
    run: async (engine, req: UpdateDocumentRequest, caller, emit) => {
      emit(await engine.updateDocument(req, caller));
    },
  },
  DeleteDocument: {
    names: (r: DeleteDocumentRequest) => (r.name ? [r.name] : []),
    run: async (engine, req: DeleteDocumentRequest, caller, emit) => {
      emit(await engine.deleteDocument(req, caller));
    },
  },
  PartitionQuery: {
    names: none,
    run: async (_engine, _req: unknown, _caller, emit) => {
      emit({ partitions: [] });
      return Promise.resolve();
    },
  },
};

/** Any thrown error as an RpcError; unknown errors become INTERNAL and are logged. */
export function toRpcError(err: unknown, log: Logger, method: string): RpcError {
  if (err instanceof RpcError) return err;
  log.info(`internal error in ${method}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return new RpcError(
    status.INTERNAL,
    `Internal error in ${method}: ${err instanceof Error ? err.message : String(err)}`,
  );
}

/**
 * Runs a unary or server-streaming method for a caller: counts it, applies injected faults
 * (latency, failure before, reply lost after), and returns its response messages. Throws an
 * RpcError (never anything else).
 */
export async function call(
  engine: Engine,
  log: Logger,
  method: CallMethod,
  req: unknown,
  caller: Caller,
): Promise<unknown[]> {
  const started = Date.now();
  const op = OPERATIONS[method] as Operation<unknown>;
  try {
    let names: string[];
    try {
      names = op.names(req, engine);
    } catch {
      names = [];
    }
    const fault = await engine.before(method, names);
    const out: unknown[] = [];
    await op.run(engine, req, caller, (m) => out.push(m));
    if (fault) throw fault;
    log.debug(`${method} ok ${out.length} messages ${Date.now() - started}ms`);
    return out;
  } catch (err) {
    const e = toRpcError(err, log, method);
    log.debug(`${method} ${String(e.code)} ${Date.now() - started}ms ${e.message}`);
    throw e;
  }
}
