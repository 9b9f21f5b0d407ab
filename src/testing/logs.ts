import { createLogger, type Logger } from "../logging/logger.js";

/** One line a recording logger wrote, parsed: pino's fields and whatever the call logged. */
export type LogRecord = { level: number; msg: string } & Record<string, unknown>;

/**
 * A logger whose lines a test reads back.
 * @param level - the lowest pino level recorded
 */
export function recordingLogger(level: string): { logger: Logger; lines: LogRecord[] } {
  const lines: LogRecord[] = [];
  const logger = createLogger(level, { write: (line: string) => void lines.push(JSON.parse(line) as LogRecord) });
  return { logger, lines };
}
