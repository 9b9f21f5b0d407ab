import { isStaff, type Actor } from "../../auth/roles.js";
import { enforce, type Decision } from "../../auth/policy.js";

/**
 * Who sees which day challenge (assignments contract, sections 2 and 3): staff every day, past and
 * future; anyone else, signed in or not, today's and earlier ones, so a future day's task stays
 * unseen until its day comes (in the school's time zone). Setting and removing days is for staff,
 * which the routes declare.
 */

/** Whether `dc.day` has come in the school's time zone (binds `:zone`). */
export const dayHasCome = "dc.day <= school_today(:zone)";

/** What a caller may do with a day challenge. */
export type ChallengeAction = "read";

/**
 * @param actor - the caller, or nobody (public routes)
 * @param challenge - whether its day has come
 */
export function decide(
  actor: Pick<Actor, "role"> | undefined,
  _action: ChallengeAction,
  challenge: { reached: boolean },
): Decision {
  return { visible: (actor !== undefined && isStaff(actor)) || challenge.reached, allowed: true };
}

/** @throws AppError not_found for a day the caller may not see yet */
export function authorize(
  actor: Pick<Actor, "role"> | undefined,
  action: ChallengeAction,
  challenge: { reached: boolean },
): void {
  enforce(decide(actor, action, challenge), "The day challenge");
}
