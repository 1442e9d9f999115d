import { z } from "zod";
import { DOC_ID_PATTERN, UID_PATTERN } from "../domain/ids";
import { MAX_AMOUNT_CENTS } from "../domain/money";

export const docIdSchema = z
  .string()
  .regex(DOC_ID_PATTERN, "must be 1-128 chars of A-Z a-z 0-9 _ -, not __x__");

/** Firebase Auth uids are looser than our ids; still refuse anything that is not a safe single path segment. */
export const uidSchema = z.string().regex(UID_PATTERN, "not a valid uid");

/** Client-generated request id (retry key): 8–128 chars of [A-Za-z0-9_-]. */
export const requestIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{8,128}$/, "must be 8-128 chars of A-Z a-z 0-9 _ -");

/** Manual payment reference: becomes part of the ledger id `manual_<reference>`. */
export const referenceSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "must be 1-64 chars of A-Z a-z 0-9 _ -");

/** A positive amount in cents. */
export const positiveCentsSchema = z.int().min(1).max(MAX_AMOUNT_CENTS);

/** A price in cents (0 = free course). `-0` (valid JSON) becomes 0: firebase-admin would store it as a double. */
export const priceCentsSchema = z
  .int()
  .min(0)
  .max(MAX_AMOUNT_CENTS)
  .transform((cents) => (cents === 0 ? 0 : cents));

/** ISO 4217 code in lower case, as Stripe uses it. */
export const currencySchema = z.string().regex(/^[a-z]{3}$/, "must be a 3-letter lowercase currency code");

/** Single-line human text without control characters. */
export const titleSchema = z
  .string()
  .trim()
  .min(1)
  .max(200)
  // eslint-disable-next-line no-control-regex
  .regex(/^[^\u0000-\u001f\u007f]*$/, "must not contain control characters")
  // A lone UTF-16 surrogate cannot be encoded as UTF-8: it would be stored mangled (or refused by Firestore).
  .refine(
    (s) => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s),
    "must be well-formed text",
  );

export { MAX_INPUT_DEPTH, hasForbiddenKeys } from "../shared/inputGuards";
