import { status } from "@grpc/grpc-js";
import type { Caller } from "./auth";
import { RpcError } from "./errors";
import type { Engine } from "./engine";
import { toProtoDocument } from "./engine";
import type { Logger } from "./log";
import { toRpcError } from "./operations";
import type { ListenRequest, StreamMethod, WriteRequest } from "./protocol";
import { splitDocumentName, validateParent } from "./paths";
import { queryCollectionId, runQuery } from "./query";
import type { StoredDocument, Ts } from "./types";
import { tsToMicros, tsToProto } from "./types";

/** Where a stream's responses go: the transport adapter (gRPC call, WebChannel session). */
export interface StreamSink {
  send(message: unknown): void;
  /** Ends the stream with an error status. */
  fail(err: RpcError): void;
  /** Ends the stream normally. */
  end(): void;
}

/** An open Listen or Write stream: the adapter feeds it the client's messages. */
export interface StreamSession {
  receive(message: unknown): void;
  /** The client went away or half-closed: stop and release everything. */
  close(): void;
}

/**
 * Opens a Listen or Write stream for a caller, whichever transport carries it. Every client
 * message is admitted like a unary call (counted, faults applied: a failure ends the stream
 * with its status, as a reset stream does) and handled in order.
 */
export function openStream(
  engine: Engine,
  log: Logger,
  method: StreamMethod,
  caller: Caller,
  sink: StreamSink,
): StreamSession {
  let ended = false;
  const guarded: StreamSink = {
    send: (m) => {
      if (!ended) sink.send(m);
    },
    fail: (e) => {
      if (ended) return;
      ended = true;
      log.debug(`${method} stream failed: ${e.message}`);
      handler.close();
      sink.fail(e);
    },
    end: () => {
      if (ended) return;
      ended = true;
      handler.close();
      sink.end();
    },
  };
  const handler =
    method === "Listen" ? listenStream(engine, caller, guarded) : writeStream(engine, caller, guarded);
  let chain: Promise<void> = Promise.resolve();
  return {
    receive: (message) => {
      chain = chain.then(async () => {
        if (ended) return;
        try {
          const fault = await engine.before(method, []);
          await handler.receive(message);
          if (fault) throw fault;
        } catch (err) {
          guarded.fail(toRpcError(err, log, method));
        }
      });
    },
    close: () => {
      ended = true;
      handler.close();
    },
  };
}

interface StreamHandler {
  receive(message: unknown): Promise<void>;
  close(): void;
}

interface ActiveTarget {
  id: number;
  /** Current result set: name → updateTime in micros. */
  results: Map<string, number>;
  evaluate(): StoredDocument[];
  /** Re-judges the target against the security rules (throws PERMISSION_DENIED). */
  authorize(docs: StoredDocument[]): void;
}

function resumeToken(time: Ts): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(tsToMicros(time)));
  return b;
}

/**
 * The Listen stream (snapshot listeners): document and query targets. Each commit re-evaluates
 * the open targets and sends the differences, then a global NO_CHANGE with the commit's read
 * time, which is what the SDKs take as a consistent snapshot.
 */
function listenStream(engine: Engine, caller: Caller, sink: StreamSink): StreamHandler {
  const targets = new Map<number, ActiveTarget>();
  const send = (msg: unknown): void => {
    sink.send(msg);
  };

  const pushDiff = (target: ActiveTarget, time: Ts): boolean => {
    const now = target.evaluate();
    const seen = new Set<string>();
    let changed = false;
    for (const doc of now) {
      seen.add(doc.name);
      const micros = tsToMicros(doc.updateTime);
      if (target.results.get(doc.name) !== micros) {
        target.results.set(doc.name, micros);
        send({ documentChange: { document: toProtoDocument(doc), targetIds: [target.id] } });
        changed = true;
      }
    }
    for (const name of [...target.results.keys()]) {
      if (seen.has(name)) continue;
      target.results.delete(name);
      if (engine.store.get(name)) {
        send({
          documentRemove: { document: name, removedTargetIds: [target.id], readTime: tsToProto(time) },
        });
      } else {
        send({
          documentDelete: { document: name, removedTargetIds: [target.id], readTime: tsToProto(time) },
        });
      }
      changed = true;
    }
    return changed;
  };

  const globalSnapshot = (time: Ts): void => {
    send({
      targetChange: {
        targetChangeType: "NO_CHANGE",
        targetIds: [],
        readTime: tsToProto(time),
        resumeToken: resumeToken(time),
      },
    });
  };

  const removeWithCause = (id: number, err: RpcError): void => {
    targets.delete(id);
    send({
      targetChange: {
        targetChangeType: "REMOVE",
        targetIds: [id],
        cause: { code: err.code, message: err.message },
      },
    });
  };

  const unsubscribe = engine.onChanges((_changes, time) => {
    if (targets.size === 0) return;
    try {
      let any = false;
      for (const t of [...targets.values()]) {
        // Rules are judged again on every change, as production does: a listener whose data
        // stops being readable (a course unpublished) ends with PERMISSION_DENIED.
        try {
          t.authorize(t.evaluate());
        } catch (err) {
          if (!(err instanceof RpcError)) throw err;
          removeWithCause(t.id, err);
          continue;
        }
        any = pushDiff(t, time) || any;
      }
      if (any) globalSnapshot(time);
    } catch (err) {
      sink.fail(err instanceof RpcError ? err : new RpcError(status.INTERNAL, String(err)));
    }
  });

  const addTarget = (req: NonNullable<ListenRequest["addTarget"]>): void => {
    const id = req.targetId ?? 0;
    if (targets.has(id)) throw new RpcError(status.INVALID_ARGUMENT, `Target id ${id} is already in use.`);
    let evaluate: () => StoredDocument[];
    let authorize: (docs: StoredDocument[]) => void;
    if (req.documents) {
      const names = req.documents.documents ?? [];
      for (const n of names) splitDocumentName(n);
      evaluate = () =>
        names.map((n) => engine.store.get(n)).filter((d): d is StoredDocument => d !== undefined);
      authorize = () => {
        engine.authorizeRead(caller, names);
      };
    } else if (req.query?.structuredQuery) {
      const parent = req.query.parent ?? "";
      validateParent(parent);
      const q = req.query.structuredQuery;
      const collectionId = queryCollectionId(q);
      evaluate = () => runQuery(q, parent, engine.store.inCollection(collectionId));
      authorize = (docs) => {
        engine.authorizeQuery(caller, parent, q, docs);
      };
    } else {
      throw new RpcError(status.INVALID_ARGUMENT, "A listen target needs documents or a query.");
    }
    authorize(evaluate());
    const target: ActiveTarget = { id, results: new Map(), evaluate, authorize };
    targets.set(id, target);
    const time = engine.store.currentTime();
    send({ targetChange: { targetChangeType: "ADD", targetIds: [id] } });
    pushDiff(target, time);
    engine.counts.reads += Math.max(1, target.results.size);
    send({
      targetChange: {
        targetChangeType: "CURRENT",
        targetIds: [id],
        resumeToken: resumeToken(time),
        readTime: tsToProto(time),
      },
    });
    globalSnapshot(time);
  };

  return {
    receive: (message) => {
      const raw = message as ListenRequest;
      if (raw.addTarget) {
        try {
          addTarget(raw.addTarget);
        } catch (err) {
          // A target that cannot be served (denied by rules, invalid) is removed with a cause;
          // the stream itself stays open for the other targets, as Firestore does.
          if (!(err instanceof RpcError)) throw err;
          removeWithCause(raw.addTarget.targetId ?? 0, err);
        }
      } else if (raw.removeTarget !== undefined) {
        targets.delete(raw.removeTarget);
        send({ targetChange: { targetChangeType: "REMOVE", targetIds: [raw.removeTarget] } });
      }
      return Promise.resolve();
    },
    close: () => {
      unsubscribe();
      targets.clear();
    },
  };
}

/** The Write stream the client SDKs use for mutations: a handshake, then one atomic commit per request. */
function writeStream(engine: Engine, caller: Caller, sink: StreamSink): StreamHandler {
  let handshaken = false;
  let counter = 0;
  let database = "";
  const token = (): Buffer => Buffer.from(String(++counter));
  return {
    receive: async (message) => {
      const req = message as WriteRequest;
      if (!handshaken) {
        handshaken = true;
        database = req.database ?? "";
        if ((req.writes?.length ?? 0) > 0)
          throw new RpcError(status.INVALID_ARGUMENT, "The first Write request must be a handshake.");
        sink.send({ streamId: "local", streamToken: token() });
        return;
      }
      const res = await engine.commit(req.database ?? database, req.writes ?? [], undefined, caller);
      sink.send({ streamToken: token(), writeResults: res.writeResults, commitTime: res.commitTime });
    },
    close: () => undefined,
  };
}
