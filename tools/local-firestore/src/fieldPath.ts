import { invalidArgument } from "./errors";
import type { RpcError } from "./errors";

/** Unquoted segments are identifiers (the rule writes.ts applies to update masks as well). */
const SIMPLE_SEGMENT = /^[_a-zA-Z][_a-zA-Z0-9]*$/;

/**
 * Parses a field path as the Firestore API spells it: dot-separated segments, each either a
 * simple identifier or backtick-quoted (with `\\` escapes), e.g. a.`b.c`.d
 */
export function parseFieldPath(path: string): string[] {
  const fail = (reason: string): RpcError => invalidArgument(`Invalid field path "${path}": ${reason}.`);
  if (path === "") throw fail("a field path must not be empty");
  const segments: string[] = [];
  let i = 0;
  for (;;) {
    let segment = "";
    if (path[i] === "`") {
      i++;
      let closed = false;
      while (i < path.length) {
        const c = path.charAt(i);
        if (c === "\\") {
          if (i + 1 >= path.length) throw fail("a trailing '\\' escapes nothing");
          segment += path.charAt(i + 1);
          i += 2;
        } else if (c === "`") {
          closed = true;
          i++;
          break;
        } else {
          segment += c;
          i++;
        }
      }
      if (!closed) throw fail("unterminated backtick");
      if (segment === "") throw fail("empty field name");
    } else {
      const start = i;
      while (i < path.length && path[i] !== ".") i++;
      segment = path.slice(start, i);
      if (segment === "") throw fail("empty field name");
      if (!SIMPLE_SEGMENT.test(segment)) {
        throw fail(`field name "${segment}" must be quoted with backticks`);
      }
    }
    segments.push(segment);
    if (i === path.length) return segments;
    if (path[i] !== ".") throw fail("expected '.' after a quoted field name");
    i++;
    if (i === path.length) throw fail("a field path must not end with '.'");
  }
}
