export type LogLevel = "silent" | "info" | "debug";

export interface Logger {
  info(message: string): void;
  debug(message: string): void;
}

export function createLogger(
  level: LogLevel,
  sink: (line: string) => void = (l) => process.stderr.write(l + "\n"),
): Logger {
  const stamp = (): string => new Date().toISOString();
  return {
    info: (m) => {
      if (level !== "silent") sink(`${stamp()} local-firestore ${m}`);
    },
    debug: (m) => {
      if (level === "debug") sink(`${stamp()} local-firestore [debug] ${m}`);
    },
  };
}
