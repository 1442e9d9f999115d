/**
 * Natural batching ("group commit") of concurrent requests in one function instance.
 *
 * A Cloud Functions (2nd gen) instance serves many requests at once. Requests submitted while `maxInFlight` groups
 * are already running wait in a queue; whenever a group ends, the next one takes what is waiting (up to
 * `maxWeight`; a group slower than `slowGroupMs` frees its slot early). At low load every request runs alone, at
 * once, so batching adds no waiting; under load one read and one commit serve many requests.
 *
 * Items name the documents they create or move under a precondition (`keys`). Two items sharing a key never run at
 * once in this instance, in one group or in two: the second waits in the queue until the group holding the key has
 * ended and then reads what it wrote (a redelivered event waits for its first copy instead of colliding with it).
 * Items with free keys may overtake it.
 *
 * What a group means is up to `runGroup`: for each item it answers `done` (with the item's value) or `failed` (the
 * item's promise rejects with that error). A `runGroup` that throws fails every item of its group.
 */
export type GroupOutcome<R> = { kind: "done"; value: R } | { kind: "failed"; error: unknown };

export interface CoalescerOptions<T> {
  /** Groups running at once. */
  maxInFlight: number;
  /**
   * A group running longer than this (e.g. its commit is waiting out the SDK's retry backoff after a lost reply)
   * stops counting against `maxInFlight`, so one slow group does not hold up the requests behind it.
   */
  slowGroupMs: number;
  /** A group's total weight (an item heavier than this still runs, alone). */
  maxWeight: number;
  weight: (item: T) => number;
  /** The documents the item creates or moves under a precondition. */
  keys: (item: T) => readonly string[];
}

interface Waiter<T, R> {
  item: T;
  keys: readonly string[];
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

export class Coalescer<T, R> {
  private queue: Waiter<T, R>[] = [];
  private readonly held = new Set<string>();
  private inFlight = 0;

  constructor(
    private readonly runGroup: (items: readonly T[]) => Promise<GroupOutcome<R>[]>,
    private readonly options: CoalescerOptions<T>,
  ) {
    if (options.maxInFlight < 1 || options.maxWeight < 1)
      throw new RangeError("maxInFlight and maxWeight must be ≥ 1");
  }

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, keys: this.options.keys(item), resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight) {
      const group = this.takeGroup();
      if (group.length === 0) return;
      this.inFlight++;
      void this.run(group);
    }
  }

  /** Waiting items in order, skipping those whose keys are held, up to the weight limit; their keys are held. */
  private takeGroup(): Waiter<T, R>[] {
    const group: Waiter<T, R>[] = [];
    const rest: Waiter<T, R>[] = [];
    let weight = 0;
    for (const waiter of this.queue) {
      const w = this.options.weight(waiter.item);
      const fits = group.length === 0 || weight + w <= this.options.maxWeight;
      if (!fits || waiter.keys.some((key) => this.held.has(key))) {
        rest.push(waiter);
        continue;
      }
      for (const key of waiter.keys) this.held.add(key);
      weight += w;
      group.push(waiter);
    }
    this.queue = rest;
    return group;
  }

  private async run(group: Waiter<T, R>[]): Promise<void> {
    const slot = { counted: true };
    const slow = setTimeout(() => {
      slot.counted = false;
      this.inFlight--;
      this.pump();
    }, this.options.slowGroupMs);
    let outcomes: GroupOutcome<R>[];
    try {
      outcomes = await this.runGroup(group.map((waiter) => waiter.item));
    } catch (error) {
      outcomes = group.map(() => ({ kind: "failed", error }));
    }
    clearTimeout(slow);
    group.forEach((waiter, index) => {
      for (const key of waiter.keys) this.held.delete(key);
      const outcome = outcomes[index];
      if (outcome === undefined) waiter.reject(new Error("coalescer: runGroup returned too few outcomes"));
      else if (outcome.kind === "done") waiter.resolve(outcome.value);
      else waiter.reject(outcome.error);
    });
    if (slot.counted) this.inFlight--;
    this.pump();
  }
}
