import type * as grpc from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import { RpcError } from "./errors";
import type { Engine } from "./engine";
import { toProtoDocument } from "./engine";
import type { Logger } from "./log";
import { splitDocumentName, validateParent } from "./paths";
import { runQuery } from "./query";
import type { StructuredQuery } from "./query";
import type { StoredDocument, Ts } from "./types";
import { tsToMicros, tsToProto } from "./types";

interface ListenRequest {
  database?: string;
  addTarget?: {
    targetId?: number;
    documents?: { documents?: string[] };
    query?: { parent?: string; structuredQuery?: StructuredQuery };
    resumeToken?: Uint8Array;
    readTime?: unknown;
    once?: boolean;
  };
  removeTarget?: number;
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
export function serveListen(
  engine: Engine,
  call: grpc.ServerDuplexStream<unknown, unknown>,
  log: Logger,
): void {
  const targets = new Map<number, ActiveTarget>();
  let closed = false;
  const send = (msg: unknown): void => {
    if (!closed) call.write(msg);
  };
  const fail = (err: unknown): void => {
    if (closed) return;
    closed = true;
    unsubscribe();
    const e =
      err instanceof RpcError
        ? { code: err.code, details: err.message }
        : { code: status.INTERNAL, details: String(err) };
    call.emit("error", e);
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
    if (closed || targets.size === 0) return;
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
      fail(err);
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
        engine.authorizeRead(call.metadata, names);
      };
    } else if (req.query?.structuredQuery) {
      const parent = req.query.parent ?? "";
      validateParent(parent);
      const q = req.query.structuredQuery;
      evaluate = () => runQuery(q, parent, engine.store.all());
      authorize = (docs) => {
        engine.authorizeQuery(call.metadata, parent, q, docs);
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

  call.on("data", (raw: ListenRequest) => {
    try {
      engine.counts.rpcs.Listen = (engine.counts.rpcs.Listen ?? 0) + 1;
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
    } catch (err) {
      log.debug(`Listen failed: ${String(err)}`);
      fail(err);
    }
  });
  const end = (): void => {
    if (closed) return;
    closed = true;
    unsubscribe();
    call.end();
  };
  call.on("end", end);
  call.on("cancelled", end);
  call.on("error", end);
}

interface WriteStreamRequest {
  database?: string;
  streamId?: string;
  writes?: unknown[];
  streamToken?: Uint8Array;
}

/** The Write stream the client SDKs use for mutations: a handshake, then one atomic commit per request. */
export function serveWrite(
  engine: Engine,
  call: grpc.ServerDuplexStream<unknown, unknown>,
  log: Logger,
): void {
  let handshaken = false;
  let counter = 0;
  let closed = false;
  let database = "";
  let chain: Promise<void> = Promise.resolve();
  const token = (): Buffer => Buffer.from(String(++counter));
  call.on("data", (req: WriteStreamRequest) => {
    chain = chain.then(async () => {
      if (closed) return;
      try {
        engine.counts.rpcs.Write = (engine.counts.rpcs.Write ?? 0) + 1;
        if (!handshaken) {
          handshaken = true;
          database = req.database ?? "";
          if ((req.writes?.length ?? 0) > 0)
            throw new RpcError(status.INVALID_ARGUMENT, "The first Write request must be a handshake.");
          call.write({ streamId: "local", streamToken: token() });
          return;
        }
        const res = await engine.commit(req.database ?? database, req.writes ?? [], undefined, call.metadata);
        call.write({ streamToken: token(), writeResults: res.writeResults, commitTime: res.commitTime });
      } catch (err) {
        closed = true;
        log.debug(`Write stream failed: ${String(err)}`);
        call.emit(
          "error",
          err instanceof RpcError
            ? { code: err.code, details: err.message }
            : { code: status.INTERNAL, details: String(err) },
        );
      }
    });
  });
  const end = (): void => {
    if (!closed) {
      closed = true;
      call.end();
    }
  };
  call.on("end", end);
  call.on("cancelled", end);
}
