import { isStaff, type Actor } from "../../auth/roles.js";
import { enforce, type Decision } from "../../auth/policy.js";
import { PermissionDeniedError } from "../../errors/index.js";

/**
 * Who may do what with submissions (assignments contract, section 2): a student sees their own
 * submissions and sources only; staff see every one and may reject or rejudge it.
 */

/** What a caller may do with a submission. */
export type SubmissionAction = "read" | "readSource" | "reject" | "rejudge";

/**
 * @param actor - the caller
 * @param action - what they want to do
 * @param submission - the loaded submission's owner
 * @returns visible to its owner and staff; reading for both, rejecting and rejudging for staff
 */
export function decide(
  actor: Pick<Actor, "id" | "role">,
  action: SubmissionAction,
  submission: { userId: string },
): Decision {
  const visible = isStaff(actor) || submission.userId === actor.id;
  switch (action) {
    case "read":
    case "readSource":
      return { visible, allowed: true };
    case "reject":
    case "rejudge":
      return { visible, allowed: isStaff(actor), reason: "Only staff may reject or rejudge a submission." };
  }
}

/**
 * @throws AppError not_found when the caller may not see the submission, permission_denied when
 *   they may not do this to it
 */
export function authorize(
  actor: Pick<Actor, "id" | "role">,
  action: SubmissionAction,
  submission: { userId: string },
): void {
  enforce(decide(actor, action, submission), "The submission");
}

/**
 * Whose submissions a list may show: staff anyone's (the filter as given); a student only their own.
 * @param requested - the `userId` filter, if any
 * @returns the user filter to apply
 * @throws AppError permission_denied when a student names someone else
 */
export function listedUser(actor: Pick<Actor, "id" | "role">, requested: string | undefined): string | undefined {
  if (isStaff(actor)) return requested;
  if (requested !== undefined && requested.toLowerCase() !== actor.id.toLowerCase()) {
    throw PermissionDeniedError("Students see only their own submissions.");
  }
  return actor.id;
}
