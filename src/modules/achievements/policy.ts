import type { Actor } from "../../auth/roles.js";

/** The facts of an achievement that decide who may do what with it. */
export interface AchievementFacts {
  userId: string;
  status: "pending" | "accepted" | "rejected";
}

const isStaff = (actor: Pick<Actor, "role">) => actor.role === "teacher" || actor.role === "admin";

/**
 * Who may see an achievement and its proof: its owner and staff. For anyone else it does not exist
 * (404), so ids of other students' achievements reveal nothing.
 */
export const mayReadAchievement = (actor: Pick<Actor, "id" | "role">, achievement: AchievementFacts): boolean =>
  achievement.userId === actor.id || isStaff(actor);

/**
 * Who may moderate: staff, but never their own submission (nobody grants themselves points).
 */
export const mayModerateAchievement = (actor: Pick<Actor, "id" | "role">, achievement: AchievementFacts): boolean =>
  isStaff(actor) && achievement.userId !== actor.id;

/**
 * Who may delete: admins always; the owner while it is pending (a decided achievement is history,
 * and its points are part of a rating others see).
 */
export const mayDeleteAchievement = (actor: Pick<Actor, "id" | "role">, achievement: AchievementFacts): boolean =>
  actor.role === "admin" || (achievement.userId === actor.id && achievement.status === "pending");
