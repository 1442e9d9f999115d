import { randomBytes } from "node:crypto";
import { aborted, invalidArgument } from "./errors";
import type { Ts } from "./types";

export type TxnMode = "read-write" | "read-only";

const EXPIRED = "The referenced transaction has expired or is no longer valid.";

export interface Transaction {
  readonly id: string;
  readonly mode: TxnMode;
  /** Wound-wait priority: lower is older. A retried transaction keeps its first attempt's age. */
  readonly age: number;
  /** Snapshot time of a read-only transaction. */
  readonly readTime: Ts | undefined;
  readonly locks: Set<string>;
  state: "active" | "aborted" | "finished";
  abortReason: string | undefined;
  lastActivity: number;
  readonly startedAt: number;
  /** Pending lock waits of this transaction, rejected if it is wounded or expires. */
  readonly waits: Set<Waiter>;
}

interface Waiter {
  readonly txn: Transaction | undefined;
  resolve(): void;
  reject(err: Error): void;
}

export interface TransactionOptions {
  /** A transaction idle for longer than this is rolled back and its locks released (production: 60 s). */
  idleTimeoutMs?: number;
  /** A transaction older than this is rolled back (production: 270 s). */
  maxLifetimeMs?: number;
  /** How long a request waits for a lock before it is answered ABORTED. */
  lockWaitTimeoutMs?: number;
}

/**
 * Pessimistic concurrency control as Firestore's server SDKs see it in production:
 * a read in a read-write transaction locks the document (present or absent) until the
 * transaction commits or rolls back; writes (transactional or not) need the lock too.
 * Conflicts are resolved by wound-wait, so there is never a deadlock: an older transaction
 * that needs a lock held by a younger one aborts the younger (which the SDK retries, keeping
 * its age via `retryTransaction`); a younger one waits. Waits are bounded by a timeout.
 */
export class TransactionManager {
  private readonly txns = new Map<string, Transaction>();
  private readonly holders = new Map<string, Transaction>();
  private readonly queues = new Map<string, Set<Waiter>>();
  private nextAge = 1;
  /** Called once for each active transaction that is aborted (wounded, timed out, expired, cleared). */
  onAbort: ((txn: Transaction, reason: string | undefined) => void) | undefined;
  /** Called each time a request starts waiting for a lock another transaction holds. */
  onLockWait: (() => void) | undefined;
  private readonly idleTimeoutMs: number;
  private readonly maxLifetimeMs: number;
  private readonly lockWaitTimeoutMs: number;
  private readonly sweeper: NodeJS.Timeout;

  constructor(options: TransactionOptions = {}) {
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    this.maxLifetimeMs = options.maxLifetimeMs ?? 270_000;
    this.lockWaitTimeoutMs = options.lockWaitTimeoutMs ?? 30_000;
    this.sweeper = setInterval(() => {
      this.expireIdle();
    }, 1000);
    this.sweeper.unref();
  }

  begin(mode: TxnMode, readTime: Ts | undefined, retryOf?: Uint8Array): Transaction {
    let age = this.nextAge++;
    if (retryOf && retryOf.length > 0) {
      const prev = this.txns.get(Buffer.from(retryOf).toString("hex"));
      if (prev) {
        age = prev.age;
        this.finish(prev, "aborted", "superseded by its retry");
      }
    }
    const now = Date.now();
    const txn: Transaction = {
      id: randomBytes(16).toString("hex"),
      mode,
      age,
      readTime,
      locks: new Set(),
      state: "active",
      abortReason: undefined,
      lastActivity: now,
      startedAt: now,
      waits: new Set(),
    };
    this.txns.set(txn.id, txn);
    return txn;
  }

  /** Looks up an active transaction by its wire id; ABORTED if it was wounded or expired. */
  get(id: Uint8Array): Transaction {
    const txn = this.txns.get(Buffer.from(id).toString("hex"));
    // Production's wording for unknown, expired and already-ended transactions; the SDKs match
    // "transaction has expired" to retry the whole transaction (e.g. after a lost Commit reply).
    if (!txn) throw invalidArgument(EXPIRED);
    if (txn.state === "aborted") {
      throw aborted(`Transaction was aborted: ${txn.abortReason ?? "conflict"}. Retry the transaction.`);
    }
    if (txn.state === "finished") throw invalidArgument(EXPIRED);
    txn.lastActivity = Date.now();
    return txn;
  }

  static wireId(txn: Transaction): Buffer {
    return Buffer.from(txn.id, "hex");
  }

  /** Acquires locks on all names for `txn` (or, for a non-transactional write, waits until they are free). */
  async acquire(txn: Transaction | undefined, names: Iterable<string>): Promise<void> {
    const sorted = [...new Set(names)].sort();
    const deadline = Date.now() + this.lockWaitTimeoutMs;
    for (;;) {
      if (txn && txn.state !== "active") {
        throw aborted(`Transaction was aborted: ${txn.abortReason ?? "conflict"}. Retry the transaction.`);
      }
      const blocker = this.firstBlocker(txn, sorted);
      if (!blocker) break;
      const { name, holder } = blocker;
      if (txn && txn.age < holder.age) {
        this.finish(holder, "aborted", "wounded by an older transaction that needed the same document");
        continue;
      }
      await this.wait(txn, name, deadline);
    }
    if (txn) {
      for (const name of sorted) {
        this.holders.set(name, txn);
        txn.locks.add(name);
      }
      txn.lastActivity = Date.now();
    }
  }

  private firstBlocker(
    txn: Transaction | undefined,
    names: string[],
  ): { name: string; holder: Transaction } | undefined {
    for (const name of names) {
      const holder = this.holders.get(name);
      if (holder && holder !== txn) return { name, holder };
    }
    return undefined;
  }

  private wait(txn: Transaction | undefined, name: string, deadline: number): Promise<void> {
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      if (txn) this.finish(txn, "aborted", "lock wait timed out");
      return Promise.reject(aborted(`Too much contention on document ${name}. Please try again.`));
    }
    this.onLockWait?.();
    return new Promise<void>((resolve, reject) => {
      let queue = this.queues.get(name);
      if (!queue) {
        queue = new Set();
        this.queues.set(name, queue);
      }
      const done = (): void => {
        clearTimeout(timer);
        queue.delete(waiter);
        if (queue.size === 0 && this.queues.get(name) === queue) this.queues.delete(name);
        txn?.waits.delete(waiter);
      };
      const waiter: Waiter = {
        txn,
        resolve: () => {
          done();
          resolve();
        },
        reject: (err) => {
          done();
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        if (txn) this.finish(txn, "aborted", "lock wait timed out");
        waiter.reject(aborted(`Too much contention on document ${name}. Please try again.`));
      }, remaining);
      queue.add(waiter);
      txn?.waits.add(waiter);
    });
  }

  /** Ends a transaction: releases its locks and wakes the requests waiting for them. */
  finish(txn: Transaction, state: "aborted" | "finished", reason?: string): void {
    if (txn.state !== "active") return;
    txn.state = state;
    txn.abortReason = reason;
    for (const name of txn.locks) {
      if (this.holders.get(name) === txn) this.holders.delete(name);
      const queue = this.queues.get(name);
      if (queue) for (const w of [...queue]) w.resolve();
    }
    txn.locks.clear();
    if (state === "aborted") {
      this.onAbort?.(txn, reason);
      for (const w of [...txn.waits]) {
        w.reject(aborted(`Transaction was aborted: ${reason ?? "conflict"}. Retry the transaction.`));
      }
    }
    txn.lastActivity = Date.now();
  }

  private expireIdle(): void {
    const now = Date.now();
    for (const txn of this.txns.values()) {
      // Ended transactions are remembered a while so late requests get a precise answer.
      if (txn.state !== "active") {
        if (now - txn.lastActivity > 5 * 60_000) this.txns.delete(txn.id);
        continue;
      }
      if (txn.waits.size > 0) continue;
      if (now - txn.lastActivity > this.idleTimeoutMs)
        this.finish(txn, "aborted", "transaction expired (idle)");
      else if (now - txn.startedAt > this.maxLifetimeMs) this.finish(txn, "aborted", "transaction expired");
    }
  }

  activeCount(): number {
    let n = 0;
    for (const t of this.txns.values()) if (t.state === "active") n++;
    return n;
  }

  /** Aborts every transaction (used by clear and shutdown). */
  abortAll(reason: string): void {
    for (const txn of this.txns.values()) this.finish(txn, "aborted", reason);
  }

  close(): void {
    clearInterval(this.sweeper);
    this.abortAll("server shutting down");
  }
}
