/**
 * The closed set of error codes the API may answer with, and the one error class that carries them.
 * `method_not_allowed` (405) and `failed_precondition` (422) are here so that every status the API
 * answers has a code of its own.
 */
export const errorCodes = [
  "invalid_argument",
  "unauthenticated",
  "token_expired",
  "permission_denied",
  "not_found",
  "method_not_allowed",
  "not_acceptable",
  "conflict",
  "payload_too_large",
  "unsupported_media_type",
  "failed_precondition",
  "rate_limited",
  "internal",
  "unavailable",
] as const;

export type ErrorCode = (typeof errorCodes)[number];

/**
 * The HTTP status of each code; exhaustive, so a new code does not compile until it has one.
 * @param code - an error code
 * @returns its HTTP status
 */
export function statusOf(code: ErrorCode): number {
  switch (code) {
    case "invalid_argument":
      return 400;
    case "unauthenticated":
    case "token_expired":
      return 401;
    case "permission_denied":
      return 403;
    case "not_found":
      return 404;
    case "method_not_allowed":
      return 405;
    case "not_acceptable":
      return 406;
    case "conflict":
      return 409;
    case "payload_too_large":
      return 413;
    case "unsupported_media_type":
      return 415;
    case "failed_precondition":
      return 422;
    case "rate_limited":
      return 429;
    case "internal":
      return 500;
    case "unavailable":
      return 503;
  }
}

/** One rejected field: a dotted lowerCamelCase path and why. */
export interface FieldViolation {
  field: string;
  description: string;
}

export interface AppErrorOptions {
  fieldViolations?: FieldViolation[];
  /** Extra response headers, such as `Retry-After` or `Allow`. */
  headers?: Record<string, string>;
  cause?: unknown;
}

/** An error whose code, status and message are safe to send to the client as they are. */
export class AppError extends Error {
  readonly fieldViolations: FieldViolation[];
  readonly headers: Record<string, string>;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: AppErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "AppError";
    this.fieldViolations = options.fieldViolations ?? [];
    this.headers = options.headers ?? {};
  }

  get status(): number {
    return statusOf(this.code);
  }
}

/** @returns a 400 for a request that is malformed or carries bad fields */
export const InvalidArgumentError = (message: string, fieldViolations: FieldViolation[] = []) =>
  new AppError("invalid_argument", message, { fieldViolations });

/** @returns a 401 for a missing or unusable credential */
export const UnauthenticatedError = (message = "Sign in to use this endpoint.") =>
  new AppError("unauthenticated", message);

/** @returns a 403 for an action the caller may see but not perform */
export const PermissionDeniedError = (message = "You are not allowed to do this.") =>
  new AppError("permission_denied", message);

/** @returns a 404 for something missing or not visible to the caller; the two are never told apart */
export const NotFoundError = (what = "The resource") => new AppError("not_found", `${what} was not found.`);

/** @returns a 409 for a request that clashes with the current state */
export const ConflictError = (message: string) => new AppError("conflict", message);

/** @returns a 422 for a well-formed request that breaks a business rule */
export const FailedPreconditionError = (message: string, fieldViolations: FieldViolation[] = []) =>
  new AppError("failed_precondition", message, { fieldViolations });
