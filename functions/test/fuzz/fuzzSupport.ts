/**
 * Shared machinery of the fuzz suites (test/fuzz/*.fuzz.test.ts):
 *
 * - `assertFuzz`: `fc.assert` with a fixed, printed seed (override with FUZZ_SEED, scale the run counts with
 *   FUZZ_RUNS_SCALE) so every failure is replayable.
 * - `FuzzDb`: the local Firestore's whole store as the unit of comparison. A fixture is exported once per test
 *   and re-imported before every fuzz case (each case starts from the same state, so shrinking is sound); a
 *   `DbMark` taken before a call is compared after it to prove "wrote nothing" two ways: the exported store
 *   (every document: fields, createTime, updateTime) is byte-for-byte identical, and the server's counter of
 *   applied document writes did not move. The first catches any change of content; the second also catches a
 *   write that happened to leave a document as it was (which the export alone could not see).
 * - `auditEnrollments`: the money invariants, read back through firebase-admin: for every enrollment, totals
 *   equal the ledger (nothing lost, nothing counted twice), the derived fields follow the README's status
 *   policy (re-implemented here, independently of src/domain), and every money value is stored as an integer.
 */
import fc from "fast-check";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { firestore } from "../../src/shared/admin";
import { expectedStatuses } from "../../src/testing/kit";
import type { LocalFirestoreServer } from "../support/localFirestore";

// ---------------------------------------------------------------------------------------------- seeds, runs

/** The suite's fixed seed; `FUZZ_SEED=<int>` explores other seeds or replays a printed failure. */
export const FUZZ_SEED = integerFromEnv("FUZZ_SEED") ?? 0x5eed_2026;
/** True unless FUZZ_SEED overrides the suite's seed (coverage minimums are only enforced for the fixed seed). */
export const FUZZ_SEED_IS_DEFAULT = integerFromEnv("FUZZ_SEED") === undefined;
/** `FUZZ_RUNS_SCALE=<n>` multiplies every property's run count (the default keeps the suite under a minute). */
const RUNS_SCALE = integerFromEnv("FUZZ_RUNS_SCALE") ?? 1;

function integerFromEnv(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw new Error(`${name} must be an integer, got ${raw}`);
  return value;
}

export function runs(base: number): number {
  return Math.max(1, Math.round(base * RUNS_SCALE));
}

/**
 * Runs a property with the suite seed. On failure the error names the property, the seed and the run count
 * and keeps fast-check's own report (counterexample after shrinking, `{ seed, path }` for an exact replay).
 */
export async function assertFuzz<Ts extends [unknown, ...unknown[]]>(
  name: string,
  property: fc.IAsyncProperty<Ts>,
  numRuns: number,
): Promise<void> {
  const seed = FUZZ_SEED;
  try {
    await fc.assert(property, { seed, numRuns, includeErrorInReport: true });
  } catch (error) {
    const report = error instanceof Error ? error.message : String(error);
    const testName = (expect.getState().currentTestName ?? name).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    throw new Error(
      `[fuzz] "${name}" failed with seed ${seed} (numRuns ${numRuns}). ` +
        `Replay: FUZZ_SEED=${seed} FUZZ_RUNS_SCALE=${RUNS_SCALE} npx jest test/fuzz -t '${testName}'\n${report}`,
    );
  }
}

// ------------------------------------------------------------------------------------------ whole-store I/O

interface StoreIo {
  exportTo(file: string): Promise<void>;
  importFrom(file: string): Promise<void>;
  stats(): { writes: number; deletes?: number };
}

interface ExportedDoc {
  name: string;
  fields: Record<string, unknown>;
}

/** What the store looked like, and how many writes the server had applied, at one moment. */
export interface DbMark {
  dump: string;
  writes: number;
}

export class FuzzDb {
  private dir: string | undefined;

  constructor(private readonly server: () => LocalFirestoreServer) {}

  private io(): StoreIo {
    // exportTo/importFrom/stats are part of tools/local-firestore's programmatic API (see its README).
    return this.server() as unknown as StoreIo;
  }

  private async file(name: string): Promise<string> {
    this.dir ??= await mkdtemp(path.join(os.tmpdir(), "fuzz-db-"));
    return path.join(this.dir, name);
  }

  async saveFixture(): Promise<void> {
    await this.io().exportTo(await this.file("fixture.json"));
  }

  async restoreFixture(): Promise<void> {
    await this.io().importFrom(await this.file("fixture.json"));
  }

  async dump(): Promise<string> {
    const file = await this.file("dump.json");
    await this.io().exportTo(file);
    return readFile(file, "utf8");
  }

  writeCount(): number {
    const stats = this.io().stats();
    return stats.writes + (stats.deletes ?? 0);
  }

  async mark(): Promise<DbMark> {
    return { dump: await this.dump(), writes: this.writeCount() };
  }

  /** Throws (naming the documents that changed) unless nothing was written since `before`. */
  async expectUnchangedSince(before: DbMark, what: string): Promise<void> {
    const after = await this.mark();
    if (after.dump === before.dump && after.writes === before.writes) return;
    throw new Error(
      `${what}: expected no writes, but ${after.writes - before.writes} document write(s) were applied; ` +
        `changed documents: ${changedDocuments(before.dump, after.dump).join(", ") || "(none by content)"}`,
    );
  }

  /**
   * Throws unless exactly the changes `only` ("created <path>", "changed <path>") were written since `before`, one
   * document write each.
   */
  async expectOnlySince(before: DbMark, only: readonly string[], what: string): Promise<void> {
    const after = await this.mark();
    const changed = changedDocuments(before.dump, after.dump);
    const same = JSON.stringify([...changed].sort()) === JSON.stringify([...only].sort());
    if (same && after.writes - before.writes === only.length) return;
    throw new Error(
      `${what}: expected exactly "${only.join(", ")}", but ${after.writes - before.writes} document write(s) were ` +
        `applied; changed documents: ${changed.join(", ") || "(none by content)"}`,
    );
  }

  /** The fields of document `path` (relative to the database root) whose stored values differ since `before`. */
  async fieldsChangedSince(before: DbMark, path: string): Promise<string[]> {
    const fieldsIn = (dump: string): Record<string, unknown> =>
      (JSON.parse(dump) as { documents: ExportedDoc[] }).documents.find((d) =>
        d.name.endsWith(`/documents/${path}`),
      )?.fields ?? {};
    const a = fieldsIn(before.dump);
    const b = fieldsIn(await this.dump());
    return [...new Set([...Object.keys(a), ...Object.keys(b)])]
      .filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]))
      .sort();
  }

  /** Every document of the store, by path relative to the database root. */
  async documents(): Promise<Map<string, Record<string, unknown>>> {
    const parsed = JSON.parse(await this.dump()) as { documents: ExportedDoc[] };
    return new Map(parsed.documents.map((d) => [d.name.replace(/^.*?\/documents\//, ""), d.fields]));
  }

  async close(): Promise<void> {
    if (this.dir !== undefined) await rm(this.dir, { recursive: true, force: true });
  }
}

function changedDocuments(before: string, after: string): string[] {
  const index = (dump: string) =>
    new Map(
      (JSON.parse(dump) as { documents: ExportedDoc[] }).documents.map((d) => [d.name, JSON.stringify(d)]),
    );
  const a = index(before);
  const b = index(after);
  const names = new Set([...a.keys(), ...b.keys()]);
  return [...names]
    .filter((n) => a.get(n) !== b.get(n))
    .map(
      (n) =>
        `${a.has(n) ? (b.has(n) ? "changed" : "deleted") : "created"} ${n.replace(/^.*?\/documents\//, "")}`,
    );
}

// --------------------------------------------------------------------------------------- money invariants

export interface LedgerEntryView {
  id: string;
  amount: number;
  type: string;
  providerPaymentId: string;
}

export interface EnrollmentAudit {
  path: string;
  uid: string;
  courseId: string;
  amountPaid: number;
  ledger: LedgerEntryView[];
}

const MONEY_FIELDS = new Set(["amount", "price", "amountPaid", "amountDue", "amountOverpaid", "revenue"]);

function isInt(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value);
}

/**
 * Reads every enrollment and its ledger back through firebase-admin and checks, for each:
 * amountPaid = Σ ledger amounts, ledgerCount = #entries, refundCount = #refunds − #reversals, refundedByPayment =
 * Σ refunds net of reversals per payment, openDisputes = #open disputes, the derived fields by the status policy, entry signs by
 * type and currency = the enrollment's. Across enrollments, no provider id is in two ledgers. Also checks, in the
 * raw store, that every money field is an integerValue (never a double such as -0 or 1.5).
 */
/** Per-payment cents where an absent key means 0 (a refund and its reversal in one commit leave no key). */
function withoutZeros(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(Object.entries(value).filter(([, cents]) => cents !== 0));
}

export async function auditEnrollments(db: FuzzDb): Promise<EnrollmentAudit[]> {
  const enrollments = (await firestore().collectionGroup("courses").get()).docs.filter(
    (d) => d.ref.parent.parent?.parent.id === "users",
  );
  const audits: EnrollmentAudit[] = [];
  const owners = new Map<string, string>();
  for (const doc of enrollments) {
    const e = doc.data();
    const where = doc.ref.path;
    const ledgerSnap = await doc.ref.collection("ledger").get();
    const ledger: LedgerEntryView[] = ledgerSnap.docs.map((d) => ({
      id: d.id,
      amount: d.get("amount") as number,
      type: d.get("type") as string,
      providerPaymentId: d.get("providerPaymentId") as string,
    }));
    for (const entry of ledger) {
      const ok =
        isInt(entry.amount) &&
        ((entry.type === "payment" && entry.amount > 0) ||
          (entry.type === "refund" && entry.amount < 0) ||
          (entry.type === "refund-reversal" && entry.amount > 0) ||
          (entry.type === "adjustment" && entry.amount !== 0));
      if (!ok) throw new Error(`${where}/ledger/${entry.id}: bad entry ${JSON.stringify(entry)}`);
      // Provider ids (pi_, re_, dp_…) are global; manual ids are scoped to their enrollment.
      if (entry.id.startsWith("manual")) continue;
      const owner = owners.get(entry.id);
      if (owner !== undefined)
        throw new Error(`provider id ${entry.id} is in two ledgers: ${owner}, ${where}`);
      owners.set(entry.id, where);
    }
    const currencies = ledgerSnap.docs.map((d) => d.get("currency") as unknown);
    const sum = ledger.reduce((s, x) => s + x.amount, 0);
    // README: a refund counts until its reversal (a refund that failed) gives it back.
    const refunds = ledger.filter((x) => x.type === "refund");
    const reversals = ledger.filter((x) => x.type === "refund-reversal");
    const refundCount = refunds.length - reversals.length;
    const refundedByPayment: Record<string, number> = {};
    for (const r of [...refunds, ...reversals])
      refundedByPayment[r.providerPaymentId] = (refundedByPayment[r.providerPaymentId] ?? 0) - r.amount;
    const disputes = (e.disputes ?? {}) as Record<string, { status?: unknown }>;
    const openDisputes = Object.values(disputes).filter((d) => d.status === "open").length;
    const price = e.price as number;
    const actual = {
      amountPaid: e.amountPaid as unknown,
      ledgerCount: e.ledgerCount as unknown,
      refundCount: e.refundCount as unknown,
      refundedByPayment: withoutZeros(e.refundedByPayment),
      openDisputes: e.openDisputes as unknown,
      amountDue: e.amountDue as unknown,
      amountOverpaid: e.amountOverpaid as unknown,
      paymentStatus: e.paymentStatus as unknown,
      accessStatus: e.accessStatus as unknown,
      ledgerCurrencies: [...new Set(currencies)],
    };
    const expected = {
      amountPaid: sum,
      ledgerCount: ledger.length,
      refundCount,
      refundedByPayment: withoutZeros(refundedByPayment),
      openDisputes,
      ...expectedStatuses({ price, amountPaid: sum, refundCount, openDisputes }),
      ledgerCurrencies: ledger.length === 0 ? [] : [e.currency as unknown],
    };
    if (!isDeepStrictEqual(actual, expected)) {
      throw new Error(
        `${where} does not match its ledger:\n  stored   ${JSON.stringify(actual)}\n  expected ${JSON.stringify(expected)}`,
      );
    }
    audits.push({
      path: where,
      uid: e.uid as string,
      courseId: e.courseId as string,
      amountPaid: sum,
      ledger,
    });
  }
  await expectIntegerMoney(db);
  return audits;
}

/** Every money field anywhere in the store is stored as an integerValue. */
async function expectIntegerMoney(db: FuzzDb): Promise<void> {
  const bad: string[] = [];
  const visit = (docPath: string, fieldPath: string, value: unknown): void => {
    if (typeof value !== "object" || value === null) return;
    const v = value as Record<string, unknown>;
    const leaf = fieldPath.split(".").pop() ?? "";
    if (MONEY_FIELDS.has(leaf) && !("integerValue" in v) && !("nullValue" in v) && !("mapValue" in v)) {
      bad.push(`${docPath}:${fieldPath}=${JSON.stringify(v)}`);
    }
    const map = v.mapValue as { fields?: Record<string, unknown> } | undefined;
    for (const [k, inner] of Object.entries(map?.fields ?? {})) visit(docPath, `${fieldPath}.${k}`, inner);
  };
  for (const [docPath, fields] of await db.documents()) {
    for (const [k, v] of Object.entries(fields)) visit(docPath, k, v);
  }
  if (bad.length > 0) throw new Error(`money stored as non-integers: ${bad.slice(0, 5).join("; ")}`);
}

// ------------------------------------------------------------------------------------- hostile value pools

/** README: any single amount has at most 12 digits of minor units (Stripe's largest charge, in IDR). */
export const MAX_AMOUNT_CENTS = 999_999_999_999;

/** Strings that are wrong for every id-like field, plus some that are right for uids only. */
export const HOSTILE_STRINGS: readonly string[] = [
  "",
  " ",
  "\t",
  "a/b",
  "/",
  "c1/ledger/x",
  "../c1",
  ".",
  "..",
  "__x__",
  "__proto__",
  "__",
  "constructor",
  "prototype",
  "x".repeat(129),
  "x".repeat(65_536),
  "\u0000",
  "a\u0000b",
  "c1\n",
  " c1",
  "c1 ",
  "C1",
  "\ud800",
  "a\udc00b",
  "\udbff\udfff",
  "😀",
  "ü",
  "\u202e",
  "\u200b",
  "\ufeff",
  "%2F",
  "<script>",
  "' OR 1=1 --",
  "${x}",
  "\\",
  "*",
  "null",
  "NaN",
  "1",
  "-1",
];

/** Numbers around every boundary an amount has, and the ones JSON cannot even carry. */
export const HOSTILE_NUMBERS: readonly number[] = [
  0,
  -0,
  -1,
  1,
  0.5,
  1.5,
  999.999,
  1e-7,
  NaN,
  Infinity,
  -Infinity,
  2 ** 31,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  Number.MAX_SAFE_INTEGER,
  MAX_AMOUNT_CENTS,
  MAX_AMOUNT_CENTS + 1,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  1e21,
  -1e21,
];

export const WRONG_TYPES: readonly unknown[] = [null, true, false, [], {}, [1], { value: 1 }, ["c1"]];

/** Strings containing lone surrogates (not well-formed UTF-16: they cannot be encoded as UTF-8). */
export const loneSurrogateString = fc
  .tuple(
    fc.string({ maxLength: 6 }),
    fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
    fc.string({ maxLength: 6 }),
  )
  .map(([a, s, b]) => a + s + b);

/** `depth` levels of arrays/objects around a value. */
export function nest(value: unknown, depth: number, asObject: boolean): unknown {
  let v = value;
  for (let i = 0; i < depth; i++) v = asObject ? { a: v } : [v];
  return v;
}

/** Any value a field could receive: right ones, boundary ones, wrong types, arbitrary JSON and unicode. */
export function anyFieldValue(valid: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 6, arbitrary: valid },
    { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
    { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_NUMBERS) },
    { weight: 1, arbitrary: fc.constantFrom(...WRONG_TYPES) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
    { weight: 1, arbitrary: loneSurrogateString },
    { weight: 1, arbitrary: fc.double() },
    { weight: 1, arbitrary: fc.integer({ min: -(2 ** 31), max: 2 ** 31 }) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(valid, fc.integer({ min: 9, max: 400 }), fc.boolean())
        .map(([v, depth, asObject]) => nest(v, depth, asObject)),
    },
  );
}

/** Keys that must never reach a schema or an object spread, and a few that look like privileges. */
export const HOSTILE_KEYS: readonly string[] = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "admin",
  "uid",
  "amountPaid",
  "paymentStatus",
  "__x__",
  "",
];

/**
 * Builds a callable's `data` from key/value entries, the way the wire would: either straight (as
 * firebase-functions-test passes it, so NaN, Infinity and -0 survive) or through JSON text and JSON.parse (as the
 * callable protocol's body parser does, so `__proto__` becomes an own key and NaN becomes null).
 */
export function objectFrom(entries: readonly (readonly [string, unknown])[], viaJson: boolean): unknown {
  if (!viaJson) return Object.fromEntries(entries);
  // JSON.stringify(undefined) is undefined: the wire would carry nothing, so send null.
  const json = (v: unknown): string => (v === undefined ? "null" : JSON.stringify(v));
  const text = `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${json(v)}`).join(",")}}`;
  return JSON.parse(text) as unknown;
}
