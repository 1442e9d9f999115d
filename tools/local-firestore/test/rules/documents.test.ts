import { compileRules } from "../../src/rules";
import { ask, doc, Store, user } from "./helpers";

const rules = compileRules(`rules_version = '2';
service cloud.firestore {
  match /databases/{database}/documents {
    function userDoc() { return /databases/$(database)/documents/users/$(request.auth.uid); }
    function isAdmin() { return get(userDoc()).data.role == 'admin'; }
    match /posts/{postId} {
      allow get: if isAdmin();
      allow update: if exists(/databases/$(database)/documents/members/$(request.auth.uid));
      allow create: if getAfter(/databases/$(database)/documents/counters/$(postId)).data.n == 1;
      allow delete: if !existsAfter(/databases/$(database)/documents/counters/$(postId));
    }
    match /many/{id} {
      allow get: if exists(/databases/$(database)/documents/a/$(id + '1'))
        || exists(/databases/$(database)/documents/a/$(id + '2'))
        || exists(/databases/$(database)/documents/a/$(id + '3'))
        || exists(/databases/$(database)/documents/a/$(id + '4'));
      allow list: if get(/databases/$(database)/documents/a/x).data.ok
        && get(/databases/$(database)/documents/a/x).data.ok;
    }
    match /bad/{id} {
      allow get: if exists(/databases/$(database)/documents/a);
      allow update: if exists(/databases/other/documents/a/b);
      allow delete: if exists('/databases/x/documents/a/b');
      allow create: if get(/databases/$(database)/documents/missing/doc).data.x == 1;
    }
  }
}`);

describe("get() and exists()", () => {
  const store = (): Store =>
    new Store({ "users/admin1": { role: "admin" }, "users/u2": { role: "user" }, "members/m1": {} });

  test("get() reads the document through the data-access callback", () => {
    const s = store();
    expect(ask(rules, { method: "get", path: "posts/p", auth: user("admin1"), store: s }).allowed).toBe(true);
    expect(s.reads).toEqual(["get:users/admin1"]);
    expect(ask(rules, { method: "get", path: "posts/p", auth: user("u2"), store: store() }).allowed).toBe(
      false,
    );
  });

  test("get() of a missing document is null, so reading .data errors", () => {
    const d = ask(rules, { method: "get", path: "posts/p", auth: user("nobody"), store: store() });
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain("Null value error");
  });

  test("exists()", () => {
    expect(
      ask(rules, {
        method: "update",
        path: "posts/p",
        auth: user("m1"),
        store: store(),
        existing: {},
        incoming: {},
      }).allowed,
    ).toBe(true);
    expect(
      ask(rules, {
        method: "update",
        path: "posts/p",
        auth: user("m2"),
        store: store(),
        existing: {},
        incoming: {},
      }).allowed,
    ).toBe(false);
  });

  test("getAfter() and existsAfter() see the state after the write", () => {
    const s = new Store({ "counters/p": { n: 0 } }, { "counters/p": { n: 1 } });
    expect(ask(rules, { method: "create", path: "posts/p", incoming: {}, store: s }).allowed).toBe(true);
    expect(s.reads).toEqual(["getAfter:counters/p"]);
    expect(
      ask(rules, {
        method: "create",
        path: "posts/p",
        incoming: {},
        store: new Store({ "counters/p": { n: 1 } }, { "counters/p": { n: 2 } }),
      }).allowed,
    ).toBe(false);
    expect(
      ask(rules, {
        method: "delete",
        path: "posts/p",
        existing: {},
        store: new Store({ "counters/p": {} }, { "counters/p": null }),
      }).allowed,
    ).toBe(true);
    expect(
      ask(rules, { method: "delete", path: "posts/p", existing: {}, store: new Store({ "counters/p": {} }) })
        .allowed,
    ).toBe(false);
  });

  test("invalid paths are errors", () => {
    expect(ask(rules, { method: "get", path: "bad/x" }).reason).toContain("must name a document");
    expect(ask(rules, { method: "update", path: "bad/x", existing: {}, incoming: {} }).reason).toContain(
      "cannot read database 'other'",
    );
    expect(ask(rules, { method: "delete", path: "bad/x", existing: {} }).reason).toContain("expects a path");
    expect(ask(rules, { method: "create", path: "bad/x", incoming: {} }).reason).toContain(
      "Null value error",
    );
  });
});

describe("document access limits", () => {
  test("repeated reads of the same document count once", () => {
    const s = new Store({ "a/x": { ok: true } });
    expect(ask(rules, { method: "list", path: "many", query: { filters: [] }, store: s }).allowed).toBe(true);
  });

  test("exceeding the limit denies the whole request", () => {
    const d = ask(rules, { method: "get", path: "many/k", maxDocAccess: 3, store: new Store() });
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain("document access limit exceeded: more than 3");
  });

  test("within the limit, every call is made", () => {
    const s = new Store({ "a/k4": {} });
    expect(ask(rules, { method: "get", path: "many/k", maxDocAccess: 4, store: s }).allowed).toBe(true);
    expect(s.reads).toHaveLength(4);
  });

  test("the default limit is 10; batched writes may pass 20", () => {
    const conds = Array.from(
      { length: 11 },
      (_, i) => `exists(/databases/$(database)/documents/a/d${i})`,
    ).join(" || ");
    const r = compileRules(`rules_version = '2';
service cloud.firestore { match /databases/{database}/documents { match /x/{id} { allow get: if ${conds}; } } }`);
    expect(ask(r, { method: "get", path: "x/1" }).reason).toContain("more than 10");
    expect(
      ask(r, { method: "get", path: "x/1", store: new Store({ "a/d10": {} }), maxDocAccess: 20 }).allowed,
    ).toBe(true);
  });
});

describe("a shared access log spans the writes of one batch", () => {
  test("distinct documents across evaluate() calls count towards one limit", () => {
    const r = compileRules(`rules_version = '2';
service cloud.firestore { match /databases/{database}/documents {
  match /x/{id} { allow create: if !exists(/databases/$(database)/documents/locks/$(id)); }
} }`);
    const accessLog = new Set<string>();
    const store = new Store();
    const write = (id: string) =>
      r.evaluate(
        {
          database: "(default)",
          path: `x/${id}`,
          method: "create",
          auth: null,
          time: new Date(0),
          newResource: doc(`x/${id}`, {}),
        },
        store,
        { maxDocAccess: 2, accessLog },
      );
    expect(write("a").allowed).toBe(true);
    expect(write("b").allowed).toBe(true);
    expect(write("a").allowed).toBe(true); // same document again: cached
    const third = write("c");
    expect(third.allowed).toBe(false);
    expect(third.reason).toContain("document access limit exceeded");
  });
});
