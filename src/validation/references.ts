import { FailedPreconditionError } from "../errors/index.js";

/** An id a request names, with the field that named it (`groupId`, `audience.groupIds.2`, `taskIds.0`). */
export interface Reference {
  id: string;
  field: string;
}

/**
 * The one rule for ids that must name existing rows (groups, tasks): a well-formed request naming
 * one that does not exist breaks a rule, so it answers 422 with one violation per unknown id, on the
 * field that named it.
 * @param references - the ids and their fields
 * @param known - the ids that were found, lowercased as PostgreSQL prints uuids
 * @param noun - what the ids name, for the messages (`group`)
 * @throws AppError failed_precondition
 */
export function assertReferencesKnown(references: readonly Reference[], known: Set<string>, noun: string): void {
  const violations = references
    .filter((reference) => !known.has(reference.id.toLowerCase()))
    .map((reference) => ({ field: reference.field, description: `No such ${noun}.` }));
  if (violations.length > 0) {
    throw FailedPreconditionError(
      violations.length === 1 ? `The ${noun} does not exist.` : `Some ${noun}s do not exist.`,
      violations,
    );
  }
}
