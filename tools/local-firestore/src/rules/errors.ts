/** A rules file that cannot be loaded: a syntax error or a construct this evaluator does not support. */
export class RulesCompileError extends Error {
  constructor(
    readonly detail: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`firestore.rules:${line}:${column}: ${detail}`);
    this.name = "RulesCompileError";
  }
}

/**
 * An evaluation error inside a condition (undefined property, wrong type, null value...).
 * Production treats these as values that make the enclosing `allow` false unless a
 * short-circuiting `&&`/`||` decides the result without them.
 */
export class RulesEvalError extends Error {
  constructor(
    message: string,
    readonly line = 0,
    readonly column = 0,
  ) {
    super(line > 0 ? `${message} (at ${line}:${column})` : message);
    this.name = "RulesEvalError";
  }
}

/** An error that denies the whole request (document access limit, call depth). */
export class RulesFatalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RulesFatalError";
  }
}
