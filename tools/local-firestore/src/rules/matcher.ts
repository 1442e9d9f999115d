import type { MatchSegment } from "./ast";
import type { RVal } from "./rvalue";

/**
 * A segment of the path being judged. `doc` is the unknown document id of a list query; `gap` is
 * the unknown run of segments (zero or more) between the parent and the collection id of a
 * collection-group query. A match pattern applies only if it matches every possible expansion.
 */
export type ReqSeg = { lit: string } | { sym: "doc" } | { sym: "gap" };

export interface PatternMatch {
  end: number;
  bindings: Map<string, RVal>;
}

function unknownBinding(name: string, why: "doc" | "gap"): RVal {
  return {
    k: "unknown",
    why:
      why === "doc"
        ? `rules are not filters: wildcard '${name}' is the id of a document the query may return, which is not known`
        : `rules are not filters: wildcard '${name}' spans the unknown parents of a collection-group query`,
  };
}

/** All ways `pattern` can consume a prefix of `segs[start..]`, with the wildcard bindings. */
export function matchPattern(
  pattern: readonly MatchSegment[],
  segs: readonly ReqSeg[],
  start: number,
  version: 1 | 2,
): PatternMatch[] {
  const out: PatternMatch[] = [];
  const go = (pi: number, si: number, bindings: Map<string, RVal>): void => {
    const p = pattern[pi];
    if (!p) {
      out.push({ end: si, bindings });
      return;
    }
    const s = segs[si];
    switch (p.kind) {
      case "literal":
        if (s && "lit" in s && s.lit === p.text) go(pi + 1, si + 1, bindings);
        return;
      case "wildcard":
        if (!s || ("sym" in s && s.sym === "gap")) return;
        go(
          pi + 1,
          si + 1,
          new Map(bindings).set(
            p.name,
            "lit" in s ? { k: "string", v: s.lit } : unknownBinding(p.name, "doc"),
          ),
        );
        return;
      case "recursive":
        // v2: zero or more segments, bound as a path. v1: one or more, must be last, bound as a string.
        for (let end = version === 2 ? si : si + 1; end <= segs.length; end++) {
          if (version === 1 && end !== segs.length) continue;
          const consumed = segs.slice(si, end);
          const sym = consumed.find((x): x is { sym: "doc" | "gap" } => "sym" in x);
          const lits = consumed.map((x) => ("lit" in x ? x.lit : ""));
          const value: RVal = sym
            ? unknownBinding(p.name, sym.sym)
            : version === 2
              ? { k: "path", segs: lits }
              : { k: "string", v: lits.join("/") };
          go(pi + 1, end, new Map(bindings).set(p.name, value));
        }
        return;
    }
  };
  go(0, start, new Map());
  return out;
}
