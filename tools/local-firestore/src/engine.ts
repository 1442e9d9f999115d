import type { Caller } from "./auth";
import { status } from "@grpc/grpc-js";
import { RpcError, aborted, invalidArgument } from "./errors";
import { explainMetrics } from "./explain";
import type { ExplainMetrics, ExplainOptions } from "./explain";
import type { FaultInjector } from "./faults";
import type { IndexSet } from "./indexes";
import type { Logger } from "./log";
import { parseFieldPath } from "./fieldPath";
import { MAX_DOCUMENT_SIZE, canonical, documentSize } from "./values";
import { documentsRoot, parseDatabase, splitDocumentName, validateParent } from "./paths";
import { queryCollectionId, runAggregationQuery, runQuery } from "./query";
import type { StructuredAggregationQuery, StructuredQuery } from "./query";
import type { Store } from "./store";
import { TransactionManager } from "./transactions";
import type { Transaction } from "./transactions";
import type { DocumentChange, TriggerDelivery } from "./triggers";
import type { Fields, StoredDocument, Timestamp, Ts, Value } from "./types";
import { tsCompare, tsFromProto, tsToProto } from "./types";
import { applyWrite, validateWrite, writeTarget } from "./writes";
import type { Write } from "./writes";

export type ReadConsistency =
  | { kind: "latest" }
  | { kind: "readTime"; readTime: Timestamp }
  | { kind: "transaction"; id: Uint8Array }
  | {
      kind: "new";
      options: { readOnly?: { readTime?: Timestamp }; readWrite?: { retryTransaction?: Uint8Array } };
    };

export interface OperationCounts {
  /** Documents read (billing-style: a query that returns nothing still counts one read). */
  reads: number;
  /** Document writes applied (set, update, transform, delete). */
  writes: number;
  deletes: number;
  rpcs: Record<string, number>;
  transactionsBegun: number;
  transactionsCommitted: number;
  transactionsAborted: number;
  /** Requests that had to wait for a lock held by a transaction. */
  lockWaits: number;
  /** Lock waits that ran into the lock-wait timeout (answered ABORTED). */
  lockWaitTimeouts: number;
}

/** Hook for the security-rules layer: called for requests not made with admin credentials. */
export type AccessCheck = (
  caller: Caller,
  request:
    | { kind: "read"; docs: Array<{ name: string; doc: StoredDocument | undefined }> }
    | { kind: "query"; parent: string; query: StructuredQuery; docs: StoredDocument[] }
    | {
        kind: "write";
        changes: Array<{
          name: string;
          before: StoredDocument | undefined;
          after: StoredDocument | undefined;
        }>;
      },
) => void;

export interface CommitResult {
  writeResults: Array<{ updateTime?: Timestamp; transformResults?: Value[] }>;
  commitTime: Timestamp;
}

interface ProtoDocument {
  name: string;
  fields: Fields;
  createTime: Timestamp;
  updateTime: Timestamp;
}

export function toProtoDocument(doc: StoredDocument, mask?: string[]): ProtoDocument {
  const fields = mask ? project(doc.fields, mask) : doc.fields;
  return {
    name: doc.name,
    fields,
    createTime: tsToProto(doc.createTime),
    updateTime: tsToProto(doc.updateTime),
  };
}

function project(fields: Fields, mask: string[]): Fields {
  const out: Fields = {};
  for (const path of mask) {
    const segs = parseFieldPath(path);
    let src: Fields | undefined = fields;
    let dst: Fields = out;
    for (let i = 0; i < segs.length && src; i++) {
      const key = segs[i] ?? "";
      const v: Value | undefined = src[key];
      if (!v) break;
      if (i === segs.length - 1) {
        dst[key] = v;
      } else if (v.mapValue) {
        const next: Value = dst[key] ?? { mapValue: { fields: {} } };
        dst[key] = next;
        dst = next.mapValue?.fields ?? {};
        src = v.mapValue.fields;
      } else {
        break;
      }
    }
  }
  return out;
}

export interface EngineOptions {
  store: Store;
  transactions: TransactionManager;
  faults: FaultInjector;
  log: Logger;
  triggers: TriggerDelivery | undefined;
}

/** The Firestore semantics behind the gRPC surface: reads, queries, commits, transactions. */
export class Engine {
  readonly counts: OperationCounts = Engine.zeroCounts();
  accessCheck: AccessCheck | undefined;
  /** When set, queries that need an index missing from it fail (FAILED_PRECONDITION). */
  indexes: IndexSet | undefined;
  private readonly listeners = new Set<(changes: DocumentChange[], time: Ts) => void>();

  constructor(private readonly opts: EngineOptions) {
    // Every abort is counted where it happens: a transaction wounded while it waits or between
    // requests (its client learns of it at its next read or commit) counts as much as one
    // whose commit is refused.
    opts.transactions.onAbort = () => {
      this.counts.transactionsAborted++;
    };
    opts.transactions.onLockWait = () => {
      this.counts.lockWaits++;
    };
    opts.transactions.onLockWaitTimeout = () => {
      this.counts.lockWaitTimeouts++;
    };
  }

  static zeroCounts(): OperationCounts {
    return {
      reads: 0,
      writes: 0,
      deletes: 0,
      rpcs: {},
      transactionsBegun: 0,
      transactionsCommitted: 0,
      transactionsAborted: 0,
      lockWaits: 0,
      lockWaitTimeouts: 0,
    };
  }

  resetCounts(): void {
    Object.assign(this.counts, Engine.zeroCounts());
  }

  onChanges(listener: (changes: DocumentChange[], time: Ts) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get store(): Store {
    return this.opts.store;
  }

  /** Counts the RPC, applies injected latency and failures. Returns an error to answer after running it. */
  async before(method: string, names: string[]): Promise<RpcError | undefined> {
    this.counts.rpcs[method] = (this.counts.rpcs[method] ?? 0) + 1;
    const d = this.opts.faults.decide(method, names);
    if (d.delayMs > 0) await new Promise((r) => setTimeout(r, d.delayMs));
    if (d.failBefore) throw d.failBefore;
    return d.failAfter;
  }

  writeTargets(writes: unknown[]): string[] {
    const out: string[] = [];
    for (const w of writes) {
      try {
        out.push(writeTarget(w as Write));
      } catch {
        // invalid writes are reported by the handler itself
      }
    }
    return out;
  }

  beginTransaction(
    database: string,
    options:
      { readOnly?: { readTime?: Timestamp }; readWrite?: { retryTransaction?: Uint8Array } } | undefined,
  ): Buffer {
    parseDatabase(database);
    const txn = this.begin(options);
    return TransactionManager.wireId(txn);
  }

  private begin(
    options:
      | {
          readOnly?: { readTime?: Timestamp };
          readWrite?: { retryTransaction?: Uint8Array };
        }
      | undefined,
  ): Transaction {
    this.counts.transactionsBegun++;
    if (options?.readOnly) {
      const readTime = options.readOnly.readTime
        ? tsFromProto(options.readOnly.readTime)
        : this.opts.store.currentTime();
      return this.opts.transactions.begin("read-only", readTime);
    }
    return this.opts.transactions.begin("read-write", undefined, options?.readWrite?.retryTransaction);
  }

  rollback(id: Uint8Array | undefined): void {
    if (!id || id.length === 0) throw invalidArgument("Rollback needs a transaction.");
    let txn: Transaction;
    try {
      txn = this.opts.transactions.get(id);
    } catch (err) {
      // Rolling back an aborted or expired transaction is harmless.
      if (err instanceof RpcError && (err.code === status.ABORTED || err.code === status.INVALID_ARGUMENT))
        return;
      throw err;
    }
    this.opts.transactions.finish(txn, "finished");
  }

  /**
   * Resolves the read consistency of a request: the snapshot time to read at, and for
   * read-write transactions the transaction that must lock what it reads.
   */
  private resolveRead(c: ReadConsistency): {
    readTime: Ts | undefined;
    txn: Transaction | undefined;
    newTxnId: Buffer | undefined;
  } {
    switch (c.kind) {
      case "latest":
        return { readTime: undefined, txn: undefined, newTxnId: undefined };
      case "readTime": {
        const t = tsFromProto(c.readTime);
        if (tsCompare(t, this.opts.store.currentTime()) > 0 && t.seconds > Date.now() / 1000 + 1) {
          throw invalidArgument("readTime is in the future.");
        }
        return { readTime: t, txn: undefined, newTxnId: undefined };
      }
      case "transaction": {
        const txn = this.opts.transactions.get(c.id);
        return {
          readTime: txn.readTime,
          txn: txn.mode === "read-write" ? txn : undefined,
          newTxnId: undefined,
        };
      }
      case "new": {
        const txn = this.begin(c.options);
        return {
          readTime: txn.readTime,
          txn: txn.mode === "read-write" ? txn : undefined,
          newTxnId: TransactionManager.wireId(txn),
        };
      }
    }
  }

  private countReads(n: number): void {
    this.counts.reads += Math.max(1, n);
  }

  async batchGet(
    names: string[],
    consistency: ReadConsistency,
    mask: string[] | undefined,
    caller: Caller,
  ): Promise<{
    docs: Array<{ name: string; doc: ProtoDocument | undefined }>;
    readTime: Timestamp;
    transaction?: Buffer;
  }> {
    for (const n of names) splitDocumentName(n);
    const { readTime, txn, newTxnId } = this.resolveRead(consistency);
    if (txn) await this.opts.transactions.acquire(txn, names, "shared");
    const time = readTime ?? this.opts.store.currentTime();
    const found = names.map((name) => ({ name, doc: this.opts.store.get(name, readTime) }));
    this.accessCheck?.(caller, { kind: "read", docs: found });
    this.countReads(found.length);
    return {
      docs: found.map(({ name, doc }) => ({ name, doc: doc ? toProtoDocument(doc, mask) : undefined })),
      readTime: tsToProto(time),
      ...(newTxnId ? { transaction: newTxnId } : {}),
    };
  }

  async runQuery(
    parent: string,
    query: unknown,
    consistency: ReadConsistency,
    caller: Caller,
    explain?: ExplainOptions,
  ): Promise<{
    docs: ProtoDocument[];
    /** Absent for a plan-only Explain (production answers only the metrics). */
    readTime: Timestamp | undefined;
    transaction?: Buffer;
    explainMetrics?: ExplainMetrics;
  }> {
    const startedAt = process.hrtime.bigint();
    validateParent(parent);
    if (!query) throw invalidArgument("RunQuery needs a structuredQuery.");
    this.indexes?.check(query, parent);
    if (explain && !explain.analyze) {
      // Plan only: nothing is executed, read or billed.
      return { docs: [], readTime: undefined, explainMetrics: explainMetrics(query, explain, undefined) };
    }
    const { readTime, txn, newTxnId } = this.resolveRead(consistency);
    const time = readTime ?? this.opts.store.currentTime();
    const collectionId = queryCollectionId(query);
    let docs = runQuery(query, parent, this.opts.store.inCollection(collectionId, readTime));
    if (txn) {
      await this.opts.transactions.acquire(
        txn,
        docs.map((d) => d.name),
        "shared",
      );
      // Re-read under the locks: what we return is what the transaction has locked.
      docs = runQuery(query, parent, this.opts.store.inCollection(collectionId));
    }
    this.accessCheck?.(caller, { kind: "query", parent, query: query, docs });
    this.countReads(docs.length);
    const run = { results: docs.length, reads: Math.max(1, docs.length), startedAt, scanned: docs.length };
    return {
      docs: docs.map((d) => toProtoDocument(d)),
      readTime: tsToProto(time),
      ...(newTxnId ? { transaction: newTxnId } : {}),
      ...(explain ? { explainMetrics: explainMetrics(query, explain, run) } : {}),
    };
  }

  runAggregation(
    parent: string,
    aggQuery: unknown,
    consistency: ReadConsistency,
    caller: Caller,
    explain?: ExplainOptions,
  ): Promise<{
    result: Record<string, Value> | undefined;
    readTime: Timestamp | undefined;
    transaction?: Buffer;
    explainMetrics?: ExplainMetrics;
  }> {
    const startedAt = process.hrtime.bigint();
    validateParent(parent);
    if (!aggQuery) throw invalidArgument("RunAggregationQuery needs a structuredAggregationQuery.");
    const q = aggQuery as StructuredAggregationQuery;
    if (q.structuredQuery) this.indexes?.check(q.structuredQuery, parent);
    if (explain && !explain.analyze && q.structuredQuery) {
      return Promise.resolve({
        result: undefined,
        readTime: undefined,
        explainMetrics: explainMetrics(q.structuredQuery, explain, undefined),
      });
    }
    const { readTime, newTxnId } = this.resolveRead(consistency);
    const time = readTime ?? this.opts.store.currentTime();
    if (this.accessCheck && q.structuredQuery) {
      const docs = runQuery(
        q.structuredQuery,
        parent,
        this.opts.store.inCollection(queryCollectionId(q.structuredQuery), readTime),
      );
      this.accessCheck(caller, { kind: "query", parent, query: q.structuredQuery, docs });
    }
    const result = runAggregationQuery(
      q,
      parent,
      this.opts.store.inCollection(queryCollectionId(q.structuredQuery), readTime),
    );
    // Aggregations are billed one read per batch of up to 1000 index entries.
    this.countReads(1);
    const run = { results: 1, reads: 1, startedAt, scanned: 0 };
    return Promise.resolve({
      result,
      readTime: tsToProto(time),
      ...(newTxnId ? { transaction: newTxnId } : {}),
      ...(explain && q.structuredQuery
        ? { explainMetrics: explainMetrics(q.structuredQuery, explain, run) }
        : {}),
    });
  }

  listDocuments(
    req: {
      parent?: string;
      collectionId?: string;
      pageSize?: number;
      pageToken?: string;
      mask?: { fieldPaths?: string[] };
      showMissing?: boolean;
    },
    consistency: ReadConsistency,
    caller: Caller,
  ): Promise<{ documents: ProtoDocument[]; nextPageToken?: string }> {
    const parent = req.parent ?? "";
    validateParent(parent);
    if (!req.collectionId) throw invalidArgument("ListDocuments needs a collectionId.");
    const { readTime } = this.resolveRead(consistency);
    const prefix = `${parent}/${req.collectionId}/`;
    const byName = new Map<string, StoredDocument | undefined>();
    for (const d of this.opts.store.all(readTime)) {
      if (!d.name.startsWith(prefix)) continue;
      const id = d.name.slice(prefix.length).split("/")[0] ?? "";
      const name = prefix + id;
      if (d.name === name) byName.set(name, d);
      else if (req.showMissing && !byName.has(name)) byName.set(name, undefined);
    }
    const names = [...byName.keys()].sort();
    const start = req.pageToken ? names.findIndex((n) => n > (req.pageToken ?? "")) : 0;
    const size = req.pageSize && req.pageSize > 0 ? req.pageSize : names.length;
    const page = start < 0 ? [] : names.slice(start, start + size);
    const docs = page.map((name) => byName.get(name));
    this.accessCheck?.(caller, { kind: "read", docs: page.map((name) => ({ name, doc: byName.get(name) })) });
    this.countReads(docs.length);
    const last = page[page.length - 1];
    return Promise.resolve({
      documents: page.map((name, i) => {
        const d = docs[i];
        return d ? toProtoDocument(d, req.mask?.fieldPaths) : ({ name } as ProtoDocument);
      }),
      ...(start >= 0 && start + size < names.length && last ? { nextPageToken: last } : {}),
    });
  }

  listCollectionIds(
    req: { parent?: string; pageSize?: number; pageToken?: string },
    consistency: ReadConsistency,
  ): { collectionIds: string[]; nextPageToken?: string } {
    const parent = req.parent ?? "";
    validateParent(parent);
    const { readTime } = this.resolveRead(consistency);
    const prefix = `${parent}/`;
    const ids = new Set<string>();
    for (const d of this.opts.store.all(readTime)) {
      if (d.name.startsWith(prefix)) ids.add(d.name.slice(prefix.length).split("/")[0] ?? "");
    }
    const sorted = [...ids].filter((s) => s.length > 0).sort();
    const start = req.pageToken ? sorted.findIndex((n) => n > (req.pageToken ?? "")) : 0;
    const size = req.pageSize && req.pageSize > 0 ? req.pageSize : sorted.length;
    const page = start < 0 ? [] : sorted.slice(start, start + size);
    this.countReads(1);
    const last = page[page.length - 1];
    return {
      collectionIds: page,
      ...(start >= 0 && start + size < sorted.length && last ? { nextPageToken: last } : {}),
    };
  }

  /**
   * Commits writes atomically. Inside a transaction the documents are locked (they usually
   * are already, by the transaction's reads); outside one, the commit waits for any
   * transaction holding them. All preconditions are checked before anything is applied.
   */
  async commit(
    database: string,
    rawWrites: unknown[],
    txnId: Uint8Array | undefined,
    caller: Caller,
  ): Promise<CommitResult> {
    const db = parseDatabase(database);
    const writes = rawWrites as Write[];
    const names = writes.map((w) => {
      validateWrite(w);
      const name = writeTarget(w);
      if (!name.startsWith(`${documentsRoot(db)}/`)) {
        throw invalidArgument(`Document "${name}" is not in database "${database}".`);
      }
      splitDocumentName(name);
      return name;
    });
    let txn: Transaction | undefined;
    if (txnId && txnId.length > 0) {
      txn = this.opts.transactions.get(txnId);
      if (txn.mode === "read-only") {
        if (writes.length > 0) throw invalidArgument("Cannot modify entities in a read-only transaction.");
        this.opts.transactions.finish(txn, "finished");
        return { writeResults: [], commitTime: tsToProto(this.opts.store.nextTime()) };
      }
    }
    return txn ? this.commitTransaction(txn, writes, names, caller) : this.writeNow(writes, names, caller);
  }

  /** A transaction's commit: exclusive locks on what it writes (wound-wait), then apply. */
  private async commitTransaction(
    txn: Transaction,
    writes: Write[],
    names: string[],
    caller: Caller,
  ): Promise<CommitResult> {
    try {
      await this.opts.transactions.acquire(txn, names, "exclusive");
      // An older transaction may have wounded this one while the lock grant was being delivered.
      if (txn.state !== "active") {
        throw aborted(`Transaction was aborted: ${txn.abortReason ?? "conflict"}. Retry the transaction.`);
      }
      const result = this.applyAtomically(writes, names, caller);
      this.opts.transactions.finish(txn, "finished");
      this.counts.transactionsCommitted++;
      return result;
    } catch (err) {
      // A conflict aborts the transaction (the SDK retries it); any other failed commit
      // (a precondition, an invalid write) just ends it.
      const conflict = err instanceof RpcError && err.code === status.ABORTED;
      this.opts.transactions.finish(txn, conflict ? "aborted" : "finished", "commit failed");
      throw err;
    }
  }

  /** A write outside a transaction: waits for the exclusive locks (never wounds), applies, releases. */
  private async writeNow(writes: Write[], names: string[], caller: Caller): Promise<CommitResult> {
    const writer = this.opts.transactions.nonTransactional();
    try {
      await this.opts.transactions.acquire(writer, names, "exclusive");
      return this.applyAtomically(writes, names, caller);
    } finally {
      this.opts.transactions.finish(writer, "finished");
    }
  }

  /** Synchronous: computes every write's outcome, then applies all or nothing. */
  private applyAtomically(writes: Write[], names: string[], caller: Caller): CommitResult {
    const store = this.opts.store;
    const commitTime = store.nextTime();
    const before = new Map<string, StoredDocument | undefined>();
    const after = new Map<string, StoredDocument | undefined>();
    const writeResults: Array<{ updateTime?: Timestamp; transformResults?: Value[] }> = [];
    writes.forEach((w, i) => {
      const name = names[i] ?? "";
      if (!before.has(name)) before.set(name, store.get(name));
      const current = after.has(name) ? after.get(name) : before.get(name);
      let outcome: ReturnType<typeof applyWrite>;
      try {
        outcome = applyWrite(w, current, commitTime);
      } catch (err) {
        // Security rules are judged before preconditions, so a caller the rules deny learns
        // nothing about the document (not even that it is missing or already exists).
        if (err instanceof RpcError && this.accessCheck) {
          const attempted: StoredDocument | undefined = w.update
            ? { name, fields: w.update.fields ?? {}, createTime: commitTime, updateTime: commitTime }
            : undefined;
          this.accessCheck(caller, {
            kind: "write",
            changes: [{ name, before: current, after: w.delete ? undefined : (attempted ?? current) }],
          });
        }
        throw err;
      }
      const { after: next, transformResults } = outcome;
      if (next) {
        const size = documentSize(name, next.fields);
        if (size > MAX_DOCUMENT_SIZE) {
          throw invalidArgument(
            `Document "${name}" cannot be written because its size (${size} bytes) exceeds the maximum allowed size of ${MAX_DOCUMENT_SIZE} bytes.`,
          );
        }
      }
      after.set(name, next);
      writeResults.push({
        ...(next ? { updateTime: tsToProto(commitTime) } : {}),
        ...(transformResults.length > 0 ? { transformResults } : {}),
      });
    });
    // A write that leaves a document exactly as it was is not a change (no new updateTime, no event).
    const changes = new Map<string, StoredDocument | undefined>();
    const events: DocumentChange[] = [];
    for (const [name, next] of after) {
      const prev = before.get(name);
      if (prev && next && canonical(prev.fields) === canonical(next.fields)) {
        writeResults.forEach((r, i) => {
          if (names[i] === name && r.updateTime) r.updateTime = tsToProto(prev.updateTime);
        });
        continue;
      }
      if (!prev && !next) continue;
      changes.set(name, next);
      events.push({ path: splitDocumentName(name).path, before: prev, after: next });
    }
    this.accessCheck?.(caller, {
      kind: "write",
      changes: [...after.keys()].map((name) => ({ name, before: before.get(name), after: after.get(name) })),
    });
    store.apply(changes, commitTime);
    for (const w of writes) {
      if (w.delete) this.counts.deletes++;
      else this.counts.writes++;
    }
    if (events.length > 0) {
      this.opts.triggers?.onCommit(events);
      for (const l of this.listeners) l(events, commitTime);
    }
    return { writeResults, commitTime: tsToProto(commitTime) };
  }

  /** BatchWrite: each write is applied on its own, not atomically; each gets its own status. */
  async batchWrite(
    database: string,
    rawWrites: unknown[],
    caller: Caller,
  ): Promise<{
    writeResults: Array<{ updateTime?: Timestamp }>;
    status: Array<{ code: number; message?: string }>;
  }> {
    parseDatabase(database);
    const writeResults: Array<{ updateTime?: Timestamp }> = [];
    const statuses: Array<{ code: number; message?: string }> = [];
    for (const w of rawWrites as Write[]) {
      try {
        validateWrite(w);
        const name = writeTarget(w);
        splitDocumentName(name);
        const r = await this.writeNow([w], [name], caller);
        writeResults.push(r.writeResults[0] ?? {});
        statuses.push({ code: status.OK });
      } catch (err) {
        writeResults.push({});
        statuses.push(
          err instanceof RpcError
            ? { code: err.code, message: err.message }
            : { code: status.INTERNAL, message: String(err) },
        );
      }
    }
    return { writeResults, status: statuses };
  }

  async createDocument(
    req: {
      parent?: string;
      collectionId?: string;
      documentId?: string;
      document?: { fields?: Record<string, Value> };
    },
    caller: Caller,
  ): Promise<ProtoDocument> {
    const parent = req.parent ?? "";
    const { root } = validateParent(parent);
    if (!req.collectionId) throw invalidArgument("CreateDocument needs a collectionId.");
    const id = req.documentId ?? autoId();
    const name = `${parent}/${req.collectionId}/${id}`;
    const database = root.slice(0, -"/documents".length);
    await this.commit(
      database,
      [{ update: { name, fields: req.document?.fields ?? {} }, currentDocument: { exists: false } }],
      undefined,
      caller,
    );
    const doc = this.opts.store.get(name);
    if (!doc) throw new RpcError(status.INTERNAL, "created document vanished");
    return toProtoDocument(doc);
  }

  async updateDocument(
    req: {
      document?: { name?: string; fields?: Record<string, Value> };
      updateMask?: { fieldPaths?: string[] };
      currentDocument?: { exists?: boolean; updateTime?: Timestamp };
    },
    caller: Caller,
  ): Promise<ProtoDocument> {
    const name = req.document?.name;
    if (!name) throw invalidArgument("UpdateDocument needs a document name.");
    const { root } = splitDocumentName(name);
    const database = root.slice(0, -"/documents".length);
    await this.commit(
      database,
      [
        {
          update: { name, fields: req.document?.fields ?? {} },
          ...(req.updateMask ? { updateMask: req.updateMask } : {}),
          ...(req.currentDocument ? { currentDocument: req.currentDocument } : {}),
        },
      ],
      undefined,
      caller,
    );
    const doc = this.opts.store.get(name);
    if (!doc) throw new RpcError(status.INTERNAL, "updated document vanished");
    return toProtoDocument(doc);
  }

  async deleteDocument(
    req: { name?: string; currentDocument?: { exists?: boolean; updateTime?: Timestamp } },
    caller: Caller,
  ): Promise<Record<string, never>> {
    const name = req.name;
    if (!name) throw invalidArgument("DeleteDocument needs a document name.");
    const { root } = splitDocumentName(name);
    await this.commit(
      root.slice(0, -"/documents".length),
      [{ delete: name, ...(req.currentDocument ? { currentDocument: req.currentDocument } : {}) }],
      undefined,
      caller,
    );
    return {};
  }

  /** Access checks for listen targets (the rules layer decides; admin requests pass). */
  authorizeRead(caller: Caller, names: string[]): void {
    this.accessCheck?.(caller, {
      kind: "read",
      docs: names.map((name) => ({ name, doc: this.opts.store.get(name) })),
    });
  }

  authorizeQuery(caller: Caller, parent: string, query: StructuredQuery, docs: StoredDocument[]): void {
    this.indexes?.check(query, parent);
    this.accessCheck?.(caller, { kind: "query", parent, query, docs });
  }

  /** Deletes every document of a project's database; aborts open transactions. */
  /** Deletes every document (of one database when given, e.g. "projects/p/databases/(default)"); aborts open transactions. */
  clear(database?: string): void {
    this.opts.transactions.abortAll("database cleared");
    this.opts.store.clear(database === undefined ? undefined : `${database}/documents/`);
  }
}

function autoId(): string {
  const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  let id = "";
  for (let i = 0; i < 20; i++) id += chars.charAt(Math.floor(Math.random() * chars.length));
  return id;
}
