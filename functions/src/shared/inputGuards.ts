/** Structural guards applied to untrusted JSON before schema parsing. No dependencies (cheap to load). */

const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);
/** Callable inputs are flat; webhook bodies (Stripe objects) nest deeper. */
export const MAX_INPUT_DEPTH = 8;

/**
 * True when a JSON-like value contains an own key `__proto__`/`constructor`/`prototype` at any depth, or is
 * nested deeper than our inputs ever are. Checked before zod so hostile keys never reach any object spread.
 */
export function hasForbiddenKeys(value: unknown, maxDepth = MAX_INPUT_DEPTH, depth = 0): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (depth > maxDepth) return true;
  if (Array.isArray(value)) return value.some((v) => hasForbiddenKeys(v, maxDepth, depth + 1));
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.has(key)) return true;
    if (hasForbiddenKeys((value as Record<string, unknown>)[key], maxDepth, depth + 1)) return true;
  }
  return false;
}
