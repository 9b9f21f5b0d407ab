/** The three roles, lowest to highest; the database stores the same words. */
export const roleNames = ["student", "teacher", "admin"] as const;

export type RoleName = (typeof roleNames)[number];

/** The signed-in caller as routes and policies see it. */
export interface Actor {
  id: string;
  role: RoleName;
  /** The sign-in session the access token belongs to. */
  sessionId: string;
}

/** Who may call a route: anyone, any signed-in user, or the listed roles. */
export type Access = "public" | "signedIn" | readonly [RoleName, ...RoleName[]];

/** The staff: they manage students, groups, moderation, events, messages, tasks and contests. */
export const staff = ["teacher", "admin"] as const satisfies Access;

/** @returns whether the caller is staff (a teacher or an admin) */
export const isStaff = (actor: Pick<Actor, "role">): boolean => (staff as readonly RoleName[]).includes(actor.role);

/**
 * @param access - a route's declared access
 * @returns the roles that may call it, or every role for `public`/`signedIn`
 */
export function rolesAllowed(access: Access): readonly RoleName[] {
  return access === "public" || access === "signedIn" ? roleNames : access;
}
