/**
 * Progress of the long-running tools (chaos, bench) on a terminal: one status line, redrawn in place at most every
 * 200 ms — per task the phase, done/total and the rate — so minutes of work are not minutes of silence. Off the
 * terminal (CI logs, pipes) it prints nothing: the tools' summary lines are the record.
 *
 * A task reports `{phase, done, total}` updates; a board shows the latest update of every task on one line. Chaos
 * runs seeds in child processes: each child sends its updates to the parent over the IPC channel
 * (`progressSink`), and the parent's board draws them together.
 */

export interface ProgressUpdate {
  /** Which task (e.g. `seed 3`). */
  task: string;
  phase: string;
  done: number;
  total: number;
}

export type ProgressSink = (update: ProgressUpdate) => void;

interface TaskState extends ProgressUpdate {
  phaseStartedMs: number;
}

const REDRAW_MS = 200;

/** The status line of several tasks, drawn on `out` while it is a terminal. */
export class ProgressBoard {
  private readonly tasks = new Map<string, TaskState>();
  private lastDrawMs = 0;
  private drawn = false;

  constructor(
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly enabled: boolean = out.isTTY,
    private readonly now: () => number = Date.now,
  ) {}

  get active(): boolean {
    return this.enabled;
  }

  update(u: ProgressUpdate): void {
    if (!this.enabled) return;
    const previous = this.tasks.get(u.task);
    const phaseStartedMs =
      previous === undefined || previous.phase !== u.phase ? this.now() : previous.phaseStartedMs;
    this.tasks.set(u.task, { ...u, phaseStartedMs });
    const now = this.now();
    if (now - this.lastDrawMs >= REDRAW_MS || u.done === u.total) this.draw(now);
  }

  /** A task is over: its part of the line goes. */
  remove(task: string): void {
    this.tasks.delete(task);
  }

  /** Clears the status line (before printing anything else, and at the end). */
  clear(): void {
    if (this.enabled && this.drawn) this.out.write("\r\x1b[2K");
    this.drawn = false;
  }

  /** The status line as drawn (exported for its test). */
  line(now = this.now()): string {
    return [...this.tasks.values()]
      .map((t) => {
        const seconds = Math.max((now - t.phaseStartedMs) / 1000, 0.001);
        const rate = t.done / seconds;
        const pct = t.total > 0 ? Math.floor((100 * t.done) / t.total) : 100;
        return `${t.task} ${t.phase} ${t.done}/${t.total} ${pct}% ${rate.toFixed(rate < 10 ? 1 : 0)}/s`;
      })
      .join(" · ");
  }

  private draw(now: number): void {
    this.lastDrawMs = now;
    const columns = this.out.columns > 0 ? this.out.columns : 120;
    this.out.write(`\r\x1b[2K${this.line(now).slice(0, columns - 1)}`);
    this.drawn = true;
  }
}

/**
 * Where a task's updates go: to the parent process when it asked for them over IPC (`PROGRESS_IPC=1`), else to a
 * board on this process's terminal, else nowhere.
 */
export function progressSink(board: ProgressBoard): ProgressSink | undefined {
  if (process.env.PROGRESS_IPC === "1" && typeof process.send === "function") {
    const send = process.send.bind(process);
    return (update) => {
      send({ progress: update });
    };
  }
  return board.active
    ? (update) => {
        board.update(update);
      }
    : undefined;
}

/** Counts one phase of a task: `tick()` per item done; reports at most every few items (and the last). */
export class PhaseCounter {
  private done = 0;
  private reported = 0;

  constructor(
    private readonly sink: ProgressSink | undefined,
    private readonly task: string,
    private readonly phase: string,
    private readonly total: number,
  ) {
    sink?.({ task, phase, done: 0, total });
  }

  tick(n = 1): void {
    this.done += n;
    if (this.sink === undefined) return;
    const step = Math.max(1, Math.floor(this.total / 200));
    if (this.done - this.reported < step && this.done < this.total) return;
    this.reported = this.done;
    this.sink({ task: this.task, phase: this.phase, done: this.done, total: this.total });
  }
}
