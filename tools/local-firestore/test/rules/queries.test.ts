import { compileRules, type RulesQuery, type RulesQueryFilter } from "../../src/rules";
import { ask, Store, user, val } from "./helpers";

const rules = compileRules(`rules_version = '2';
service cloud.firestore {
  match /databases/{database}/documents {
    match /users/{uid}/courses/{courseId} {
      allow list: if request.auth != null && request.auth.uid == uid;
    }
    match /orders/{orderId} {
      allow list: if request.auth != null && resource.data.owner == request.auth.uid;
    }
    match /courses/{courseId} {
      allow list: if resource.data.published == true;
      allow list: if request.auth.token.admin == true;
    }
    match /posts/{postId} {
      allow list: if request.query.limit <= 10 && request.query.offset == null;
    }
    match /{path=**}/reviews/{reviewId} {
      allow list: if resource.data.author == request.auth.uid;
    }
    match /shared/{id} {
      allow list: if request.auth.uid in resource.data.members;
    }
    match /nested/{id} {
      allow list: if resource.data.meta.owner == request.auth.uid && resource.data.meta.keys().size() > 0;
      allow list: if resource.data.meta.owner == request.auth.uid && resource.data.kind == 'open';
    }
    match /byId/{id} {
      allow list: if id == 'x';
      allow get: if id == 'x';
    }
    match /named/{id} {
      allow list: if resource.id == 'n1';
    }
    match /everyone/{id} {
      allow read: if true;
    }
  }
}`);

const eq = (fieldPath: string, value: unknown): RulesQueryFilter => ({
  fieldPath,
  op: "==",
  value: val(value),
});
const q = (...filters: RulesQueryFilter[]): RulesQuery => ({ filters });
const list = (
  path: string,
  query: RulesQuery,
  uid: string | null = "alice",
  claims: Record<string, unknown> = {},
) => ask(rules, { method: "list", path, query, auth: uid === null ? null : user(uid, claims) });

describe("rules are not filters: equality constraints", () => {
  test("a query constrained to the caller's uid is allowed", () => {
    expect(list("orders", q(eq("owner", "alice"))).allowed).toBe(true);
  });

  test("a query constrained to another uid is denied", () => {
    expect(list("orders", q(eq("owner", "bob"))).allowed).toBe(false);
  });

  test("an unconstrained query is denied, with a reason", () => {
    const d = list("orders", q());
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain("rules are not filters: the query does not constrain resource.data.owner");
  });

  test("a constraint on another field does not help", () => {
    expect(list("orders", q(eq("status", "paid"))).allowed).toBe(false);
  });

  test("an inequality constraint does not pin the value", () => {
    expect(list("orders", q({ fieldPath: "owner", op: ">=", value: val("alice") })).allowed).toBe(false);
    expect(list("orders", q({ fieldPath: "owner", op: "NOT_EQUAL", value: val("bob") })).allowed).toBe(false);
  });

  test("enum-style operator names are accepted", () => {
    expect(list("orders", q({ fieldPath: "owner", op: "EQUAL", value: val("alice") })).allowed).toBe(true);
  });

  test("signed-out callers are denied", () => {
    expect(list("orders", q(eq("owner", "alice")), null).allowed).toBe(false);
  });

  test("'in' is allowed only when every value is allowed", () => {
    expect(list("orders", q({ fieldPath: "owner", op: "in", value: val(["alice"]) })).allowed).toBe(true);
    expect(list("orders", q({ fieldPath: "owner", op: "in", value: val(["alice", "bob"]) })).allowed).toBe(
      false,
    );
  });

  test("boolean equality, and a second allow that does not read resource", () => {
    expect(list("courses", q(eq("published", true))).allowed).toBe(true);
    expect(list("courses", q(eq("published", false))).allowed).toBe(false);
    expect(list("courses", q()).allowed).toBe(false);
    expect(list("courses", q(), "root", { admin: true }).allowed).toBe(true);
  });

  test("nested field paths", () => {
    expect(list("nested", q(eq("meta.owner", "alice"), eq("kind", "open"))).allowed).toBe(true);
    expect(list("nested", q(eq("meta.owner", "alice"))).allowed).toBe(false);
    expect(list("nested", q(eq("`meta`.`owner`", "alice"), eq("kind", "open"))).allowed).toBe(true);
    expect(list("nested", q(eq("meta", { owner: "alice", x: 1 }))).allowed).toBe(true);
    expect(list("nested", q(eq("meta", { owner: "bob" }))).allowed).toBe(false);
  });

  test("array-contains constraints prove membership", () => {
    expect(
      list("shared", q({ fieldPath: "members", op: "array-contains", value: val("alice") })).allowed,
    ).toBe(true);
    expect(list("shared", q({ fieldPath: "members", op: "array-contains", value: val("bob") })).allowed).toBe(
      false,
    );
    expect(list("shared", q()).allowed).toBe(false);
    expect(
      list("shared", q({ fieldPath: "members", op: "array-contains-any", value: val(["alice", "bob"]) }))
        .allowed,
    ).toBe(false);
    expect(
      list("shared", q({ fieldPath: "members", op: "array-contains-any", value: val(["alice"]) })).allowed,
    ).toBe(true);
  });
});

describe("path-based list rules", () => {
  test("the parent wildcard is bound from the collection path", () => {
    expect(list("users/alice/courses", q()).allowed).toBe(true);
    expect(list("users/bob/courses", q()).allowed).toBe(false);
  });

  test("the document id of a listed document is unknown", () => {
    const d = list("byId", q());
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain("wildcard 'id'");
    expect(ask(rules, { method: "get", path: "byId/x" }).allowed).toBe(true);
  });

  test("resource.id is known only through a __name__ equality", () => {
    const name = (id: string): RulesQueryFilter => ({
      fieldPath: "__name__",
      op: "==",
      value: { referenceValue: `projects/demo-rules/databases/(default)/documents/named/${id}` },
    });
    expect(list("named", q(name("n1"))).allowed).toBe(true);
    expect(list("named", q(name("n2"))).allowed).toBe(false);
    expect(list("named", q()).allowed).toBe(false);
  });

  test("allow read covers list", () => {
    expect(list("everyone", q()).allowed).toBe(true);
  });
});

describe("request.query", () => {
  test("limit and offset", () => {
    expect(list("posts", { filters: [], limit: 5 }).allowed).toBe(true);
    expect(list("posts", { filters: [], limit: 20 }).allowed).toBe(false);
    expect(list("posts", { filters: [] }).allowed).toBe(false);
    expect(list("posts", { filters: [], limit: 5, offset: 1 }).allowed).toBe(false);
  });
});

describe("collection-group queries", () => {
  const group = (...filters: RulesQueryFilter[]): RulesQuery => ({ collectionGroup: true, filters });

  test("match through a {path=**} wildcard, constrained to the caller", () => {
    expect(list("reviews", group(eq("author", "alice"))).allowed).toBe(true);
    expect(list("reviews", group(eq("author", "bob"))).allowed).toBe(false);
    expect(list("reviews", group()).allowed).toBe(false);
  });

  test("a collection group under a parent document", () => {
    expect(list("users/alice/reviews", group(eq("author", "alice"))).allowed).toBe(true);
  });

  test("rules without a recursive wildcard do not apply to collection-group queries", () => {
    const d = list("courses", group(), "alice");
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain("no allow statement matches list on /courses (collection group)");
    // the same collection id queried directly is governed by match /courses/{courseId}
    expect(list("courses", q(eq("published", true))).allowed).toBe(true);
  });

  test("the recursive wildcard of a collection-group query is unknown", () => {
    const r = compileRules(`rules_version = '2';
service cloud.firestore { match /databases/{database}/documents {
  match /{path=**}/items/{id} { allow list: if path == /a/b; }
  match /{document=**} { allow list: if request.auth.uid == 'root'; }
} }`);
    expect(ask(r, { method: "list", path: "items", query: group(), auth: user("x") }).allowed).toBe(false);
    expect(ask(r, { method: "list", path: "items", query: group(), auth: user("root") }).allowed).toBe(true);
    expect(ask(r, { method: "list", path: "a/b/items", query: q(), auth: user("x") }).allowed).toBe(true);
  });
});

describe("more list judging", () => {
  const r = compileRules(`rules_version = '2';
service cloud.firestore {
  match /databases/{database}/documents {
    function owns(data) { return data.owner == request.auth.uid; }
    match /a/{id} {
      allow list: if resource.data.get('visibility', 'private') == 'public';
    }
    match /b/{id} {
      allow list: if owns(resource.data);
    }
    match /c/{id} {
      allow list: if request.query.orderBy.createdAt == 'DESC';
    }
    match /d/{id} {
      allow list: if get(/databases/$(database)/documents/teams/$(resource.data.team)).data.members.hasAny([request.auth.uid]);
    }
  }
}`);
  const run = (path: string, query: RulesQuery, uid = "alice") =>
    ask(r, {
      method: "list",
      path,
      query,
      auth: user(uid),
      store: new Store({ "teams/t1": { members: ["alice"] } }),
    });

  test("map.get() on a constrained field", () => {
    expect(run("a", q(eq("visibility", "public"))).allowed).toBe(true);
    expect(run("a", q()).allowed).toBe(false);
  });

  test("resource.data passed into a function", () => {
    expect(run("b", q(eq("owner", "alice"))).allowed).toBe(true);
    expect(run("b", q(eq("owner", "bob"))).allowed).toBe(false);
  });

  test("request.query.orderBy", () => {
    expect(
      run("c", { filters: [], orderBy: [{ fieldPath: "createdAt", direction: "DESCENDING" }] }).allowed,
    ).toBe(true);
    expect(run("c", { filters: [], orderBy: [{ fieldPath: "createdAt" }] }).allowed).toBe(false);
    expect(run("c", { filters: [] }).allowed).toBe(false);
  });

  test("get() with a path built from a constrained field", () => {
    expect(run("d", q(eq("team", "t1"))).allowed).toBe(true);
    expect(run("d", q(eq("team", "t1")), "bob").allowed).toBe(false);
    expect(run("d", q()).allowed).toBe(false);
  });
});
