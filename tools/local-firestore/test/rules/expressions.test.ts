import { allows, cond, user } from "./helpers";

describe("literals and operators", () => {
  test.each<[string, boolean]>([
    ["true", true],
    ["false", false],
    ["null == null", true],
    ["null != null", false],
    ["1 == 1", true],
    ["1 == 2", false],
    ["1 == 1.0", true],
    ["1.5 == 1.5", true],
    ["1.5e2 == 150", true],
    ["0x1F == 31", true],
    ["-3 == 0 - 3", true],
    ["-(2) == -2", true],
    ["'a' == \"a\"", true],
    ["'a' == 'b'", false],
    ["'it\\'s' == \"it's\"", true],
    ["'tab\\tx'.size() == 5", true],
    ["'\\u00e9' == 'é'", true],
    ["'\\x41' == 'A'", true],
    ["r'a\\d' == 'a\\\\d'", true],
    ["'a' == 1", false],
    ["'a' != 1", true],
    ["[1, 2] == [1, 2]", true],
    ["[1, 2] == [2, 1]", false],
    ["[1, 2,] == [1, 2]", true],
    ["{'a': 1, 'b': [true]} == {'b': [true], 'a': 1}", true],
    ["{'a': 1} == {'a': 2}", false],
    ["{} == {}", true],
    ["b'\\x01\\x02' == b'\\x01\\x02'", true],
    ["b'ab'.size() == 2", true],
    ["1 < 2", true],
    ["2 < 1", false],
    ["2 <= 2", true],
    ["3 <= 2", false],
    ["3 > 2", true],
    ["2 > 3", false],
    ["2 >= 2", true],
    ["1 >= 2", false],
    ["1 < 1.5", true],
    ["'abc' < 'abd'", true],
    ["'b' < 'a'", false],
    ["1 + 2 * 3 == 7", true],
    ["(1 + 2) * 3 == 9", true],
    ["7 / 2 == 3", true],
    ["-7 / 2 == -3", true],
    ["7 % 3 == 1", true],
    ["7.0 / 2 == 3.5", true],
    ["1 + 0.5 == 1.5", true],
    ["5 - 7 == -2", true],
    ["'ab' + 'cd' == 'abcd'", true],
    ["[1] + [2] == [1, 2]", true],
    ["!false", true],
    ["!true", false],
    ["!!true", true],
    ["1 in [1, 2]", true],
    ["3 in [1, 2]", false],
    ["'a' in {'a': 1}", true],
    ["'b' in {'a': 1}", false],
    ["1 in [1, 2].toSet()", true],
    ["true ? 1 == 1 : false", true],
    ["false ? true : 1 == 2", false],
    ["true ? false : true", false],
    ["1 < 2 && 2 < 3", true],
    ["1 < 2 && 3 < 2", false],
    ["1 > 2 || 2 < 3", true],
    ["1 > 2 || 3 < 2", false],
    ["true || false && false", true],
    ["!(1 == 2) && 'x' != 'y'", true],
    ["[1, [2, 3]][1][0] == 2", true],
    ["{'a': {'b': 5}}['a'].b == 5", true],
    ["'hello'[1] == 'e'", true],
    ["[1, 2, 3, 4][1:3] == [2, 3]", true],
    ["[1, 2, 3, 4][1:3] == [2, 3, 4]", false],
    ["'hello'[1:3] == 'el'", true],
    ["debug(1 + 1) == 2", true],
  ])("%s → %s", (expr, expected) => {
    expect(allows(expr)).toBe(expected);
  });
});

describe("`is` type checks", () => {
  test.each<[string, boolean]>([
    ["true is bool", true],
    ["1 is bool", false],
    ["1 is int", true],
    ["1.0 is int", false],
    ["1.5 is float", true],
    ["1 is float", false],
    ["1 is number", true],
    ["1.5 is number", true],
    ["'1' is number", false],
    ["'s' is string", true],
    ["1 is string", false],
    ["[] is list", true],
    ["{} is list", false],
    ["{} is map", true],
    ["[] is map", false],
    ["[1].toSet() is set", true],
    ["request.time is timestamp", true],
    ["1 is timestamp", false],
    ["duration.value(1, 's') is duration", true],
    ["request.time is duration", false],
    ["request.path is path", true],
    ["/a/b is path", true],
    ["'a/b' is path", false],
    ["latlng.value(1, 2) is latlng", true],
    ["b'x' is bytes", true],
    ["'x' is bytes", false],
    ["null is null", true],
    ["{}.diff({}) is map_diff", true],
  ])("%s → %s", (expr, expected) => {
    expect(allows(expr)).toBe(expected);
  });
});

describe("errors deny the allow they occur in", () => {
  test.each<[string, string]>([
    ["resource.data.missing == 1", "Property missing is undefined"],
    ["request.auth.uid == 'x'", "Null value error"],
    ["1 / 0 == 1", "division by zero"],
    ["1 % 0 == 1", "modulo by zero"],
    ["'a' < 1", "cannot compare"],
    ["'a' - 1 == 0", "operator -"],
    ["!'a'", "expects a bool"],
    ["1 && true", "expects a bool"],
    ["1", "non-boolean"],
    ["[1][5] == 1", "out of range"],
    ["[1][-1] == 1", "out of range"],
    ["[1, 2][1:5] == []", "out of bounds"],
    ["{'a': 1}.b == 1", "Property b is undefined"],
    ["{1: 2} == {}", "map keys must be strings"],
    ["9223372036854775807 + 1 > 0", "integer overflow"],
    ["(1 == 1 ? 'x' : 'y') && true", "expects a bool"],
    ["'x' ? true : true", "expects a bool"],
    ["1 in 'abc'", "'in' is not defined"],
  ])("%s", (expr, message) => {
    const d = cond(expr, { existing: { a: 1 }, auth: null });
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain(message);
  });

  test("an error in one allow does not stop another allow from granting", () => {
    const d = cond("resource.data.missing == 1", {
      existing: { a: 1 },
      extra: "match /t/{id} { allow get: if resource.data.a == 1; }",
    });
    expect(d.allowed).toBe(true);
    expect(d.reason).toContain("resource.data.a == 1");
  });

  test("an error in one allow and false in the other denies, reporting both", () => {
    const d = cond("resource.data.missing == 1", {
      existing: { a: 1 },
      extra: "match /t/{id} { allow get: if resource.data.a == 2; }",
    });
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain("errored: Property missing is undefined");
    expect(d.reason).toContain("is false");
  });
});

describe("short-circuit and error propagation in && and ||", () => {
  const existing = { a: 1 };
  test.each<[string, boolean]>([
    ["false && resource.data.missing == 1", false],
    ["resource.data.missing == 1 && false", false],
    ["true && resource.data.missing == 1", false],
    ["resource.data.missing == 1 && true", false],
    ["true || resource.data.missing == 1", true],
    ["resource.data.missing == 1 || true", true],
    ["resource.data.missing == 1 || false", false],
    ["false || resource.data.missing == 1", false],
    // an error swallowed by || can be negated into a grant only when || decides it
    ["!(resource.data.missing == 1 && false)", true],
    ["!(resource.data.missing == 1 || false)", false],
    ["!(true && resource.data.missing == 1)", false],
    ["(resource.data.missing == 1 || true) && resource.data.a == 1", true],
    ["request.auth == null || request.auth.uid == 'x'", true],
  ])("%s → %s", (expr, expected) => {
    expect(allows(expr, { existing, auth: null })).toBe(expected);
  });

  test("the right side of a decided && is never evaluated (no document read)", () => {
    const d = cond("false && exists(/databases/$(database)/documents/t/other)", {});
    expect(d.allowed).toBe(false);
  });

  test("ternary only evaluates the chosen branch", () => {
    expect(allows("true ? true : resource.data.missing", { existing })).toBe(true);
    expect(allows("false ? resource.data.missing : true", { existing })).toBe(true);
    expect(allows("resource.data.missing ? true : true", { existing })).toBe(false);
  });

  test("null auth: request.auth != null guards uid access", () => {
    expect(allows("request.auth != null && request.auth.uid == 'alice'", { auth: null })).toBe(false);
    expect(allows("request.auth != null && request.auth.uid == 'alice'", { auth: user("alice") })).toBe(true);
  });
});
