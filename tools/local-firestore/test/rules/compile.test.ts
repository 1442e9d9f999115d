import { compileRules, RulesCompileError } from "../../src/rules";

function compileError(source: string): RulesCompileError {
  try {
    compileRules(source);
  } catch (e) {
    if (e instanceof RulesCompileError) return e;
    throw e;
  }
  throw new Error("expected a RulesCompileError");
}

const wrap = (body: string): string => `rules_version = '2';
service cloud.firestore {
  match /databases/{database}/documents {
    match /t/{id} {
${body}
    }
  }
}
`;

describe("syntax errors carry line and column", () => {
  test("a broken file: missing closing parenthesis", () => {
    const e = compileError(`rules_version = '2';
service cloud.firestore {
  match /databases/{database}/documents {
    match /users/{uid} {
      allow read: if (request.auth.uid == uid;
    }
  }
}`);
    expect(e.line).toBe(5);
    expect(e.column).toBe(46);
    expect(e.message).toContain("5:46");
    expect(e.message).toContain("expected ')'");
  });

  test("a missing semicolon between statements", () => {
    const e = compileError(wrap("      allow read: if true\n      allow write: if false;\n      let x = 1;"));
    expect(e.line).toBe(7);
    expect(e.column).toBe(7);
  });

  test("an unterminated string", () => {
    const e = compileError(wrap("      allow read: if request.auth.uid == 'abc;"));
    expect([e.line, e.column]).toEqual([5, 42]);
    expect(e.message).toContain("unterminated string");
  });

  test("an unknown method name after allow", () => {
    const e = compileError(wrap("      allow read, writ: if true;"));
    expect([e.line, e.column]).toEqual([5, 19]);
    expect(e.message).toContain("expected a method");
  });

  test("allow outside of match", () => {
    const e = compileError("service cloud.firestore {\n  allow read;\n}");
    expect([e.line, e.column]).toEqual([2, 3]);
  });

  test("unexpected character", () => {
    const e = compileError(wrap("      allow read: if 1 # 2;"));
    expect([e.line, e.column]).toEqual([5, 24]);
  });

  test("malformed wildcard in a match path", () => {
    const e = compileError(wrap("      match /x/{a=*} { allow read; }"));
    expect(e.line).toBe(5);
    expect(e.message).toContain("wildcard");
  });

  test("trailing garbage after the service block", () => {
    const e = compileError("service cloud.firestore { }\nmatch");
    expect([e.line, e.column]).toEqual([2, 1]);
  });

  test("wrong service and version", () => {
    expect(compileError("service firebase.storage { }").message).toContain("unsupported service");
    expect(compileError("rules_version = '3'; service cloud.firestore { }").message).toContain(
      "rules_version",
    );
  });

  test("function body must end with return", () => {
    const e = compileError(wrap("      function f() { let x = 1; }\n      allow read: if f();"));
    expect(e.message).toContain("expected 'return'");
  });

  test("unterminated block comment", () => {
    expect(compileError("service cloud.firestore { /* x ").message).toContain("unterminated block comment");
  });
});

describe("unsupported or invalid constructs fail to load", () => {
  test("an unsupported global function, with its position", () => {
    const e = compileError(
      wrap("      allow read: if request.auth != null\n        && hashing.sha256(request.auth.uid) == b'';"),
    );
    expect([e.line, e.column]).toEqual([6, 12]);
    expect(e.message).toContain("hashing");
  });

  test("an unknown function", () => {
    const e = compileError(wrap("      allow read: if isOwner();"));
    expect([e.line, e.column]).toEqual([5, 22]);
    expect(e.message).toContain("unknown or unsupported function 'isOwner()'");
  });

  test("an unknown method", () => {
    const e = compileError(wrap("      allow read: if resource.data.tags.contains('a');"));
    expect(e.line).toBe(5);
    expect(e.message).toContain("unsupported method 'contains()'");
  });

  test("an unknown namespace member", () => {
    expect(compileError(wrap("      allow read: if math.trunc(1.5) == 1;")).message).toContain("math.trunc");
    expect(compileError(wrap("      allow read: if math.PI > 3;")).message).toContain("math.PI");
    expect(compileError(wrap("      allow read: if math == 1;")).message).toContain("namespace");
  });

  test("an unknown variable", () => {
    const e = compileError(wrap("      allow read: if userId == 'x';"));
    expect([e.line, e.column]).toEqual([5, 22]);
    expect(e.message).toContain("unknown variable 'userId'");
  });

  test("wrong argument counts", () => {
    expect(compileError(wrap("      allow read: if get() != null;")).message).toContain("takes 1");
    expect(compileError(wrap("      allow read: if [1].size(1) == 1;")).message).toContain("takes 0");
    expect(
      compileError(wrap("      function f(a) { return a; }\n      allow read: if f(1, 2);")).message,
    ).toContain("takes 1 argument");
  });

  test("an unknown type after `is`", () => {
    expect(compileError(wrap("      allow read: if 1 is integer;")).message).toContain(
      "unknown type 'integer'",
    );
  });

  test("recursive and mutually recursive functions", () => {
    expect(
      compileError(wrap("      function f(n) { return f(n); }\n      allow read: if f(1);")).message,
    ).toContain("recursive function calls are not allowed: f -> f");
    expect(
      compileError(
        wrap(
          "      function f(n) { return g(n); }\n      function g(n) { return f(n); }\n      allow read: if f(1);",
        ),
      ).message,
    ).toContain("f -> g -> f");
  });

  test("duplicate functions, parameters and lets", () => {
    expect(
      compileError(wrap("      function f() { return true; }\n      function f() { return false; }")).message,
    ).toContain("already defined");
    expect(compileError(wrap("      function f(a, a) { return true; }")).message).toContain(
      "duplicate parameter",
    );
    expect(compileError(wrap("      function f(a) { let a = 1; return true; }")).message).toContain(
      "already defined",
    );
  });

  test("let bindings only see earlier lets", () => {
    expect(
      compileError(wrap("      function f() { let a = b; let b = 1; return a == 1; }")).message,
    ).toContain("unknown variable 'b'");
  });

  test("wildcards of sibling blocks are not visible", () => {
    const e = compileError(`service cloud.firestore {
  match /databases/{database}/documents {
    match /a/{aid} { allow read: if true; }
    match /b/{bid} { allow read: if aid == bid; }
  }
}`);
    expect([e.line, e.column]).toEqual([4, 37]);
  });

  test("functions are only visible in their scope and below", () => {
    const e = compileError(`rules_version = '2';
service cloud.firestore {
  match /databases/{database}/documents {
    match /a/{aid} { function inner() { return true; } allow read: if inner(); }
    match /b/{bid} { allow read: if inner(); }
  }
}`);
    expect(e.line).toBe(5);
  });

  test("a v1 ruleset may only use a recursive wildcard at the end", () => {
    expect(compileError("service cloud.firestore { match /{p=**}/x/{y} { allow read; } }").message).toContain(
      "rules_version",
    );
  });

  test("at most one recursive wildcard per path", () => {
    expect(compileError(wrap("      match /{a=**}/x/{b=**} { allow read; }")).message).toContain(
      "at most one",
    );
  });

  test("mixed text and interpolation in a path segment", () => {
    expect(
      compileError(wrap("      allow read: if exists(/databases/$(database)/documents/u/x$(id));")).message,
    ).toContain("path segment");
  });
});

describe("valid syntax loads", () => {
  test("comments, both quote styles, optional semicolons, functions at every level", () => {
    expect(() =>
      compileRules(`// leading comment
rules_version = "2";
/* block
   comment */
service cloud.firestore {
  function signedIn() { return request.auth != null }
  match /databases/{database}/documents {
    function isUser(uid) {
      let me = request.auth.uid;
      return signedIn() && me == uid;
    }
    match /users/{uid} {
      allow read: if isUser(uid) // trailing comment
      allow create, update: if isUser(uid) && request.resource.data.name is string;
      allow delete: if false;
      match /{rest=**} {
        allow read;
      }
    }
  }
}`),
    ).not.toThrow();
  });

  test("a v1 ruleset (no rules_version) loads", () => {
    expect(() =>
      compileRules(
        "service cloud.firestore { match /databases/{database}/documents { match /{doc=**} { allow read: if false; } } }",
      ),
    ).not.toThrow();
  });
});
