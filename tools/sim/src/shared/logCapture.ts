/**
 * Captures the backend's structured logs. firebase-functions' logger keeps a reference to the console methods
 * it finds when it is first loaded, so this must be installed BEFORE the backend is required. Entries are
 * counted by severity and message; the first few errors are kept for the report. Simulation output goes to
 * process.stdout / process.stderr directly, never through console.
 */

export interface CapturedEntry {
  severity: string;
  message: string;
  fields: Record<string, unknown>;
}

export class LogCapture {
  /** Count per `severity message` (message truncated to its first line). */
  readonly counts = new Map<string, number>();
  readonly firstErrors: CapturedEntry[] = [];
  private readonly keepErrors: number;
  private readonly passThrough: boolean;
  private readonly saved = new Map<string, (...args: unknown[]) => void>();

  constructor(options: { keepErrors?: number; passThrough?: boolean } = {}) {
    this.keepErrors = options.keepErrors ?? 20;
    this.passThrough = options.passThrough ?? false;
  }

  install(): void {
    const methods = ["log", "info", "warn", "error", "debug"] as const;
    const target = console as unknown as Record<string, (...args: unknown[]) => void>;
    for (const m of methods) {
      const original = target[m];
      if (original === undefined) continue;
      this.saved.set(m, original);
      target[m] = (...args: unknown[]) => {
        this.record(m, args);
        if (this.passThrough) process.stderr.write(`${args.map(String).join(" ")}\n`);
      };
    }
  }

  uninstall(): void {
    const target = console as unknown as Record<string, (...args: unknown[]) => void>;
    for (const [m, original] of this.saved) target[m] = original;
    this.saved.clear();
  }

  reset(): void {
    this.counts.clear();
    this.firstErrors.length = 0;
  }

  /** Number of entries whose `severity message` key starts with `prefix`. */
  count(prefix: string): number {
    let n = 0;
    for (const [key, value] of this.counts) if (key.startsWith(prefix)) n += value;
    return n;
  }

  private record(method: string, args: unknown[]): void {
    const entry = parseEntry(method, args);
    const key = `${entry.severity} ${entry.message.split("\n")[0] ?? ""}`.slice(0, 200);
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    if (entry.severity === "ERROR" && this.firstErrors.length < this.keepErrors) this.firstErrors.push(entry);
  }
}

function parseEntry(method: string, args: unknown[]): CapturedEntry {
  const fallbackSeverity = method === "error" ? "ERROR" : method === "warn" ? "WARNING" : "INFO";
  const first = args[0];
  if (args.length === 1 && typeof first === "string" && first.startsWith("{")) {
    try {
      const parsed = JSON.parse(first) as Record<string, unknown>;
      const { severity, message, ...fields } = parsed;
      return {
        severity: typeof severity === "string" ? severity : fallbackSeverity,
        message: typeof message === "string" ? message : "",
        fields,
      };
    } catch {
      // not a structured entry
    }
  }
  return { severity: fallbackSeverity, message: args.map(String).join(" "), fields: {} };
}
