/**
 * Index enforcement (opt-in): the indexes of a `firestore.indexes.json` file, and the check that a
 * query can be served by them, following production Firestore's documented rules:
 *
 * - Single-field indexes (ascending, descending, array-contains) exist automatically for every
 *   field with *collection* scope. Collection-group scope exists only where a `fieldOverrides`
 *   entry asks for it, and a `fieldOverrides` entry replaces the automatic set of its field
 *   (`"indexes": []` is an exemption: no single-field index at all).
 * - A query whose filters are all equality-type (`==`, `in`, `array-contains(-any)`, `is null`,
 *   `is NaN`) with no order is served by merging single-field indexes; so is a query that orders
 *   or ranges over one field and has no other filter.
 * - Anything else (equality plus an order, range/inequality or order on several fields, an order
 *   on a field other than the inequality field; `!=` and `not-in` count as inequalities) needs a
 *   composite index: the equality fields in any order, then the normalized order with its
 *   directions. Several composite indexes with the same order part may be merged to cover the
 *   equality fields.
 *
 * A query that needs an index the file lacks fails with FAILED_PRECONDITION and production's
 * message (with a console link built like production's), followed by the definition to add to
 * firestore.indexes.json.
 */
import { readFileSync } from "node:fs";

import { failedPrecondition, invalidArgument } from "./errors";
import { parseFieldPath } from "./fieldPath";
import { indexNeeds } from "./query";
import type { IndexNeed, IndexedField, StructuredQuery } from "./query";

type Scope = "COLLECTION" | "COLLECTION_GROUP";
type Kind = "ASCENDING" | "DESCENDING" | "CONTAINS";

/** The JSON shape of firestore.indexes.json (as the Firebase CLI reads and writes it). */
export interface IndexesFile {
  indexes?: Array<{
    collectionGroup: string;
    queryScope?: Scope;
    fields: Array<{
      fieldPath: string;
      order?: "ASCENDING" | "DESCENDING";
      arrayConfig?: "CONTAINS";
      vectorConfig?: { dimension: number; flat?: Record<string, never> };
    }>;
  }>;
  fieldOverrides?: Array<{
    collectionGroup: string;
    fieldPath: string;
    indexes?: Array<{ order?: "ASCENDING" | "DESCENDING"; arrayConfig?: "CONTAINS"; queryScope?: Scope }>;
  }>;
}

/** A field an index is read by, and how. */
interface Lookup {
  field: IndexedField;
  kind: Kind;
}

interface CompositeField {
  key: string;
  kind: Kind;
}

interface Composite {
  collectionGroup: string;
  scope: Scope;
  fields: CompositeField[];
  /** A vector index: its last field is the vector field, with this dimension. */
  vector: { key: string; dimension: number } | undefined;
}

const NAME_KEY = JSON.stringify(["__name__"]);

function keyOf(fieldPath: string): string {
  return JSON.stringify(parseFieldPath(fieldPath));
}

function kindOf(f: { order?: string; arrayConfig?: string }, where: string): Kind {
  if (f.arrayConfig === "CONTAINS" && f.order === undefined) return "CONTAINS";
  if ((f.order === "ASCENDING" || f.order === "DESCENDING") && f.arrayConfig === undefined) return f.order;
  throw invalidArgument(
    `${where}: each index field needs exactly one of "order" or "arrayConfig": "CONTAINS".`,
  );
}

function scopeOf(scope: string | undefined, where: string): Scope {
  if (scope === undefined || scope === "COLLECTION" || scope === "COLLECTION_GROUP")
    return scope ?? "COLLECTION";
  throw invalidArgument(`${where}: unknown queryScope "${scope}".`);
}

/** The indexes declared in a firestore.indexes.json file. */
export class IndexSet {
  private readonly composites: Composite[];
  /** `collectionGroup \0 field key` → the field's single-field indexes, when overridden. */
  private readonly overrides = new Map<string, Array<{ scope: Scope; kind: Kind }>>();

  constructor(file: IndexesFile) {
    this.composites = (file.indexes ?? []).map((index, i) => {
      const where = `firestore.indexes.json indexes[${i}]`;
      const last = index.fields.at(-1);
      const vector =
        last?.vectorConfig === undefined
          ? undefined
          : { key: keyOf(last.fieldPath), dimension: last.vectorConfig.dimension };
      const fields = (vector ? index.fields.slice(0, -1) : index.fields).map((f) => ({
        key: keyOf(f.fieldPath),
        kind: kindOf(f, where),
      }));
      // Every index ends with __name__ implicitly; a declared trailing __name__ changes nothing here.
      if (fields.at(-1)?.key === NAME_KEY) fields.pop();
      return {
        collectionGroup: index.collectionGroup,
        scope: scopeOf(index.queryScope, where),
        fields,
        vector,
      };
    });
    (file.fieldOverrides ?? []).forEach((o, i) => {
      const where = `firestore.indexes.json fieldOverrides[${i}]`;
      this.overrides.set(
        `${o.collectionGroup}\0${keyOf(o.fieldPath)}`,
        (o.indexes ?? []).map((x) => ({ scope: scopeOf(x.queryScope, where), kind: kindOf(x, where) })),
      );
    });
  }

  static fromFile(path: string): IndexSet {
    return new IndexSet(JSON.parse(readFileSync(path, "utf8")) as IndexesFile);
  }

  /**
   * Throws FAILED_PRECONDITION when `query` (under `parent`, a documents path) needs an index
   * this set lacks. Invalid queries are left to the query engine.
   */
  check(query: StructuredQuery, parent: string): void {
    let needs: ReturnType<typeof indexNeeds>;
    try {
      needs = indexNeeds(query);
    } catch {
      return; // the query engine reports what is wrong with it
    }
    if (needs.collectionId === undefined) return;
    const scope: Scope = needs.allDescendants ? "COLLECTION_GROUP" : "COLLECTION";
    const project = /^projects\/([^/]+)\//.exec(parent)?.[1] ?? "";
    if (needs.vector !== undefined) {
      for (const term of needs.terms)
        this.checkVector(needs.collectionId, scope, term, needs.vector, project);
      return;
    }
    for (const term of needs.terms) this.checkTerm(needs.collectionId, scope, term, project);
  }

  private singleField(cg: string, key: string, scope: Scope, kind: Kind): boolean {
    const override = this.overrides.get(`${cg}\0${key}`);
    if (override === undefined) return scope === "COLLECTION";
    return override.some((x) => x.scope === scope && x.kind === kind);
  }

  /** The single-field indexes a field has now (for the definition of an override to add). */
  private currentSingleField(cg: string, key: string): Array<{ scope: Scope; kind: Kind }> {
    return (
      this.overrides.get(`${cg}\0${key}`) ?? [
        { scope: "COLLECTION", kind: "ASCENDING" },
        { scope: "COLLECTION", kind: "DESCENDING" },
        { scope: "COLLECTION", kind: "CONTAINS" },
      ]
    );
  }

  private checkTerm(cg: string, scope: Scope, term: IndexNeed, project: string): void {
    const lookups: Lookup[] = [
      ...term.equality.map((field): Lookup => ({ field, kind: "ASCENDING" })),
      ...term.arrayContains.map((field): Lookup => ({ field, kind: "CONTAINS" })),
    ];
    const orderKinds = term.order.map((o): Lookup => ({
      field: o,
      kind: o.descending ? "DESCENDING" : "ASCENDING",
    }));
    // Served by single-field indexes: merged equalities without an order, or one ordered field alone.
    let single: Lookup[] | undefined;
    if (term.order.length === 0) single = lookups;
    else if (term.order.length === 1 && lookups.length === 0) single = orderKinds;
    if (single !== undefined) {
      const missing = single.find(
        (l) =>
          !this.singleField(cg, l.field.key, scope, l.kind) &&
          // an equality can be read from either direction
          !(
            l.kind === "ASCENDING" &&
            term.order.length === 0 &&
            this.singleField(cg, l.field.key, scope, "DESCENDING")
          ),
      );
      if (missing === undefined || this.compositeServes(cg, scope, lookups, orderKinds)) return;
      throw this.singleFieldError(cg, scope, missing.field, missing.kind, project);
    }
    if (this.compositeServes(cg, scope, lookups, orderKinds)) return;
    throw compositeError(cg, scope, [...lookups, ...orderKinds], project);
  }

  /**
   * A vector search needs a vector index on the field with the query's dimension, whose other
   * fields are exactly the pre-filter's equality fields (production's "Missing vector index
   * configuration", with the gcloud command that creates it).
   */
  private checkVector(
    cg: string,
    scope: Scope,
    term: IndexNeed,
    vector: { field: IndexedField; dimension: number },
    project: string,
  ): void {
    const prefilter = [...term.equality, ...term.arrayContains, ...term.order];
    const wanted = new Set(prefilter.map((f) => f.key));
    const served = this.composites.some(
      (index) =>
        index.collectionGroup === cg &&
        index.scope === scope &&
        index.vector?.key === vector.field.key &&
        index.vector.dimension === vector.dimension &&
        index.fields.length === wanted.size &&
        index.fields.every((f) => wanted.has(f.key)),
    );
    if (served) return;
    const fieldConfigs = [
      ...prefilter.map((f) => `--field-config=order=ASCENDING,field-path=${f.text}`),
      `--field-config=vector-config='{"dimension":"${String(vector.dimension)}","flat": "{}"}',field-path=${vector.field.text}`,
    ];
    const definition = {
      collectionGroup: cg,
      queryScope: scope,
      fields: [
        ...prefilter.map((f) => ({ fieldPath: f.text, order: "ASCENDING" })),
        { fieldPath: vector.field.text, vectorConfig: { dimension: vector.dimension, flat: {} } },
      ],
    };
    throw failedPrecondition(
      `Missing vector index configuration. Please create the required index with the following gcloud command: ` +
        `gcloud firestore indexes composite create --project=${project} --collection-group=${cg} --query-scope=${scope} ${fieldConfigs.join(" ")}` +
        ` (local Firestore: add to "indexes" in firestore.indexes.json: ${JSON.stringify(definition)})`,
    );
  }

  /** Whether composite indexes ending with the order, merged, cover every equality lookup. */
  private compositeServes(cg: string, scope: Scope, lookups: Lookup[], order: Lookup[]): boolean {
    const wanted = new Map(lookups.map((l) => [l.field.key, l.kind]));
    const covered = new Set<string>();
    let any = false;
    for (const index of this.composites) {
      if (index.collectionGroup !== cg || index.scope !== scope || index.vector !== undefined) continue;
      const prefixLength = index.fields.length - order.length;
      if (prefixLength < 0) continue;
      const suffix = index.fields.slice(prefixLength);
      if (!suffix.every((f, i) => f.key === order[i]?.field.key && f.kind === order[i].kind)) continue;
      const prefix = index.fields.slice(0, prefixLength);
      const fits = prefix.every((f) => {
        const kind = wanted.get(f.key);
        return kind === "CONTAINS" ? f.kind === "CONTAINS" : kind !== undefined && f.kind !== "CONTAINS";
      });
      if (!fits) continue;
      any = true;
      for (const f of prefix) covered.add(f.key);
    }
    return any && lookups.every((l) => covered.has(l.field.key));
  }

  private singleFieldError(
    cg: string,
    scope: Scope,
    field: IndexedField,
    kind: Kind,
    project: string,
  ): Error {
    const label = `${scope}_${kind === "CONTAINS" ? "ARRAY_CONTAINS" : kind === "ASCENDING" ? "ASC" : "DESC"}`;
    const indexes = [...this.currentSingleField(cg, field.key), { scope, kind }];
    const override = {
      collectionGroup: cg,
      fieldPath: field.text,
      indexes: indexes.map((x) => ({ ...indexFieldJson(x.kind), queryScope: x.scope })),
    };
    const url = `https://console.firebase.google.com/v1/r/project/${project}/firestore/indexes?create_exemption=${base64(
      encodeField(project, cg, field.text, scope, kind),
    )}`;
    return failedPrecondition(
      `The query requires a ${label} index for collection ${cg} and field ${field.text}. You can create it here: ${url}` +
        ` (local Firestore: add to "fieldOverrides" in firestore.indexes.json: ${JSON.stringify(override)})`,
    );
  }
}

function indexFieldJson(kind: Kind): { order: "ASCENDING" | "DESCENDING" } | { arrayConfig: "CONTAINS" } {
  return kind === "CONTAINS" ? { arrayConfig: "CONTAINS" } : { order: kind };
}

function compositeError(cg: string, scope: Scope, fields: Lookup[], project: string): Error {
  const definition = {
    collectionGroup: cg,
    queryScope: scope,
    fields: fields.map((f) => ({ fieldPath: f.field.text, ...indexFieldJson(f.kind) })),
  };
  const last = fields.at(-1)?.kind === "DESCENDING" ? "DESCENDING" : "ASCENDING";
  const url = `https://console.firebase.google.com/v1/r/project/${project}/firestore/indexes?create_composite=${base64(
    encodeIndex(project, cg, scope, [
      ...fields.map((f) => ({ path: f.field.text, kind: f.kind })),
      { path: "__name__", kind: last },
    ]),
  )}`;
  return failedPrecondition(
    `The query requires an index. You can create it here: ${url}` +
      ` (local Firestore: add to "indexes" in firestore.indexes.json: ${JSON.stringify(definition)})`,
  );
}

// Console links carry a google.firestore.admin.v1.Index / Field message, protobuf-encoded, in base64.

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

function bytesField(no: number, bytes: number[]): number[] {
  return [(no << 3) | 2, ...varint(bytes.length), ...bytes];
}

function stringField(no: number, s: string): number[] {
  return bytesField(no, [...Buffer.from(s, "utf8")]);
}

function enumField(no: number, value: number): number[] {
  return [no << 3, ...varint(value)];
}

function encodeIndexBody(scope: Scope, fields: Array<{ path: string; kind: Kind }>): number[] {
  return [
    ...enumField(2, scope === "COLLECTION" ? 1 : 2),
    ...fields.flatMap((f) =>
      bytesField(3, [
        ...stringField(1, f.path),
        ...(f.kind === "CONTAINS" ? enumField(3, 1) : enumField(2, f.kind === "ASCENDING" ? 1 : 2)),
      ]),
    ),
  ];
}

function encodeIndex(
  project: string,
  cg: string,
  scope: Scope,
  fields: Array<{ path: string; kind: Kind }>,
): number[] {
  return [
    ...stringField(1, `projects/${project}/databases/(default)/collectionGroups/${cg}/indexes/_`),
    ...encodeIndexBody(scope, fields),
  ];
}

function encodeField(project: string, cg: string, path: string, scope: Scope, kind: Kind): number[] {
  return [
    ...stringField(1, `projects/${project}/databases/(default)/collectionGroups/${cg}/fields/${path}`),
    ...bytesField(2, bytesField(1, encodeIndexBody(scope, [{ path, kind }]))),
  ];
}

function base64(bytes: number[]): string {
  return Buffer.from(bytes).toString("base64").replace(/=+$/, "");
}
