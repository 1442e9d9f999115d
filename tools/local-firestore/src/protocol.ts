import type { StructuredQuery } from "./query";
import type { Timestamp, Value } from "./types";

/**
 * The Firestore v1 API as this server serves it: every method with its kind and message types
 * (the names in the official protos), and the request shapes the operations read. Declared
 * once; the gRPC, REST and WebChannel adapters all decode into these shapes (those of
 * @grpc/proto-loader: camelCase keys, int64 as decimal strings, bytes as Buffers, enums by name).
 */

export type MethodKind = "unary" | "server-stream" | "bidi-stream";

export interface MethodSpec {
  kind: MethodKind;
  /** Request message type in `google.firestore.v1`. */
  request: string;
  /** Response message type (`google.protobuf.Empty` for none). */
  response: string;
}

export const METHODS = {
  GetDocument: { kind: "unary", request: "GetDocumentRequest", response: "Document" },
  ListDocuments: { kind: "unary", request: "ListDocumentsRequest", response: "ListDocumentsResponse" },
  CreateDocument: { kind: "unary", request: "CreateDocumentRequest", response: "Document" },
  UpdateDocument: { kind: "unary", request: "UpdateDocumentRequest", response: "Document" },
  DeleteDocument: { kind: "unary", request: "DeleteDocumentRequest", response: "google.protobuf.Empty" },
  BatchGetDocuments: {
    kind: "server-stream",
    request: "BatchGetDocumentsRequest",
    response: "BatchGetDocumentsResponse",
  },
  BeginTransaction: {
    kind: "unary",
    request: "BeginTransactionRequest",
    response: "BeginTransactionResponse",
  },
  Commit: { kind: "unary", request: "CommitRequest", response: "CommitResponse" },
  Rollback: { kind: "unary", request: "RollbackRequest", response: "google.protobuf.Empty" },
  RunQuery: { kind: "server-stream", request: "RunQueryRequest", response: "RunQueryResponse" },
  RunAggregationQuery: {
    kind: "server-stream",
    request: "RunAggregationQueryRequest",
    response: "RunAggregationQueryResponse",
  },
  PartitionQuery: { kind: "unary", request: "PartitionQueryRequest", response: "PartitionQueryResponse" },
  ListCollectionIds: {
    kind: "unary",
    request: "ListCollectionIdsRequest",
    response: "ListCollectionIdsResponse",
  },
  BatchWrite: { kind: "unary", request: "BatchWriteRequest", response: "BatchWriteResponse" },
  Write: { kind: "bidi-stream", request: "WriteRequest", response: "WriteResponse" },
  Listen: { kind: "bidi-stream", request: "ListenRequest", response: "ListenResponse" },
} as const satisfies Record<string, MethodSpec>;

export type MethodName = keyof typeof METHODS;
export type CallMethod = {
  [K in MethodName]: (typeof METHODS)[K]["kind"] extends "bidi-stream" ? never : K;
}[MethodName];
export type StreamMethod = Exclude<MethodName, CallMethod>;

export function isMethod(name: string): name is MethodName {
  return Object.prototype.hasOwnProperty.call(METHODS, name);
}

// ---------------------------------------------------------------------------------------------
// Request shapes

export interface TransactionOptions {
  readOnly?: { readTime?: Timestamp };
  readWrite?: { retryTransaction?: Uint8Array };
}

/** The consistency selector shared by the read methods. */
export interface ConsistencyFields {
  transaction?: Uint8Array;
  newTransaction?: TransactionOptions;
  readTime?: Timestamp;
}

export interface Precondition {
  exists?: boolean;
  updateTime?: Timestamp;
}

export interface DocumentMask {
  fieldPaths?: string[];
}

export interface GetDocumentRequest extends ConsistencyFields {
  name?: string;
  mask?: DocumentMask;
}

export interface BatchGetDocumentsRequest extends ConsistencyFields {
  database?: string;
  documents?: string[];
  mask?: DocumentMask;
}

export interface BeginTransactionRequest {
  database?: string;
  options?: TransactionOptions;
}

export interface CommitRequest {
  database?: string;
  writes?: unknown[];
  transaction?: Uint8Array;
}

export interface RollbackRequest {
  database?: string;
  transaction?: Uint8Array;
}

export interface RunQueryRequest extends ConsistencyFields {
  parent?: string;
  structuredQuery?: unknown;
}

export interface RunAggregationQueryRequest extends ConsistencyFields {
  parent?: string;
  structuredAggregationQuery?: unknown;
}

export interface ListDocumentsRequest extends ConsistencyFields {
  parent?: string;
  collectionId?: string;
  pageSize?: number;
  pageToken?: string;
  mask?: DocumentMask;
  showMissing?: boolean;
}

export interface ListCollectionIdsRequest extends ConsistencyFields {
  parent?: string;
  pageSize?: number;
  pageToken?: string;
}

export interface BatchWriteRequest {
  database?: string;
  writes?: unknown[];
}

export interface CreateDocumentRequest {
  parent?: string;
  collectionId?: string;
  documentId?: string;
  document?: { fields?: Record<string, Value> };
}

export interface UpdateDocumentRequest {
  document?: { name?: string; fields?: Record<string, Value> };
  updateMask?: DocumentMask;
  currentDocument?: Precondition;
}

export interface DeleteDocumentRequest {
  name?: string;
  currentDocument?: Precondition;
}

export interface ListenRequest {
  database?: string;
  addTarget?: {
    targetId?: number;
    documents?: { documents?: string[] };
    query?: { parent?: string; structuredQuery?: StructuredQuery };
    resumeToken?: Uint8Array;
    readTime?: unknown;
    once?: boolean;
  };
  removeTarget?: number;
}

export interface WriteRequest {
  database?: string;
  streamId?: string;
  writes?: unknown[];
  streamToken?: Uint8Array;
}
