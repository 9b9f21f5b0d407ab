import { errors as joseErrors } from "jose";
import {
  BaseError as SequelizeBaseError,
  ConnectionError,
  DatabaseError,
  EmptyResultError,
  ForeignKeyConstraintError,
  UniqueConstraintError,
} from "sequelize";
import { ZodError } from "zod";
import { violationsOf } from "./zod.js";
import { AppError, InvalidArgumentError, NotFoundError } from "./index.js";

/** SQLSTATEs that mean the client sent a value PostgreSQL cannot take (bad uuid, date, number). */
const badValueStates = new Set(["22P02", "22007", "22008", "22003", "22001", "22021"]);

/**
 * SQLSTATEs that say the database cannot serve now rather than that the request is wrong: a lost
 * connection (class 08), exhausted resources (class 53: connections, memory, disk), a server shutting
 * down (57P01..57P03), a session ended for idling in a transaction (25P03).
 */
const unavailableStates = /^(08|53|57P0[123]$|25P03$)/;
/** `statement_timeout` cancelled the statement: the database is alive but too slow for the request. */
const STATEMENT_TIMEOUT_STATE = "57014";
/** pg's own errors for a connection it gave up on (DATABASE_QUERY_TIMEOUT_MS) or lost; they carry no SQLSTATE. */
const lostConnection =
  /^(Query read timeout|Connection terminated|Client has encountered a connection error|Client was closed)/;

/**
 * Maps any thrown value onto our closed set of errors; the one place foreign errors are understood.
 * Unknown errors become an opaque `internal`, whose message never reaches the client.
 * @param error - whatever was thrown
 */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof ZodError) return InvalidArgumentError("Some fields are invalid.", violationsOf(error));
  if (error instanceof joseErrors.JWTExpired)
    return new AppError("token_expired", "The access token has expired; refresh it.");
  if (error instanceof joseErrors.JOSEError) return new AppError("unauthenticated", "The access token is not valid.");
  if (error instanceof SequelizeBaseError) return fromSequelize(error);
  // Sequelize passes on pg's errors unwrapped when they happen while it sets up a new connection.
  if (error instanceof Error && isUnavailable(error))
    return new AppError("unavailable", "The database is unavailable; try again shortly.", { cause: error });
  const status = httpStatusOf(error);
  if (status === 404) return NotFoundError("The endpoint");
  if (status === 405) return new AppError("method_not_allowed", "This endpoint does not take that method.");
  if (status === 413) return new AppError("payload_too_large", "The request body is too large.");
  if (status === 415) return new AppError("unsupported_media_type", "The request body's media type is not accepted.");
  if (status === 400) return InvalidArgumentError("The request is malformed.");
  return new AppError("internal", "Something went wrong on our side; quote the request id when reporting it.", {
    cause: error,
  });
}

function fromSequelize(error: SequelizeBaseError): AppError {
  if (error instanceof UniqueConstraintError) {
    const fields = Object.keys(error.fields ?? {});
    return new AppError("conflict", "Something with the same unique value already exists.", {
      fieldViolations: fields.map((field) => ({ field: snakeToCamel(columnOf(field)), description: "Already taken." })),
      cause: error,
    });
  }
  if (error instanceof ForeignKeyConstraintError) {
    // Deleting a row still referenced is a state conflict; pointing at a missing row is a bad request.
    const stillReferenced = /still referenced/.test(String((error.parent as { detail?: string }).detail ?? ""));
    return stillReferenced
      ? new AppError("conflict", "Other records still refer to this one.", { cause: error })
      : new AppError("failed_precondition", "The request refers to something that does not exist.", { cause: error });
  }
  // ON DELETE RESTRICT answers 23001 (restrict_violation), which Sequelize leaves a plain DatabaseError.
  if (error instanceof DatabaseError && (error.parent as { code?: string }).code === "23001") {
    return new AppError("conflict", "Other records still refer to this one.", { cause: error });
  }
  if (error instanceof EmptyResultError) return NotFoundError();
  if (error instanceof ConnectionError || (error instanceof DatabaseError && isUnavailable(error.parent)))
    return new AppError("unavailable", "The database is unavailable; try again shortly.", { cause: error });
  if (error instanceof DatabaseError && (error.parent as { code?: string }).code === STATEMENT_TIMEOUT_STATE)
    return new AppError("unavailable", "The database took too long to answer; try again shortly.", { cause: error });
  if (error instanceof DatabaseError && badValueStates.has(String((error.parent as { code?: string }).code))) {
    return InvalidArgumentError("A value in the request is malformed.");
  }
  return new AppError("internal", "Something went wrong on our side; quote the request id when reporting it.", {
    cause: error,
  });
}

/** Whether pg's `error` (raw, or the parent of a Sequelize error) says the database cannot serve now. */
function isUnavailable(error: Error): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? unavailableStates.test(code) : lostConnection.test(error.message);
}

function httpStatusOf(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const status =
    (error as { status?: unknown; statusCode?: unknown }).status ?? (error as { statusCode?: unknown }).statusCode;
  return typeof status === "number" ? status : undefined;
}

/** An expression index reports `lower(email)` as its field; the client knows the column, `email`. */
const columnOf = (field: string) => /^\w+\((\w+)\)$/.exec(field)?.[1] ?? field;

const snakeToCamel = (name: string) => name.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());
