export { start } from "./server";
export type { LocalFirestore, StartOptions, Stats } from "./server";
export type { FaultKind, FaultRule } from "./faults";
export type { IndexesFile } from "./indexes";
export type { AccessCheck, OperationCounts } from "./engine";
export { matchDocumentPattern, encodeEventData } from "./triggers";
export { parseFieldPath } from "./fieldPath";
