import { randomBytes } from "node:crypto";
import { aborted, invalidArgument } from "./errors";
import type { Ts } from "./types";

export type TxnMode = "read-write" | "read-only";

const EXPIRED = "The referenced transaction has expired or is no longer valid.";

function abortedError(reason: string | undefined): Error {
  return aborted(`Transaction was aborted: ${reason ?? "conflict"}. Retry the transaction.`);
}

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
  readonly txn: Transaction;
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

/** A document's lock: shared read locks, the exclusive lock of a committing write, pending writers. */
interface LockState {
  readonly shared: Set<Transaction>;
  exclusive: Transaction | undefined;
  /** Writers waiting for the exclusive lock; younger readers queue behind them. */
  readonly pending: Set<Transaction>;
  readonly waiters: Set<Waiter>;
}

export type LockMode = "shared" | "exclusive";

/**
 * Pessimistic concurrency control with production Firestore's lock modes (see the README,
 * "Transactions"): a read in a read-write transaction takes a *shared* lock on the document
 * (present or absent) until the transaction ends, so concurrent readers proceed; a commit (and a
 * non-transactional write) takes the *exclusive* lock on what it writes. Conflicts are settled by
 * wound-wait, so there is never a deadlock: a writer older than a reader holding the document
 * aborts that reader (the SDK retries it, keeping its age via `retryTransaction`); a younger one
 * waits. A reader younger than a waiting writer queues behind it, so writers do not starve. The
 * exclusive lock is held only while a granted commit is applied; readers wait for it.
 * Waits are bounded by a timeout.
 */
export class TransactionManager {
  private readonly txns = new Map<string, Transaction>();
  private readonly lockTable = new Map<string, LockState>();
  private nextAge = 1;
  /** Called once for each active transaction that is aborted (wounded, timed out, expired, cleared). */
  onAbort: ((txn: Transaction, reason: string | undefined) => void) | undefined;
  /** Called each time a request starts waiting for a lock another transaction holds. */
  onLockWait: (() => void) | undefined;
  /** Called each time a lock wait runs into the lock-wait timeout (answered ABORTED). */
  onLockWaitTimeout: (() => void) | undefined;
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
    const txn = TransactionManager.create(mode, age, readTime);
    this.txns.set(txn.id, txn);
    return txn;
  }

  private static create(mode: TxnMode, age: number, readTime: Ts | undefined): Transaction {
    const now = Date.now();
    return {
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
  }

  /**
   * A single-use writer for a non-transactional write: the youngest at the moment it asks, so it
   * waits for every transaction holding its documents and never wounds one. End it with `finish`.
   */
  nonTransactional(): Transaction {
    return TransactionManager.create("read-write", this.nextAge++, undefined);
  }

  /** Looks up an active transaction by its wire id; ABORTED if it was wounded or expired. */
  get(id: Uint8Array): Transaction {
    const txn = this.txns.get(Buffer.from(id).toString("hex"));
    // Production's wording for unknown, expired and already-ended transactions; the SDKs match
    // "transaction has expired" to retry the whole transaction (e.g. after a lost Commit reply).
    if (!txn) throw invalidArgument(EXPIRED);
    if (txn.state === "aborted") throw abortedError(txn.abortReason);
    if (txn.state === "finished") throw invalidArgument(EXPIRED);
    txn.lastActivity = Date.now();
    return txn;
  }

  static wireId(txn: Transaction): Buffer {
    return Buffer.from(txn.id, "hex");
  }

  /**
   * Takes `mode` locks on all names for `txn`, waiting (younger) or wounding (older) as
   * wound-wait decides; all locks are granted together. An exclusive grant is meant to be
   * applied at once and released with `finish`.
   */
  async acquire(txn: Transaction, names: Iterable<string>, mode: LockMode): Promise<void> {
    const sorted = [...new Set(names)].sort();
    const deadline = Date.now() + this.lockWaitTimeoutMs;
    if (mode === "exclusive") for (const name of sorted) this.lock(name).pending.add(txn);
    try {
      for (;;) {
        if (txn.state !== "active") throw abortedError(txn.abortReason);
        const blocked = sorted.find((name) => this.blocked(txn, this.lock(name), mode));
        if (blocked === undefined) break;
        await this.wait(txn, blocked, deadline);
      }
      for (const name of sorted) {
        const lock = this.lock(name);
        if (mode === "exclusive") lock.exclusive = txn;
        else lock.shared.add(txn);
        txn.locks.add(name);
      }
      txn.lastActivity = Date.now();
    } finally {
      if (mode === "exclusive") {
        for (const name of sorted) {
          this.lockTable.get(name)?.pending.delete(txn);
          this.wake(name);
        }
      }
    }
  }

  private lock(name: string): LockState {
    let lock = this.lockTable.get(name);
    if (!lock) {
      lock = { shared: new Set(), exclusive: undefined, pending: new Set(), waiters: new Set() };
      this.lockTable.set(name, lock);
    }
    return lock;
  }

  /** Whether `txn` must wait for `mode` on this lock; wounds the younger holders an older writer meets. */
  private blocked(txn: Transaction, lock: LockState, mode: LockMode): boolean {
    // A granted exclusive lock belongs to a commit being applied: everyone waits for it.
    if (lock.exclusive !== undefined && lock.exclusive !== txn) return true;
    if (mode === "shared") {
      if (lock.shared.has(txn)) return false;
      return [...lock.pending].some((w) => w !== txn && w.age < txn.age);
    }
    let wait = false;
    for (const holder of [...lock.shared]) {
      if (holder === txn) continue;
      if (txn.age < holder.age) {
        this.finish(holder, "aborted", "wounded by an older transaction that writes the same document");
      } else wait = true;
    }
    return wait || [...lock.pending].some((w) => w !== txn && w.age < txn.age);
  }

  private wake(name: string): void {
    const lock = this.lockTable.get(name);
    if (!lock) return;
    for (const w of [...lock.waiters]) w.resolve();
    if (lock.shared.size === 0 && !lock.exclusive && lock.pending.size === 0 && lock.waiters.size === 0) {
      this.lockTable.delete(name);
    }
  }

  private wait(txn: Transaction, name: string, deadline: number): Promise<void> {
    const remaining = deadline - Date.now();
    const timedOut = (): Error => {
      this.onLockWaitTimeout?.();
      this.finish(txn, "aborted", "lock wait timed out");
      return aborted(`Too much contention on document ${name}. Please try again.`);
    };
    if (remaining <= 0) return Promise.reject(timedOut());
    this.onLockWait?.();
    const queue = this.lock(name).waiters;
    return new Promise<void>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        queue.delete(waiter);
        txn.waits.delete(waiter);
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
        waiter.reject(timedOut());
      }, remaining);
      queue.add(waiter);
      txn.waits.add(waiter);
    });
  }

  /** Ends a transaction: releases its locks and wakes the requests waiting for them. */
  finish(txn: Transaction, state: "aborted" | "finished", reason?: string): void {
    if (txn.state !== "active") return;
    txn.state = state;
    txn.abortReason = reason;
    for (const name of txn.locks) {
      const lock = this.lockTable.get(name);
      if (!lock) continue;
      lock.shared.delete(txn);
      if (lock.exclusive === txn) lock.exclusive = undefined;
      this.wake(name);
    }
    txn.locks.clear();
    if (state === "aborted") {
      if (this.txns.has(txn.id)) this.onAbort?.(txn, reason);
      for (const w of [...txn.waits]) w.reject(abortedError(reason));
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
