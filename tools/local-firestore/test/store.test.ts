import { Store } from "../src/store";
import type { StoredDocument, Ts } from "../src/types";

const ROOT = "projects/demo-test/databases/(default)/documents";
const OTHER = "projects/demo-other/databases/(default)/documents";

function doc(name: string, time: Ts): StoredDocument {
  return { name, fields: {}, createTime: time, updateTime: time };
}

function write(store: Store, ...names: string[]): Ts {
  const time = store.nextTime();
  store.apply(new Map(names.map((n) => [n, doc(n, time)])), time);
  return time;
}

function remove(store: Store, name: string): Ts {
  const time = store.nextTime();
  store.apply(new Map([[name, undefined]]), time);
  return time;
}

const names = (docs: Iterable<StoredDocument>): string[] => [...docs].map((d) => d.name).sort();

describe("Store.inCollection (the documents a query on one collection id is run over)", () => {
  test("holds the documents whose parent collection has that id, at any depth and in any project", () => {
    const store = new Store();
    write(
      store,
      `${ROOT}/users/u1`,
      `${ROOT}/users/u1/courses/c1`,
      `${ROOT}/users/u2/courses/c2`,
      `${ROOT}/users/u1/courses/c1/ledger/pi_1`,
      `${ROOT}/courses/c9`,
      `${OTHER}/users/u3/courses/c3`,
    );
    expect(names(store.inCollection("courses"))).toEqual([
      `${OTHER}/users/u3/courses/c3`,
      `${ROOT}/courses/c9`,
      `${ROOT}/users/u1/courses/c1`,
      `${ROOT}/users/u2/courses/c2`,
    ]);
    expect(names(store.inCollection("ledger"))).toEqual([`${ROOT}/users/u1/courses/c1/ledger/pi_1`]);
    expect(names(store.inCollection("nothing"))).toEqual([]);
    // no collection id: every document, as all()
    expect(names(store.inCollection(undefined))).toEqual(names(store.all()));
  });

  test("a deleted document is gone now and still there at a read time before its deletion", () => {
    const store = new Store();
    const before = write(store, `${ROOT}/parked/e1`, `${ROOT}/parked/e2`);
    remove(store, `${ROOT}/parked/e1`);
    expect(names(store.inCollection("parked"))).toEqual([`${ROOT}/parked/e2`]);
    expect(names(store.inCollection("parked", before))).toEqual([`${ROOT}/parked/e1`, `${ROOT}/parked/e2`]);
    // created again after the deletion: one entry, the new version
    write(store, `${ROOT}/parked/e1`);
    expect(names(store.inCollection("parked"))).toEqual([`${ROOT}/parked/e1`, `${ROOT}/parked/e2`]);
  });

  test("clearing one project keeps the other's documents findable; clearing all empties it; load indexes", () => {
    const store = new Store();
    write(store, `${ROOT}/users/u1`, `${OTHER}/users/u2`);
    store.clear(ROOT);
    expect(names(store.inCollection("users"))).toEqual([`${OTHER}/users/u2`]);
    store.clear();
    expect(names(store.inCollection("users"))).toEqual([]);
    const time = store.nextTime();
    store.load([doc(`${ROOT}/users/u5`, time), doc(`${ROOT}/users/u5/quizResults/q1`, time)]);
    expect(names(store.inCollection("quizResults"))).toEqual([`${ROOT}/users/u5/quizResults/q1`]);
    expect(names(store.inCollection("users"))).toEqual([`${ROOT}/users/u5`]);
  });
});
