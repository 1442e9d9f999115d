import { Coalescer, type CoalescerOptions, type GroupOutcome } from "../../src/services/firestore/coalescer";

interface Item {
  id: string;
  keys?: string[];
  weight?: number;
  fail?: boolean;
}

/** A coalescer whose groups wait until released, recording what ran together. */
function harness(options: Partial<CoalescerOptions<Item>> = {}) {
  const groups: string[][] = [];
  const releases: (() => void)[] = [];
  let throwNext = false;
  const coalescer = new Coalescer<Item, string>(
    async (items): Promise<GroupOutcome<string>[]> => {
      groups.push(items.map((i) => i.id));
      await new Promise<void>((resolve) => releases.push(resolve));
      if (throwNext) {
        throwNext = false;
        throw new Error("group failed");
      }
      return items.map((i) =>
        i.fail === true
          ? { kind: "failed", error: new Error(`no ${i.id}`) }
          : { kind: "done", value: `ok ${i.id}` },
      );
    },
    {
      maxInFlight: 1,
      slowGroupMs: 60_000,
      maxWeight: 100,
      weight: (i) => i.weight ?? 1,
      keys: (i) => i.keys ?? [i.id],
      ...options,
    },
  );
  const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  const releaseOne = async (): Promise<void> => {
    await tick();
    releases.shift()?.();
    await tick();
  };
  return {
    coalescer,
    groups,
    releaseOne,
    tick,
    throwNextGroup: () => {
      throwNext = true;
    },
  };
}

describe("Coalescer", () => {
  it("runs a lone item at once, alone", async () => {
    const h = harness();
    const result = h.coalescer.submit({ id: "a" });
    await h.tick();
    expect(h.groups).toEqual([["a"]]);
    await h.releaseOne();
    await expect(result).resolves.toBe("ok a");
  });

  it("groups the items that arrive while a group runs, in order, and answers each with its own outcome", async () => {
    const h = harness();
    const a = h.coalescer.submit({ id: "a" });
    const rest = ["b", "c", "d"].map((id) => h.coalescer.submit({ id, fail: id === "c" }));
    await h.tick();
    expect(h.groups).toEqual([["a"]]);
    await h.releaseOne();
    expect(h.groups).toEqual([["a"], ["b", "c", "d"]]);
    const settled = Promise.allSettled([a, ...rest]);
    await h.releaseOne();
    expect((await settled).map((s) => (s.status === "fulfilled" ? s.value : String(s.reason)))).toEqual([
      "ok a",
      "ok b",
      "Error: no c",
      "ok d",
    ]);
  });

  it("never runs two items sharing a key at once: the second copy waits for the first, others overtake it", async () => {
    const h = harness({ maxInFlight: 2 });
    const first = h.coalescer.submit({ id: "copy1", keys: ["evt_1"] });
    await h.tick();
    const second = h.coalescer.submit({ id: "copy2", keys: ["evt_1"] });
    const other = h.coalescer.submit({ id: "other", keys: ["evt_2"] });
    await h.tick();
    // A slot is free, yet copy2 does not run beside copy1; "other" overtakes it.
    expect(h.groups).toEqual([["copy1"], ["other"]]);
    await h.releaseOne();
    expect(h.groups).toEqual([["copy1"], ["other"], ["copy2"]]);
    await h.releaseOne();
    await h.releaseOne();
    await expect(Promise.all([first, second, other])).resolves.toEqual(["ok copy1", "ok copy2", "ok other"]);
  });

  it("never puts two items sharing a key in one group", async () => {
    const h = harness();
    const blocker = h.coalescer.submit({ id: "blocker" });
    const items = ["x1", "y", "x2"].map((id) => h.coalescer.submit({ id, keys: [id.slice(0, 1)] }));
    await h.releaseOne();
    expect(h.groups).toEqual([["blocker"], ["x1", "y"]]);
    await h.releaseOne();
    expect(h.groups.at(-1)).toEqual(["x2"]);
    await h.releaseOne();
    await expect(Promise.all([blocker, ...items])).resolves.toHaveLength(4);
  });

  it("stops a group at maxWeight; an item heavier than that still runs, alone", async () => {
    const h = harness({ maxWeight: 10 });
    const blocker = h.coalescer.submit({ id: "blocker" });
    const items = [
      { id: "a", weight: 6 },
      { id: "b", weight: 6 },
      { id: "c", weight: 4 },
      { id: "huge", weight: 50 },
    ].map((item) => h.coalescer.submit(item));
    await h.releaseOne();
    // b does not fit beside a; c does (queue order with overtaking).
    expect(h.groups.at(-1)).toEqual(["a", "c"]);
    await h.releaseOne();
    expect(h.groups.at(-1)).toEqual(["b"]);
    await h.releaseOne();
    expect(h.groups.at(-1)).toEqual(["huge"]);
    await h.releaseOne();
    await expect(Promise.all([blocker, ...items])).resolves.toHaveLength(5);
  });

  it("a group that throws fails each of its items, and the next group still runs", async () => {
    const h = harness();
    const blocker = h.coalescer.submit({ id: "blocker" });
    const failing = ["a", "b"].map((id) => h.coalescer.submit({ id }));
    const failed = Promise.allSettled(failing);
    await h.releaseOne();
    h.throwNextGroup();
    const later = h.coalescer.submit({ id: "later" });
    await h.releaseOne();
    expect((await failed).map((s) => (s.status === "rejected" ? String(s.reason) : s.value))).toEqual([
      "Error: group failed",
      "Error: group failed",
    ]);
    await h.releaseOne();
    await expect(later).resolves.toBe("ok later");
    await expect(blocker).resolves.toBe("ok blocker");
  });

  it("a group slower than slowGroupMs frees its slot for the next group", async () => {
    jest.useFakeTimers();
    try {
      const h = harness({ slowGroupMs: 50 });
      const slow = h.coalescer.submit({ id: "slow" });
      const next = h.coalescer.submit({ id: "next" });
      await Promise.resolve();
      expect(h.groups).toEqual([["slow"]]);
      jest.advanceTimersByTime(49);
      expect(h.groups).toEqual([["slow"]]);
      jest.advanceTimersByTime(1);
      expect(h.groups).toEqual([["slow"], ["next"]]);
      jest.useRealTimers();
      await h.releaseOne();
      await h.releaseOne();
      await expect(Promise.all([slow, next])).resolves.toEqual(["ok slow", "ok next"]);
    } finally {
      jest.useRealTimers();
    }
  });
});
