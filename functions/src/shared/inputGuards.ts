/** Structural guards applied to untrusted JSON before schema parsing. No dependencies (cheap to load). */

const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);
/** Callable inputs are flat; webhook bodies (Stripe objects) nest deeper. */
export const MAX_INPUT_DEPTH = 8;

/**
 * True when a JSON-like value contains an own key `__proto__`/`constructor`/`prototype` at any depth, an object
 * whose prototype is not the plain object one (or an array whose is not Array's), or is nested deeper than our
 * inputs ever are. Checked before zod so hostile keys never reach any object spread.
 *
 * The prototype check matters for callables: firebase-functions decodes the request's JSON by assigning each key,
 * so a `"__proto__": {...}` key becomes the PROTOTYPE of the decoded object (no own key left to see), and a schema
 * would read fields such as `uid` through it.
 */
export function hasForbiddenKeys(value: unknown, maxDepth = MAX_INPUT_DEPTH, depth = 0): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (depth > maxDepth) return true;
  const proto: unknown = Object.getPrototypeOf(value);
  if (Array.isArray(value)) {
    if (proto !== Array.prototype) return true;
    return value.some((v) => hasForbiddenKeys(v, maxDepth, depth + 1));
  }
  if (proto !== Object.prototype && proto !== null) return true;
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.has(key)) return true;
    if (hasForbiddenKeys((value as Record<string, unknown>)[key], maxDepth, depth + 1)) return true;
  }
  return false;
}
