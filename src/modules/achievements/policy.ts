import { enforce, type Decision } from "../../auth/policy.js";
import { isStaff, type Actor } from "../../auth/roles.js";
import type { AchievementStatusName } from "./queries.js";

/** The facts of an achievement that decide who may do what with it. */
export interface AchievementFacts {
  userId: string;
  status: AchievementStatusName;
}

/**
 * What a caller does with one achievement: read it, download its proof, moderate it, delete it.
 * (Submitting and listing one's own are open to every signed-in user; the queue is the route's staff gate.)
 */
export type AchievementAction = "read" | "readProof" | "moderate" | "delete";

/**
 * SQL over the alias `a`: the achievements anyone may see on a profile, without their proof or
 * moderator: the accepted ones. Pending and rejected ones stay between their owner and staff.
 */
export const publicAchievementSql = "a.status = 'accepted'";

/**
 * Who may see an achievement itself, with its proof: its owner and staff. For anyone else it does not
 * exist (404), so ids of other students' achievements reveal nothing.
 */
export const seesAchievement = (actor: Pick<Actor, "id" | "role">, achievement: AchievementFacts): boolean =>
  achievement.userId === actor.id || isStaff(actor);

type Rule = (actor: Pick<Actor, "id" | "role">, achievement: AchievementFacts) => Omit<Decision, "visible">;

const rules: Record<AchievementAction, Rule> = {
  read: () => ({ allowed: true }),
  readProof: () => ({ allowed: true }),
  // Nobody grants themselves points.
  moderate: (actor, achievement) => ({
    allowed: isStaff(actor) && achievement.userId !== actor.id,
    reason: "Nobody moderates their own achievement.",
  }),
  // A decided achievement is history, and its points are part of a rating others see.
  delete: (actor, achievement) => ({
    allowed: actor.role === "admin" || (achievement.userId === actor.id && achievement.status === "pending"),
    reason: "Only a pending achievement can be deleted by its owner; admins delete any.",
  }),
};

/**
 * Decides whether the caller may act on an achievement: a missing one, or one they may not see,
 * answers 404; one they see but may not act on, 403.
 * @param achievement - the loaded row, undefined when there is none
 * @throws AppError not_found or permission_denied
 */
export function authorize<Row extends AchievementFacts>(
  actor: Pick<Actor, "id" | "role">,
  action: AchievementAction,
  achievement: Row | undefined,
): asserts achievement is Row {
  const visible = achievement !== undefined && seesAchievement(actor, achievement);
  enforce(visible ? { visible, ...rules[action](actor, achievement) } : { visible, allowed: false }, "The achievement");
}
