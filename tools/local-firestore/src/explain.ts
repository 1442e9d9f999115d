/**
 * Query Explain (`explainOptions` on RunQuery / RunAggregationQuery): the plan summary (the indexes
 * production would read, in its `(field ASC, __name__ ASC)` notation) and, with `analyze`, the
 * execution statistics. Shapes are google.firestore.v1.ExplainMetrics as proto-loader encodes them.
 */
import { indexNeeds } from "./query";
import type { StructuredQuery } from "./query";

export interface ExplainOptions {
  analyze?: boolean;
}

type StructValue = { stringValue: string } | { structValue: Struct };
interface Struct {
  fields: Record<string, StructValue>;
}

export interface ExplainMetrics {
  planSummary: { indexesUsed: Struct[] };
  executionStats?: {
    resultsReturned: string;
    executionDuration: { seconds: string; nanos: number };
    readOperations: string;
    debugStats: Struct;
  };
}

function str(s: string): StructValue {
  return { stringValue: s };
}

/** The indexes production would use for `query`: one composite, or the single-field ones merged. */
export function planSummary(query: StructuredQuery): { indexesUsed: Struct[] } {
  const needs = indexNeeds(query);
  const scope = needs.allDescendants ? "Collection group" : "Collection";
  const used = new Map<string, Struct>();
  for (const term of needs.terms) {
    const last = term.order.at(-1)?.descending === true ? "DESC" : "ASC";
    const lookups = [
      ...term.equality.map((f) => `${f.text} ASC`),
      ...term.arrayContains.map((f) => `${f.text} CONTAINS`),
    ];
    const order = term.order.map((o) => `${o.text} ${o.descending ? "DESC" : "ASC"}`);
    const single = order.length === 0 || (order.length === 1 && lookups.length === 0);
    const indexes = single ? [...lookups, ...order].map((f) => [f]) : [[...lookups, ...order]];
    if (indexes.length === 0) indexes.push([]);
    for (const fields of indexes) {
      const properties = `(${[...fields, `__name__ ${last}`].join(", ")})`;
      used.set(properties, { fields: { query_scope: str(scope), properties: str(properties) } });
    }
  }
  return { indexesUsed: [...used.values()] };
}

/** Explain metrics for a query that returned `results` after `reads` billed reads. */
export function explainMetrics(
  query: StructuredQuery,
  options: ExplainOptions,
  run: { results: number; reads: number; startedAt: bigint; scanned: number } | undefined,
): ExplainMetrics {
  const plan = planSummary(query);
  if (!options.analyze || run === undefined) return { planSummary: plan };
  const nanos = process.hrtime.bigint() - run.startedAt;
  return {
    planSummary: plan,
    executionStats: {
      resultsReturned: String(run.results),
      executionDuration: { seconds: String(nanos / 1_000_000_000n), nanos: Number(nanos % 1_000_000_000n) },
      readOperations: String(run.reads),
      debugStats: {
        fields: {
          documents_scanned: str(String(run.scanned)),
          index_entries_scanned: str(String(run.scanned)),
          billing_details: {
            structValue: {
              fields: {
                documents_billable: str(String(run.results)),
                index_entries_billable: str("0"),
                small_ops: str("0"),
                min_query_cost: str(run.results === 0 ? "1" : "0"),
              },
            },
          },
        },
      },
    },
  };
}
