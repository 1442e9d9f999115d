/** Small helpers of the chaos run: timeouts, bounded concurrency, reads that ride out injected faults. */
import { WorkPool } from "../shared/pool";
import type { Stack } from "../shared/stack";

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export const TIMED_OUT = Symbol("timed out");

export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<typeof TIMED_OUT>((resolve) => {
        timer = setTimeout(() => {
          resolve(TIMED_OUT);
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function runAll<T>(
  concurrency: number,
  items: readonly T[],
  fn: (item: T) => Promise<void>,
): Promise<void> {
  const pool = new WorkPool(concurrency);
  for (const item of items) pool.add(() => fn(item));
  await pool.drain();
}

/** Runs a Firestore call, retrying transient failures (faults are on while the simulation reads and writes). */
async function retried<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= 20) throw error;
      await sleep(20);
    }
  }
}

/** Reads one document. */
export async function readDoc(stack: Stack, path: string): Promise<Record<string, unknown> | undefined> {
  return retried(async () => (await stack.db.doc(path).get()).data());
}

/** Creates or replaces one document. */
export async function setDoc(stack: Stack, path: string, data: Record<string, unknown>): Promise<void> {
  await retried(() => stack.db.doc(path).set(data));
}

/** Updates one document. */
export async function updateDoc(stack: Stack, path: string, data: Record<string, unknown>): Promise<void> {
  await retried(() => stack.db.doc(path).update(data));
}

/** A stored or event field read as a string ("" when it is not one). */
export function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** A stored or event field read as a number (0 when it is not one). */
export function num(value: unknown): number {
  return typeof value === "number" ? value : 0;
}
