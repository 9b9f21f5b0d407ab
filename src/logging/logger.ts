import { pino, type Logger } from "pino";

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
  "password",
  "accessToken",
  "refreshToken",
];

/**
 * Builds the process logger (JSON lines on stdout).
 * @param level - the pino level, `silent` for none
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: "shtp-api" },
    redact: { paths: redactedPaths, censor: "[redacted]" },
  });
}
