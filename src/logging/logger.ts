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
  const options = {
    level,
    base: { service: "shtp-api" },
    redact: { paths: redactedPaths, censor: "[redacted]" },
  };
  return destination ? pino(options, destination) : pino(options);
}
