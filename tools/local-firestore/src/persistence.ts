import { readFile, writeFile } from "node:fs/promises";
import type { StoredDocument } from "./types";

/**
 * Import/export of all documents as one JSON file (`--import`, `--export_on_exit`, the
 * `/emulator/v1/export|import` endpoints). Bytes values are written as `{"$bytes": base64}`.
 */

interface ExportFile {
  version: 1;
  documents: StoredDocument[];
}

export async function writeExport(path: string, documents: Iterable<StoredDocument>): Promise<void> {
  const file: ExportFile = { version: 1, documents: [...documents] };
  await writeFile(path, JSON.stringify(file, bytesReplacer));
}

export async function readExport(path: string): Promise<StoredDocument[]> {
  const file = JSON.parse(await readFile(path, "utf8"), bytesReviver) as ExportFile;
  if ((file.version as number) !== 1 || !Array.isArray(file.documents))
    throw new Error(`${path} is not a local-firestore export`);
  return file.documents;
}

function bytesReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString("base64") };
  if (value && typeof value === "object" && (value as { type?: string }).type === "Buffer") {
    const data = (value as { data?: number[] }).data;
    if (Array.isArray(data)) return { $bytes: Buffer.from(data).toString("base64") };
  }
  return value;
}

function bytesReviver(_key: string, value: unknown): unknown {
  if (value && typeof value === "object" && typeof (value as { $bytes?: unknown }).$bytes === "string") {
    return Buffer.from((value as { $bytes: string }).$bytes, "base64");
  }
  return value;
}
