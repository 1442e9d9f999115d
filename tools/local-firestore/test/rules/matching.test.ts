import { compileRules } from "../../src/rules";
import { ask, cond, doc, Store, T0, user } from "./helpers";

describe("match blocks and wildcards", () => {
  const rules = compileRules(`rules_version = '2';
service cloud.firestore {
  match /databases/{database}/documents {
    match /users/{uid} {
      allow get: if request.auth.uid == uid && database == '(default)';
      match /private/{docId} {
        allow get: if request.auth.uid == uid && docId.size() > 2;
      }
    }
    match /public/{document=**} {
      allow get: if document == /p1 || document == /p1/sub/s1;
    }
    match /{prefix=**}/notes/{noteId} {
      allow get: if noteId == 'n1' && prefix[0] == 'x';
    }
    match /literal/exact {
      allow get;
    }
  }
}`);
  const get = (path: string, uid = "alice"): boolean =>
    ask(rules, { method: "get", path, auth: user(uid) }).allowed;

  test("single-segment wildcard binds the segment", () => {
    expect(get("users/alice")).toBe(true);
    expect(get("users/bob")).toBe(false);
  });

  test("nested match sees outer wildcards", () => {
    expect(get("users/alice/private/abc")).toBe(true);
    expect(get("users/alice/private/ab")).toBe(false);
    expect(get("users/bob/private/abc")).toBe(false);
  });

  test("a block does not apply to a deeper path it does not match", () => {
    expect(get("users/alice/other/abc")).toBe(false);
  });

  test("recursive wildcard binds a path of one or more documents (v2)", () => {
    expect(get("public/p1")).toBe(true);
    expect(get("public/p1/sub/s1")).toBe(true);
    expect(get("public/p2")).toBe(false);
    expect(get("public/p1/sub/s2")).toBe(false);
  });

  test("recursive wildcard in the middle matches any depth", () => {
    expect(get("x/1/notes/n1")).toBe(true);
    expect(get("x/1/y/2/notes/n1")).toBe(true);
    expect(get("x/1/notes/n2")).toBe(false);
    expect(get("z/1/notes/n1")).toBe(false);
  });

  test("literal segments match exactly", () => {
    expect(get("literal/exact")).toBe(true);
    expect(get("literal/other")).toBe(false);
  });

  test("no matching block denies by default", () => {
    const d = ask(rules, { method: "get", path: "nothing/here", auth: user("alice") });
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain("no allow statement matches get on /nothing/here");
  });
});

describe("recursive wildcard semantics", () => {
  test("v2: {rest=**} matches zero or more segments and binds a path", () => {
    const rules = compileRules(`rules_version = '2';
service cloud.firestore {
  match /databases/{database}/documents {
    match /docs/{d}/{rest=**} {
      allow get: if rest == /sub/s1;
      allow update: if !(rest == /other/o);
    }
  }
}`);
    expect(ask(rules, { method: "get", path: "docs/d1/sub/s1" }).allowed).toBe(true);
    expect(ask(rules, { method: "get", path: "docs/d1/sub/s2" }).allowed).toBe(false);
    expect(ask(rules, { method: "update", path: "docs/d1", existing: {}, incoming: {} }).allowed).toBe(true);
    expect(
      ask(rules, { method: "update", path: "docs/d1/other/o", existing: {}, incoming: {} }).allowed,
    ).toBe(false);
  });

  test("v1: {rest=**} matches one or more segments and binds a string", () => {
    const rules = compileRules(`service cloud.firestore {
  match /databases/{database}/documents {
    match /docs/{rest=**} {
      allow get: if rest == 'd1/sub/s1';
    }
  }
}`);
    expect(ask(rules, { method: "get", path: "docs/d1/sub/s1" }).allowed).toBe(true);
    expect(ask(rules, { method: "get", path: "docs/d1" }).allowed).toBe(false);
  });

  test("catch-all {document=**} applies to every document", () => {
    const rules = compileRules(`rules_version = '2';
service cloud.firestore {
  match /databases/{database}/documents {
    match /{document=**} { allow read: if request.auth != null; }
  }
}`);
    expect(ask(rules, { method: "get", path: "a/b/c/d", auth: user("u") }).allowed).toBe(true);
    expect(ask(rules, { method: "get", path: "a/b", auth: null }).allowed).toBe(false);
  });
});

describe("allow methods", () => {
  const rules = compileRules(`rules_version = '2';
service cloud.firestore {
  match /databases/{database}/documents {
    match /r/{id} { allow read; }
    match /w/{id} { allow write; }
    match /g/{id} { allow get; }
    match /l/{id} { allow list; }
    match /c/{id} { allow create; }
    match /u/{id} { allow update: if true; }
    match /d/{id} { allow delete: if true; }
    match /m/{id} { allow get: if request.method == 'get'; allow create, delete: if request.method in ['create', 'delete']; }
  }
}`);
  const methods = ["get", "list", "create", "update", "delete"] as const;
  const expected: Record<string, string[]> = {
    r: ["get", "list"],
    w: ["create", "update", "delete"],
    g: ["get"],
    l: ["list"],
    c: ["create"],
    u: ["update"],
    d: ["delete"],
    m: ["get", "create", "delete"],
  };
  for (const [col, allowed] of Object.entries(expected)) {
    for (const method of methods) {
      const ok = allowed.includes(method);
      test(`${method} on /${col} is ${ok ? "allowed" : "denied"}`, () => {
        const path = method === "list" ? col : `${col}/x`;
        expect(ask(rules, { method, path, existing: {}, incoming: {}, query: { filters: [] } }).allowed).toBe(
          ok,
        );
      });
    }
  }
});

describe("functions and scoping", () => {
  const rules = compileRules(`rules_version = '2';
service cloud.firestore {
  function signedIn() { return request.auth != null; }
  function chain1(x) { return chain2(x) + 1; }
  function chain2(x) { return x * 2; }
  match /databases/{database}/documents {
    function isOwner(uid) {
      let me = request.auth.uid;
      let same = me == uid;
      return signedIn() && same;
    }
    function dbName() { return database; }
    match /users/{uid} {
      function ownsThis() { return isOwner(uid); }
      allow get: if ownsThis() && dbName() == '(default)';
      allow update: if chain1(3) == 7 && isOwner(resource.data.owner);
      allow create: if shadow('param');
      function shadow(uid) { return uid == 'param'; }
      allow delete: if lazyLet();
      function lazyLet() { let boom = resource.data.missing; return true; }
    }
  }
}`);

  test("functions see wildcards and request of their defining scope", () => {
    expect(ask(rules, { method: "get", path: "users/alice", auth: user("alice") }).allowed).toBe(true);
    expect(ask(rules, { method: "get", path: "users/alice", auth: user("bob") }).allowed).toBe(false);
    expect(ask(rules, { method: "get", path: "users/alice", auth: null }).allowed).toBe(false);
  });

  test("service-level functions and argument passing", () => {
    expect(
      ask(rules, {
        method: "update",
        path: "users/u",
        auth: user("alice"),
        existing: { owner: "alice" },
        incoming: {},
      }).allowed,
    ).toBe(true);
    expect(
      ask(rules, {
        method: "update",
        path: "users/u",
        auth: user("alice"),
        existing: { owner: "bob" },
        incoming: {},
      }).allowed,
    ).toBe(false);
  });

  test("an erroring argument only errors where it is used", () => {
    const d = ask(rules, { method: "update", path: "users/u", auth: null, existing: {}, incoming: {} });
    expect(d.allowed).toBe(false);
  });

  test("parameters shadow wildcards", () => {
    expect(ask(rules, { method: "create", path: "users/other", auth: user("x"), incoming: {} }).allowed).toBe(
      true,
    );
  });

  test("unused let bindings are not evaluated", () => {
    expect(ask(rules, { method: "delete", path: "users/x", existing: { a: 1 } }).allowed).toBe(true);
  });

  test("call depth is limited to 20", () => {
    const fns = Array.from(
      { length: 22 },
      (_, i) => `function f${i}() { return ${i === 21 ? "true" : `f${i + 1}()`}; }`,
    );
    const deep = compileRules(`rules_version = '2';
service cloud.firestore {
  ${fns.join("\n  ")}
  match /databases/{database}/documents {
    match /a/{id} { allow get: if f0(); allow list: if f2(); }
  }
}`);
    const d = ask(deep, { method: "get", path: "a/x" });
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain("call depth limit (20)");
    expect(ask(deep, { method: "list", path: "a", query: { filters: [] } }).allowed).toBe(true);
  });
});

describe("request and resource", () => {
  test("request.auth.token claims and sign-in provider", () => {
    const admin = user("a", { admin: true, email: "a@x.com", email_verified: true });
    expect(cond("request.auth.token.admin == true", { auth: admin }).allowed).toBe(true);
    expect(cond("request.auth.token.admin == true", { auth: user("b") }).allowed).toBe(false);
    expect(
      cond("request.auth.token.email.matches('.*@x[.]com') && request.auth.token.email_verified", {
        auth: admin,
      }).allowed,
    ).toBe(true);
    expect(
      cond("request.auth.token.firebase.sign_in_provider == 'password'", { auth: user("u") }).allowed,
    ).toBe(true);
    expect(
      cond("request.auth.token.firebase.sign_in_provider == 'anonymous'", { auth: user("u") }).allowed,
    ).toBe(false);
  });

  test("request.path, request.time and request.method", () => {
    expect(cond("request.path == /databases/$(database)/documents/t/$(id)").allowed).toBe(true);
    expect(cond("request.path == /databases/$(database)/documents/t/other").allowed).toBe(false);
    expect(cond("request.time == timestamp.value(" + String(T0.getTime()) + ")").allowed).toBe(true);
    expect(cond("request.time < timestamp.date(2024, 1, 1)").allowed).toBe(false);
    expect(cond("request.method == 'get'").allowed).toBe(true);
    expect(cond("request.method == 'list'").allowed).toBe(false);
  });

  test("resource id, __name__ and null for missing documents", () => {
    expect(
      cond("resource.id == 'doc1' && resource.__name__ == /databases/$(database)/documents/t/doc1", {
        existing: {},
      }).allowed,
    ).toBe(true);
    expect(cond("resource.id == 'doc2'", { existing: {} }).allowed).toBe(false);
    expect(cond("resource == null").allowed).toBe(true);
    expect(cond("resource != null").allowed).toBe(false);
  });

  test("request.resource on create and update", () => {
    const rules = compileRules(`rules_version = '2';
service cloud.firestore {
  match /databases/{database}/documents {
    match /t/{id} {
      allow create: if resource == null && request.resource.id == id && request.resource.data.n is int;
      allow update: if request.resource.data.diff(resource.data).affectedKeys().hasOnly(['n'])
        && request.resource.data.n > resource.data.n;
      allow delete: if request.resource == null;
    }
  }
}`);
    expect(ask(rules, { method: "create", path: "t/a", incoming: { n: 1 } }).allowed).toBe(true);
    expect(ask(rules, { method: "create", path: "t/a", incoming: { n: "1" } }).allowed).toBe(false);
    expect(
      ask(rules, { method: "update", path: "t/a", existing: { n: 1, o: 1 }, incoming: { n: 2, o: 1 } })
        .allowed,
    ).toBe(true);
    expect(
      ask(rules, { method: "update", path: "t/a", existing: { n: 1, o: 1 }, incoming: { n: 2, o: 2 } })
        .allowed,
    ).toBe(false);
    expect(
      ask(rules, { method: "update", path: "t/a", existing: { n: 1 }, incoming: { n: 0 } }).allowed,
    ).toBe(false);
    expect(ask(rules, { method: "delete", path: "t/a", existing: { n: 1 } }).allowed).toBe(true);
  });

  test("field value types from documents", () => {
    const store = new Store();
    const existing = {
      i: 1,
      f: 1.5,
      s: "x",
      b: true,
      n: null,
      ts: new Date("2020-01-01T00:00:00Z"),
      ref: { __ref: "projects/demo-rules/databases/(default)/documents/users/u1" },
      geo: { __geo: [1, 2] },
      bytes: new Uint8Array([1, 2]),
      arr: [1, "a"],
      map: { k: "v" },
    };
    const checks = [
      "resource.data.i is int",
      "resource.data.f is float",
      "resource.data.s is string",
      "resource.data.b is bool",
      "resource.data.n == null",
      "resource.data.ts == timestamp.date(2020, 1, 1)",
      "resource.data.ref == /databases/$(database)/documents/users/u1",
      "resource.data.geo.latitude() == 1",
      "resource.data.bytes.size() == 2",
      "resource.data.arr == [1, 'a']",
      "resource.data.map.k == 'v'",
    ];
    for (const c of checks) expect([c, cond(c, { existing, store }).allowed]).toEqual([c, true]);
    expect(doc("t/x", {}).name).toContain("t/x");
  });
});
