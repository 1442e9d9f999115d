/**
 * A bounded-concurrency work pool: tasks run in the order added, at most `concurrency` at a time; a task may
 * schedule more work now (`add`) or later (`addLater`, e.g. a provider's redelivery after a 5xx) without
 * holding a slot while it waits, and leave work running in the background (`track`). `drain()` resolves when
 * nothing is queued, running, scheduled or tracked.
 */
export type Task = () => Promise<void>;

export class WorkPool {
  private readonly queue: Task[] = [];
  private running = 0;
  private scheduled = 0;
  private waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private failure: { error: unknown } | undefined;

  constructor(private readonly concurrency: number) {
    if (!(concurrency >= 1)) throw new Error("concurrency must be >= 1");
  }

  add(task: Task): void {
    this.queue.push(task);
    this.pump();
  }

  addLater(delayMs: number, task: Task): void {
    this.scheduled++;
    setTimeout(() => {
      this.scheduled--;
      this.add(task);
      this.settle();
    }, delayMs);
  }

  /**
   * Keeps the pool busy (not drained) until `promise` settles, without holding a slot: work a task left
   * running in the background (e.g. a webhook invocation the provider stopped waiting for).
   */
  track(promise: Promise<unknown>): void {
    this.scheduled++;
    promise
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => {
        this.scheduled--;
        this.settle();
      });
  }

  get busy(): boolean {
    return this.running > 0 || this.queue.length > 0 || this.scheduled > 0;
  }

  /** Resolves when idle; rejects with the first error a task threw (tasks should handle their own). */
  drain(): Promise<void> {
    if (!this.busy) return this.failure ? Promise.reject(asError(this.failure.error)) : Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private pump(): void {
    while (this.running < this.concurrency) {
      const task = this.queue.shift();
      if (task === undefined) break;
      this.running++;
      task()
        .catch((error: unknown) => {
          this.failure ??= { error };
        })
        .finally(() => {
          this.running--;
          this.pump();
          this.settle();
        });
    }
  }

  private settle(): void {
    if (this.busy) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) {
      if (this.failure) w.reject(asError(this.failure.error));
      else w.resolve();
    }
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
