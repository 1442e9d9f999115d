/**
 * Dead letters as admins act on them (services/deadLetterService): `open` until a replay resolves it (`replayed`)
 * or an admin dismisses it (`dismissed`); both are final. Pure: no Firebase imports.
 */
import type { WebhookCommand } from "./webhookMapping";

export type DeadLetterStatus = "open" | "replayed" | "dismissed";

/** Dead letters written before they had a status are open. */
export function deadLetterStatus(stored: DeadLetterStatus | undefined): DeadLetterStatus {
  return stored ?? "open";
}

/**
 * What a replay request does with a dead letter in `status`: run it (open), answer what the earlier replay with
 * the same `requestId` answered (a retry of a replay that resolved it), or refuse (resolved otherwise).
 */
export function decideReplayRequest(
  status: DeadLetterStatus,
  resolution: { requestId: string | null; outcome: string | null } | undefined,
  requestId: string | undefined,
): "replay" | "answer-stored" | "refuse" {
  if (status === "open") return "replay";
  const sameRequest = status === "replayed" && requestId !== undefined && resolution?.requestId === requestId;
  return sameRequest ? "answer-stored" : "refuse";
}

export interface CommandPreview {
  command: WebhookCommand["kind"];
  note: string | null;
  uid: string | null;
  courseId: string | null;
  providerPaymentId: string | null;
  entries: { id: string; type: string; amount: number; currency: string }[];
}

/** What a mapped event would do, as an admin reads it before replaying. */
export function previewCommand(command: WebhookCommand): CommandPreview {
  const none = { uid: null, courseId: null, providerPaymentId: null, entries: [] };
  switch (command.kind) {
    case "deadLetter":
      return { command: command.kind, note: command.reason, ...none };
    case "noop":
      return { command: command.kind, note: command.reason, ...none };
    case "applyEntries":
    case "paymentEnded":
    case "dispute": {
      const target = command.target;
      const known = target.kind === "known" ? target : null;
      const providerPaymentId =
        target.kind === "lookup"
          ? target.providerPaymentId
          : command.kind === "applyEntries"
            ? (command.entries[0]?.providerPaymentId ?? null)
            : command.kind === "paymentEnded"
              ? command.providerPaymentId
              : null;
      const entries =
        command.kind === "applyEntries"
          ? command.entries.map((e) => ({ id: e.id, type: e.type, amount: e.amount, currency: e.currency }))
          : [];
      return {
        command: command.kind,
        note: null,
        uid: known?.uid ?? null,
        courseId: known?.courseId ?? null,
        providerPaymentId,
        entries,
      };
    }
  }
}
