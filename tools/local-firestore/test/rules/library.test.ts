import { allows, cond } from "./helpers";

const existing = {
  name: "Ada",
  tags: ["a", "b"],
  profile: { city: "Zurich", zip: "8000" },
  price: 1250,
  when: new Date("2024-03-05T07:08:09.123Z"),
};

function check(rows: [string, boolean][]): void {
  test.each(rows)("%s → %s", (expr, expected) => {
    expect(allows(expr, { existing })).toBe(expected);
  });
}

describe("map", () => {
  check([
    ["resource.data.keys().hasAll(['name', 'tags'])", true],
    ["resource.data.keys().hasAll(['name', 'nope'])", false],
    ["resource.data.profile.values().hasAll(['Zurich'])", true],
    ["resource.data.profile.values().hasAny(['Bern'])", false],
    ["resource.data.size() == 5", true],
    ["resource.data.size() == 4", false],
    ["resource.data.get('name', 'x') == 'Ada'", true],
    ["resource.data.get('missing', 'dflt') == 'dflt'", true],
    ["resource.data.get('missing', null) != null", false],
    ["resource.data.get(['profile', 'city'], '') == 'Zurich'", true],
    ["resource.data.get(['profile', 'nope'], 'd') == 'd'", true],
    ["'name' in resource.data", true],
    ["'nope' in resource.data", false],
    ["resource.data['name'] == 'Ada'", true],
    ["resource.data.profile['city'] == 'Bern'", false],
  ]);
});

describe("map diff", () => {
  const base = "{'a': 1, 'b': 2, 'c': 3}.diff({'a': 1, 'b': 20, 'd': 4})";
  check([
    [`${base}.addedKeys() == ['c'].toSet()`, true],
    [`${base}.addedKeys() == ['d'].toSet()`, false],
    [`${base}.removedKeys() == ['d'].toSet()`, true],
    [`${base}.removedKeys().size() == 0`, false],
    [`${base}.changedKeys() == ['b'].toSet()`, true],
    [`${base}.changedKeys().hasAny(['a'])`, false],
    [`${base}.unchangedKeys() == ['a'].toSet()`, true],
    [`${base}.unchangedKeys().hasAny(['b'])`, false],
    [`${base}.affectedKeys() == ['b', 'c', 'd'].toSet()`, true],
    [`${base}.affectedKeys().hasOnly(['b', 'c'])`, false],
    ["{'a': 1}.diff({'a': 1.0}).changedKeys().size() == 0", true],
  ]);
});

describe("list", () => {
  check([
    ["resource.data.tags.hasAll(['a'])", true],
    ["resource.data.tags.hasAll(['a', 'z'])", false],
    ["resource.data.tags.hasAny(['z', 'b'])", true],
    ["resource.data.tags.hasAny(['z'])", false],
    ["resource.data.tags.hasAny([])", false],
    ["['a', 'a', 'b'].hasOnly(['a', 'b', 'c'])", true],
    ["['a', 'b'].hasOnly(['a', 'c'])", false],
    ["resource.data.tags.size() == 2", true],
    ["resource.data.tags.size() == 3", false],
    ["['a', 'a', 'b'].toSet().size() == 2", true],
    ["['a', 'a'].toSet() == ['a', 'b'].toSet()", false],
    ["['a', 'b'].join('-') == 'a-b'", true],
    ["['a', 'b'].join('') == 'a-b'", false],
    ["[1].concat([2, 3]) == [1, 2, 3]", true],
    ["[1].concat([2]) == [2, 1]", false],
    ["[1, 2, 3, 2].removeAll([2]) == [1, 3]", true],
    ["[1, 2].removeAll([3]) == [1]", false],
    ["'b' in resource.data.tags", true],
    ["'z' in resource.data.tags", false],
    ["resource.data.tags[0] == 'a'", true],
    ["resource.data.tags[0:1] == ['a', 'b']", false],
  ]);
});

describe("set", () => {
  check([
    ["['a', 'b'].toSet().hasAll(['a'])", true],
    ["['a', 'b'].toSet().hasAll(['a', 'c'].toSet())", false],
    ["['a', 'b'].toSet().hasAny(['c', 'b'])", true],
    ["['a', 'b'].toSet().hasAny(['c'])", false],
    ["['a', 'b'].toSet().hasOnly(['a', 'b', 'c'])", true],
    ["['a', 'b'].toSet().hasOnly(['a'])", false],
    ["['a', 'b'].toSet().size() == 2", true],
    ["['a', 'b'].toSet() == ['b', 'a'].toSet()", true],
    ["['a'].toSet().union(['b'].toSet()) == ['a', 'b'].toSet()", true],
    ["['a'].toSet().union(['b'].toSet()).size() == 1", false],
    ["['a', 'b'].toSet().intersection(['b', 'c'].toSet()) == ['b'].toSet()", true],
    ["['a', 'b'].toSet().intersection(['c'].toSet()).size() > 0", false],
    ["['a', 'b'].toSet().difference(['b'].toSet()) == ['a'].toSet()", true],
    ["['a', 'b'].toSet().difference(['a', 'b'].toSet()).size() == 1", false],
    ["'a' in ['a'].toSet()", true],
    ["'z' in ['a'].toSet()", false],
  ]);
});

describe("string", () => {
  check([
    ["'user@example.com'.matches('.*@example[.]com')", true],
    ["'user@evil.com'.matches('.*@example[.]com')", false],
    ["'abc'.matches('b')", false],
    ["'ABC'.matches('(?i)abc')", true],
    ["'héllo'.size() == 5", true],
    ["'abc'.size() == 4", false],
    ["'AbC'.lower() == 'abc'", true],
    ["'AbC'.upper() == 'ABC'", true],
    ["'AbC'.upper() == 'AbC'", false],
    ["'a,b,,c'.split(',') == ['a', 'b', '', 'c']", true],
    ["'a1b22c'.split('[0-9]+') == ['a', 'b', 'c']", true],
    ["'a,b'.split(',').size() == 3", false],
    ["'  x '.trim() == 'x'", true],
    ["' x'.trim() == ' x'", false],
    ["'a-b-c'.replace('-', '+') == 'a+b+c'", true],
    ["'a1b2'.replace('[0-9]', '$') == 'a$b$'", true],
    ["'abc'.replace('x', 'y') != 'abc'", false],
    ["'é'.toUtf8().size() == 2", true],
    ["'ab' + 'c' == 'abc'", true],
  ]);

  test("an invalid regular expression is an error", () => {
    expect(cond("'a'.matches('(')", {}).reason).toContain("invalid regular expression");
  });
});

describe("conversions", () => {
  check([
    ["int('42') == 42", true],
    ["int('-7') == -7", true],
    ["int(3.9) == 3", true],
    ["int(-3.9) == -3", true],
    ["int(3.9) == 4", false],
    ["float(2) == 2.0", true],
    ["float('2.5') == 2.5", true],
    ["float(2) is float", true],
    ["string(12) == '12'", true],
    ["string(true) == 'true'", true],
    ["string(null) == 'null'", true],
    ["string(1.5) == '1.5'", true],
    ["string(2.0) == '2.0'", true],
    ["string(12) == 12", false],
    ["path('/databases/x/documents/a/b') == /databases/x/documents/a/b", true],
    ["path('/a/b') == /a/c", false],
  ]);

  test("unparseable conversions are errors", () => {
    expect(cond("int('x') == 0", {}).reason).toContain("cannot parse");
    expect(cond("float('x') == 0", {}).reason).toContain("cannot parse");
    expect(cond("int([1]) == 0", {}).reason).toContain("cannot convert");
  });
});

describe("timestamp and duration", () => {
  check([
    ["resource.data.when.year() == 2024", true],
    ["resource.data.when.month() == 3", true],
    ["resource.data.when.day() == 5", true],
    ["resource.data.when.hours() == 7", true],
    ["resource.data.when.minutes() == 8", true],
    ["resource.data.when.seconds() == 9", true],
    ["resource.data.when.nanos() == 123000000", true],
    ["resource.data.when.toMillis() == 1709622489123", true],
    ["resource.data.when.dayOfWeek() == 2", true],
    ["resource.data.when.dayOfYear() == 65", true],
    ["resource.data.when.date() == timestamp.date(2024, 3, 5)", true],
    ["resource.data.when.time() == duration.time(7, 8, 9, 123000000)", true],
    ["resource.data.when.year() == 2023", false],
    ["timestamp.value(1709622489123) == resource.data.when", true],
    ["timestamp.value(0) == timestamp.date(1970, 1, 1)", true],
    ["timestamp.date(2024, 2, 29) < timestamp.date(2024, 3, 1)", true],
    ["timestamp.date(2024, 3, 1) < timestamp.date(2024, 2, 29)", false],
    ["request.time > resource.data.when", true],
    ["request.time < resource.data.when", false],
    ["request.time == timestamp.date(2024, 5, 1) + duration.value(12, 'h')", true],
    ["request.time - duration.value(1, 'd') == timestamp.value(1714478400000)", true],
    ["request.time - timestamp.date(2024, 5, 1) == duration.value(12, 'h')", true],
    ["request.time + duration.value(1, 'ms') > request.time", true],
    ["request.time + duration.value(-1, 's') > request.time", false],
    ["duration.value(1, 'w') == duration.value(7, 'd')", true],
    ["duration.value(90, 'm') == duration.time(1, 30, 0, 0)", true],
    ["duration.value(1500, 'ms').seconds() == 1", true],
    ["duration.value(1500, 'ms').nanos() == 500000000", true],
    ["duration.value(1, 'h') < duration.value(59, 'm')", false],
    ["duration.abs(duration.value(-5, 's')) == duration.value(5, 's')", true],
    ["duration.value(2, 's') + duration.value(3, 's') == duration.value(5, 'ns')", false],
  ]);

  test("invalid dates and units are errors", () => {
    expect(cond("timestamp.date(2023, 2, 29) != null", {}).reason).toContain("invalid date");
    expect(cond("duration.value(1, 'years') != null", {}).reason).toContain("unknown unit");
  });
});

describe("math", () => {
  check([
    ["math.abs(-3) == 3", true],
    ["math.abs(-2.5) == 2.5", true],
    ["math.abs(-3) == -3", false],
    ["math.ceil(1.2) == 2", true],
    ["math.ceil(-1.2) == -1", true],
    ["math.floor(1.8) == 1", true],
    ["math.floor(-1.2) == -2", true],
    ["math.round(2.5) == 3", true],
    ["math.round(-2.5) == -3", true],
    ["math.round(2.4) == 3", false],
    ["math.sqrt(16) == 4.0", true],
    ["math.sqrt(2) > 1.5", false],
    ["math.pow(2, 10) == 1024", true],
    ["math.pow(2, 0.5) == 2", false],
    ["math.isInfinite(1.0 / 0)", true],
    ["math.isInfinite(1.0)", false],
    ["math.isNaN(math.sqrt(-1))", true],
    ["math.isNaN(1)", false],
  ]);
});

describe("latlng", () => {
  check([
    ["latlng.value(47.37, 8.54).latitude() == 47.37", true],
    ["latlng.value(47.37, 8.54).longitude() == 47.37", false],
    ["latlng.value(0, 0).distance(latlng.value(0, 1)) > 111000", true],
    ["latlng.value(0, 0).distance(latlng.value(0, 1)) > 112000", false],
  ]);
});

describe("bytes", () => {
  check([
    ["b'\\x01\\xff'.toHexString() == '01FF'", true],
    ["b'\\x01\\xff'.toHexString() == '01ff'", false],
    ["b'hi'.toBase64() == 'aGk='", true],
    ["b'hi'.toBase64() == 'hi'", false],
    ["b'a' < b'b'", true],
  ]);
});

describe("methods on the wrong type are runtime errors", () => {
  test.each([
    ["'abc'.keys().size() == 0", "string has no method keys()"],
    ["[1].lower() == ''", "list has no method lower()"],
    ["resource.data.name.hasAll(['A'])", "string has no method hasAll()"],
    ["['a'].toSet().join(',') == 'a'", "set has no method join()"],
    ["[1, 2].join(',') == '1,2'", "expects a string"],
    ["{'a': 1}.diff([1]).addedKeys().size() == 0", "expects a map"],
    ["resource.data.nothing.size() == 0", "Property nothing is undefined"],
  ])("%s", (expr, message) => {
    const d = cond(expr, { existing });
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain(message);
  });
});
