import { invalidArgument } from "./errors";

/** `projects/{p}/databases/{d}/documents` prefix of every document name. */
export interface DatabaseName {
  projectId: string;
  databaseId: string;
}

const DB_RE = /^projects\/([^/]+)\/databases\/([^/]+)$/;

export function parseDatabase(database: string): DatabaseName {
  const m = DB_RE.exec(database);
  if (!m?.[1] || !m[2]) throw invalidArgument(`Invalid database name: "${database}"`);
  return { projectId: m[1], databaseId: m[2] };
}

export function documentsRoot(db: DatabaseName): string {
  return `projects/${db.projectId}/databases/${db.databaseId}/documents`;
}

/** Splits a document name into its database root and the relative path ("users/u1"). */
export function splitDocumentName(name: string): { root: string; path: string; segments: string[] } {
  const idx = name.indexOf("/documents/");
  if (idx < 0) throw invalidArgument(`Invalid document name: "${name}"`);
  const root = name.slice(0, idx + "/documents".length);
  parseDatabase(root.slice(0, -"/documents".length));
  const path = name.slice(idx + "/documents/".length);
  const segments = path.split("/");
  if (segments.length % 2 !== 0 || segments.some((s) => s.length === 0)) {
    throw invalidArgument(
      `Invalid document name: "${name}" (a document path has an even number of segments)`,
    );
  }
  for (const s of segments) {
    // `__id<n>__` (n an int64) is a numeric id, ordered before string ids; other `__…__` ids are reserved.
    if (s === "." || s === ".." || (/^__.*__$/.test(s) && !isNumericId(s))) {
      throw invalidArgument(`Invalid document name: "${name}" (segment "${s}" is reserved)`);
    }
    if (Buffer.byteLength(s) > 1500) throw invalidArgument(`Document id longer than 1500 bytes in "${name}"`);
  }
  return { root, path, segments };
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function isNumericId(segment: string): boolean {
  const digits = /^__id(-?\d{1,19})__$/.exec(segment)?.[1];
  if (digits === undefined) return false;
  const n = BigInt(digits);
  return n >= INT64_MIN && n <= INT64_MAX;
}

/** Validates a parent (database root or a document name) used by queries and listings. */
export function validateParent(parent: string): { root: string; isRoot: boolean } {
  if (parent.endsWith("/documents")) {
    parseDatabase(parent.slice(0, -"/documents".length));
    return { root: parent, isRoot: true };
  }
  const { root } = splitDocumentName(parent);
  return { root, isRoot: false };
}

/** The id of the collection directly containing a document. */
export function collectionIdOf(name: string): string {
  const parts = name.split("/");
  return parts[parts.length - 2] ?? "";
}
