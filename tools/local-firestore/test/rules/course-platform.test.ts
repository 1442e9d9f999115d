import { compileRules, type CompiledRules, type RulesAuth, type RulesQuery } from "../../src/rules";
import { ask, T0, user, val, type Ask } from "./helpers";

/**
 * A FIXTURE for exercising the engine on a realistic file: the rules of a course platform
 * (profiles, enrollments, a course catalogue and a payments ledger). It is not the project's
 * firestore.rules, which is tested as a matrix in tools/rules-tests.
 */
export const COURSE_RULES = `rules_version = '2';
service cloud.firestore {
  match /databases/{database}/documents {
    function signedIn() { return request.auth != null; }
    function isAdmin() { return signedIn() && request.auth.token.get('admin', false) == true; }
    function isSelf(uid) { return signedIn() && request.auth.uid == uid; }
    function changesOnly(keys) {
      return request.resource.data.diff(resource.data).affectedKeys().hasOnly(keys);
    }
    function validProfile(data) {
      return data.displayName is string
        && data.displayName.size() > 0
        && data.displayName.size() <= 80;
    }

    match /users/{uid} {
      allow get: if isSelf(uid) || isAdmin();
      allow list: if isAdmin();
      allow create: if isSelf(uid)
        && request.resource.data.keys().hasOnly(['displayName', 'createdAt'])
        && validProfile(request.resource.data)
        && request.resource.data.createdAt == request.time;
      allow update: if isSelf(uid) && changesOnly(['displayName']) && validProfile(request.resource.data);
      allow delete: if false;

      // Enrollments are granted by the backend after payment; clients only read them.
      match /courses/{courseId} {
        allow read: if isSelf(uid) || isAdmin();
        allow write: if false;
      }
    }

    match /courses/{courseId} {
      function validCourse(data) {
        return data.keys().hasAll(['title', 'priceCents', 'currency', 'published'])
          && data.priceCents is int && data.priceCents >= 0
          && data.currency in ['eur', 'usd', 'chf']
          && data.published is bool;
      }
      allow read: if resource.data.published == true || isAdmin();
      allow create, update: if isAdmin() && validCourse(request.resource.data);
      allow delete: if isAdmin();
    }

    // The ledger: written only by the backend (Admin SDK bypasses rules).
    match /payments/{paymentId} {
      allow read: if signedIn() && (resource.data.uid == request.auth.uid || isAdmin());
      allow write: if false;
    }
  }
}`;

const PERMISSIVE_RULES = `rules_version = '2';
service cloud.firestore {
  match /databases/{database}/documents {
    match /{document=**} { allow read, write: if request.auth != null; }
  }
}`;

type Role = "anonymous" | "other" | "owner" | "admin";
type Op = "get" | "list" | "create" | "update" | "delete";

const ROLES: Record<Role, RulesAuth | null> = {
  anonymous: null,
  other: user("bob"),
  owner: user("alice"),
  admin: user("root", { admin: true }),
};

const eq = (fieldPath: string, value: unknown): RulesQuery => ({
  filters: [{ fieldPath, op: "==", value: val(value) }],
});

interface Case {
  path: string;
  collection: string;
  existing: Record<string, unknown>;
  incoming: Record<string, unknown>;
  updated: Record<string, unknown>;
  query: RulesQuery;
  expect: Record<Op, Role[]>;
}

const profile = { displayName: "Alice", createdAt: T0 };
const course = { title: "TS", priceCents: 4900, currency: "eur", published: true };
const payment = { uid: "alice", courseId: "c1", amountCents: 4900, currency: "eur", status: "paid" };

const CASES: Record<string, Case> = {
  users: {
    path: "users/alice",
    collection: "users",
    existing: profile,
    incoming: profile,
    updated: { ...profile, displayName: "Alice B." },
    query: { filters: [] },
    expect: { get: ["owner", "admin"], list: ["admin"], create: ["owner"], update: ["owner"], delete: [] },
  },
  enrollments: {
    path: "users/alice/courses/c1",
    collection: "users/alice/courses",
    existing: { enrolledAt: T0 },
    incoming: { enrolledAt: T0 },
    updated: { enrolledAt: T0, extra: 1 },
    query: { filters: [] },
    expect: { get: ["owner", "admin"], list: ["owner", "admin"], create: [], update: [], delete: [] },
  },
  courses: {
    path: "courses/c1",
    collection: "courses",
    existing: course,
    incoming: course,
    updated: { ...course, priceCents: 5900 },
    query: eq("published", true),
    expect: {
      get: ["anonymous", "other", "owner", "admin"],
      list: ["anonymous", "other", "owner", "admin"],
      create: ["admin"],
      update: ["admin"],
      delete: ["admin"],
    },
  },
  payments: {
    path: "payments/p1",
    collection: "payments",
    existing: payment,
    incoming: payment,
    updated: { ...payment, status: "refunded" },
    query: eq("uid", "alice"),
    expect: { get: ["owner", "admin"], list: ["owner", "admin"], create: [], update: [], delete: [] },
  },
};

function request(c: Case, op: Op, auth: RulesAuth | null): Ask {
  switch (op) {
    case "get":
      return { method: op, path: c.path, auth, existing: c.existing };
    case "list":
      return { method: op, path: c.collection, auth, query: c.query };
    case "create":
      return { method: op, path: c.path, auth, incoming: c.incoming };
    case "update":
      return { method: op, path: c.path, auth, existing: c.existing, incoming: c.updated };
    case "delete":
      return { method: op, path: c.path, auth, existing: c.existing };
  }
}

function matrixMismatches(rules: CompiledRules): string[] {
  const out: string[] = [];
  for (const [name, c] of Object.entries(CASES)) {
    for (const op of ["get", "list", "create", "update", "delete"] as const) {
      for (const [role, auth] of Object.entries(ROLES) as [Role, RulesAuth | null][]) {
        const want = c.expect[op].includes(role);
        if (ask(rules, request(c, op, auth)).allowed !== want)
          out.push(`${name} ${op} as ${role}: expected ${want ? "allow" : "deny"}`);
      }
    }
  }
  return out;
}

const rules = compileRules(COURSE_RULES);

describe("course platform rules: collection × role × operation", () => {
  for (const [name, c] of Object.entries(CASES)) {
    for (const op of ["get", "list", "create", "update", "delete"] as const) {
      for (const [role, auth] of Object.entries(ROLES) as [Role, RulesAuth | null][]) {
        const want = c.expect[op].includes(role);
        test(`${name}: ${op} as ${role} is ${want ? "allowed" : "denied"}`, () => {
          const d = ask(rules, request(c, op, auth));
          expect({ allowed: d.allowed, reason: d.reason }).toEqual({
            allowed: want,
            reason: expect.any(String) as unknown,
          });
        });
      }
    }
  }
});

describe("course platform rules: data validation", () => {
  const owner = ROLES.owner;
  const admin = ROLES.admin;

  test("a client cannot add fields like amounts or roles to its profile", () => {
    expect(
      ask(rules, {
        method: "create",
        path: "users/alice",
        auth: owner,
        incoming: { ...profile, role: "admin" },
      }).allowed,
    ).toBe(false);
    expect(
      ask(rules, {
        method: "update",
        path: "users/alice",
        auth: owner,
        existing: profile,
        incoming: { ...profile, balanceCents: 10 },
      }).allowed,
    ).toBe(false);
  });

  test("profile validation: name length and server time", () => {
    expect(
      ask(rules, {
        method: "create",
        path: "users/alice",
        auth: owner,
        incoming: { ...profile, displayName: "" },
      }).allowed,
    ).toBe(false);
    expect(
      ask(rules, {
        method: "create",
        path: "users/alice",
        auth: owner,
        incoming: { ...profile, displayName: "x".repeat(81) },
      }).allowed,
    ).toBe(false);
    expect(
      ask(rules, {
        method: "create",
        path: "users/alice",
        auth: owner,
        incoming: { ...profile, createdAt: new Date(0) },
      }).allowed,
    ).toBe(false);
  });

  test("unpublished courses are visible only to admins", () => {
    const draft = { ...course, published: false };
    expect(ask(rules, { method: "get", path: "courses/c2", auth: owner, existing: draft }).allowed).toBe(
      false,
    );
    expect(ask(rules, { method: "get", path: "courses/c2", auth: admin, existing: draft }).allowed).toBe(
      true,
    );
  });

  test("listing courses needs the published filter unless admin", () => {
    expect(ask(rules, { method: "list", path: "courses", auth: owner, query: { filters: [] } }).allowed).toBe(
      false,
    );
    expect(
      ask(rules, { method: "list", path: "courses", auth: owner, query: eq("published", false) }).allowed,
    ).toBe(false);
    expect(ask(rules, { method: "list", path: "courses", auth: admin, query: { filters: [] } }).allowed).toBe(
      true,
    );
  });

  test("course validation for admins", () => {
    expect(
      ask(rules, {
        method: "create",
        path: "courses/c3",
        auth: admin,
        incoming: { ...course, priceCents: -1 },
      }).allowed,
    ).toBe(false);
    expect(
      ask(rules, {
        method: "create",
        path: "courses/c3",
        auth: admin,
        incoming: { ...course, priceCents: 49.5 },
      }).allowed,
    ).toBe(false);
    expect(
      ask(rules, {
        method: "create",
        path: "courses/c3",
        auth: admin,
        incoming: { ...course, currency: "btc" },
      }).allowed,
    ).toBe(false);
  });

  test("a user cannot list other users' payments", () => {
    expect(
      ask(rules, { method: "list", path: "payments", auth: ROLES.other, query: eq("uid", "alice") }).allowed,
    ).toBe(false);
    expect(
      ask(rules, { method: "list", path: "payments", auth: ROLES.other, query: eq("uid", "bob") }).allowed,
    ).toBe(true);
    expect(
      ask(rules, { method: "list", path: "payments", auth: owner, query: { filters: [] } }).allowed,
    ).toBe(false);
  });

  test("an owner cannot write amounts or statuses into the ledger", () => {
    expect(
      ask(rules, {
        method: "update",
        path: "payments/p1",
        auth: owner,
        existing: payment,
        incoming: { ...payment, status: "paid", amountCents: 0 },
      }).allowed,
    ).toBe(false);
    expect(
      ask(rules, { method: "create", path: "payments/p2", auth: owner, incoming: payment }).allowed,
    ).toBe(false);
  });
});

describe("the matrix catches broken and permissive rules", () => {
  test("the real rules pass the whole matrix", () => {
    expect(matrixMismatches(rules)).toEqual([]);
  });

  test("a permissive rules file fails the matrix", () => {
    const mismatches = matrixMismatches(compileRules(PERMISSIVE_RULES));
    expect(mismatches).toContain("payments update as owner: expected deny");
    expect(mismatches).toContain("users get as other: expected deny");
  });

  test("a broken rules file does not load", () => {
    expect(() => compileRules(COURSE_RULES.replace("hasOnly(keys);", "hasOnly(keys;"))).toThrow(
      /firestore\.rules:8:\d+: expected '\)'/,
    );
  });
});
