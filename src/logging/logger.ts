import { pino, type DestinationStream, type Logger } from "pino";

export type { Logger };

/**
 * Paths pino blanks out wherever they appear in a log line: credentials in headers and in bodies.
 * Request bodies are never logged, but errors and `extra` objects may carry such fields.
 */
const redactedPaths = [
  "req.headers.authorization",
  "req.headers.cookie",
  "headers.authorization",
  "*.password",
  "*.currentPassword",
  "*.newPassword",
  "*.accessToken",
  "*.refreshToken",
  "*.token",
  "*.ticket",
  "*.access_token",
  "*.refresh_token",
  "password",
  "accessToken",
  "refreshToken",
  "ticket",
];

/**
 * Builds the process logger (JSON lines on stdout unless another destination is given).
 * @param level - the pino level, `silent` for none
 * @param destination - where to write the lines; tests pass a stream of their own
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = loggerOptions(level);
  return destination ? pino(options, destination) : pino(options);
}

const loggerOptions = (level: string) => ({
  level,
  base: { service: "shtp-api" },
  redact: { paths: redactedPaths, censor: "[redacted]" },
});

/** How the server process writes its log: lines for a person, or JSON lines for a collector. */
export type LogFormat = "pretty" | "json";

/**
 * Pretty lines for a person at a terminal in development; JSON lines everywhere else (production, tests,
 * and any output that is a file, a pipe or a log collector, which parse it).
 * @param env - NODE_ENV
 * @param stdoutIsTerminal - whether standard output is a terminal
 */
export function logFormatFor(env: string, stdoutIsTerminal: boolean): LogFormat {
  return env === "development" && stdoutIsTerminal ? "pretty" : "json";
}

/**
 * The server process's logger in the given format. Pretty output is pino-pretty, in this thread and
 * synchronous, so its lines and the boot banner come out in order; it is a development dependency, so a
 * production install without it falls back to JSON lines. JSON lines are written asynchronously when
 * asked (production): call flushLogs before exiting.
 * @param level - the pino level
 * @param format - what logFormatFor chose
 * @param asynchronous - buffer JSON lines and write them in the background
 * @returns the logger and the format it really writes
 */
export async function createProcessLogger(
  level: string,
  format: LogFormat,
  asynchronous = false,
): Promise<{ logger: Logger; format: LogFormat }> {
  if (format === "pretty") {
    const pretty = await import("pino-pretty").then(
      (module) => module.default,
      () => undefined,
    );
    if (pretty) {
      const stream = pretty({
        sync: true,
        singleLine: true,
        translateTime: "SYS:HH:MM:ss.l",
        ignore: "pid,hostname,service",
      });
      return { logger: pino(loggerOptions(level), stream), format };
    }
  }
  if (asynchronous) {
    // Lines are written by asynchronous writes, those logged while one is under way gathered into the
    // next, so a request never waits on write(2) and nothing waits for a buffer to fill.
    return { logger: pino(loggerOptions(level), pino.destination({ dest: 1, sync: false })), format };
  }
  return { logger: createLogger(level), format: "json" };
}

/**
 * Writes whatever an asynchronous logger still holds, before the process exits.
 * @param logger - the process logger
 */
export function flushLogs(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    try {
      logger.flush(() => resolve());
    } catch {
      // A synchronous destination has nothing waiting (and some refuse to flush).
      resolve();
    }
  });
}
