import {
  Achievement,
  achievementStatusFromJSON,
  ListAchievementsResponse,
  ListPublicAchievementsResponse,
  ModerationQueueResponse,
} from "../../../generated/shtp/v1/achievements.js";
import { staff } from "../../auth/roles.js";
import { defineRoute } from "../../http/route.js";
import type { Download } from "../../storage/files.js";
import { exportAccepted } from "./export.js";
import {
  kindFromProto,
  presentAchievement,
  presentPublicAchievement,
  presentQueued,
  statusFromProto,
  verdictFromProto,
} from "./presenter.js";
import {
  AchievementIdParamsSchema,
  AchievementListQuerySchema,
  AchievementSubmitBody,
  ModerateAchievementBody,
  AchievementPageQuerySchema,
  UserAchievementsParamsSchema,
} from "./schema.js";
import * as achievementService from "./service.js";

const MiB = 1024 * 1024;

export const submitAchievement = defineRoute({
  name: "submitAchievement",
  method: "post",
  path: "/achievements",
  summary: "Submits an achievement for moderation: multipart parts `achievement` (the message) and `proof` (the file).",
  description:
    "The `achievement` part is a shtp.v1.AchievementSubmission, as JSON (Content-Type application/json, or a plain " +
    "form field) or as protobuf bytes (a protobuf Content-Type on the part). The `proof` part is a PDF, PNG or JPEG, " +
    "judged by its content, at most 10 MB; it is stored under a random name. Any failure leaves neither a row nor a file.",
  access: "signedIn",
  body: AchievementSubmitBody,
  upload: { field: "proof", maxBytes: 10 * MiB, kinds: ["pdf", "png", "jpeg"], messagePart: "achievement" },
  response: Achievement,
  successStatus: 201,
  // The service runs its own transaction, so it can remove the stored file when the row fails.
  transactional: false,
  handler: async ({ body, actor, file, services, db }) =>
    presentAchievement(
      await achievementService.submitAchievement(
        db,
        services.files,
        actor.id,
        { kind: kindFromProto(body.kind), title: body.title, description: body.description },
        file,
      ),
    ),
});

export const listMyAchievements = defineRoute({
  name: "listMyAchievements",
  method: "get",
  path: "/achievements",
  summary: "The caller's achievements, newest first, optionally of one status; keyset-paged.",
  access: "signedIn",
  query: AchievementListQuerySchema,
  response: ListAchievementsResponse,
  handler: async ({ query, actor, db }) => {
    const page = await achievementService.listOwnAchievements(db, actor.id, {
      limit: query.limit,
      cursor: query.cursor,
      status: query.status ? statusFromProto(achievementStatusFromJSON(query.status)) : undefined,
    });
    return { items: page.items.map(presentAchievement), nextCursor: page.nextCursor };
  },
});

export const getModerationQueue = defineRoute({
  name: "getModerationQueue",
  method: "get",
  path: "/achievements/queue",
  summary: "Pending achievements, oldest first, each with its submitter; keyset-paged, one query per page.",
  access: staff,
  query: AchievementPageQuerySchema,
  response: ModerationQueueResponse,
  handler: async ({ query, db }) => {
    const page = await achievementService.moderationQueue(db, query);
    return { items: page.items.map(presentQueued), nextCursor: page.nextCursor };
  },
});

export const exportMyAchievements = defineRoute({
  name: "exportMyAchievements",
  method: "get",
  path: "/achievements/export",
  summary: "A ZIP of the caller's accepted achievements: every proof file and a summary.txt, streamed.",
  access: "signedIn",
  download: { mediaTypes: ["application/zip"] },
  handler: async ({ actor, services, db }): Promise<Download> => exportAccepted(db, services.files, actor.id),
});

export const getAchievement = defineRoute({
  name: "getAchievement",
  method: "get",
  path: "/achievements/:id",
  summary: "One achievement, for its owner or staff (404 for anyone else).",
  access: "signedIn",
  params: AchievementIdParamsSchema,
  response: Achievement,
  errors: ["not_found"],
  handler: async ({ params, actor, db }) =>
    presentAchievement(await achievementService.getAchievement(db, actor, params.id)),
});

export const downloadProof = defineRoute({
  name: "downloadAchievementProof",
  method: "get",
  path: "/achievements/:id/proof",
  summary: "The proof file, as an attachment with its stored type, for the owner or staff (404 for anyone else).",
  access: "signedIn",
  params: AchievementIdParamsSchema,
  download: { mediaTypes: ["application/pdf", "image/png", "image/jpeg"] },
  errors: ["not_found"],
  handler: async ({ params, actor, services, db }): Promise<Download> =>
    achievementService.openProof(db, services.files, actor, params.id),
});

export const moderateAchievement = defineRoute({
  name: "moderateAchievement",
  method: "post",
  path: "/achievements/:id/moderate",
  summary: "Accepts (points 1..1000) or rejects (with a comment) a pending achievement, exactly once.",
  description:
    "Accepting adds the points to the owner's rating, records who and when, notifies ACHIEVEMENT_ACCEPTED and awards " +
    "any medal now earned, in one transaction. Rejecting keeps the row as REJECTED with the comment and notifies " +
    "ACHIEVEMENT_REJECTED. A decided achievement answers 409, also to concurrent requests: the row is locked. " +
    "Nobody moderates their own submission (403).",
  access: staff,
  params: AchievementIdParamsSchema,
  body: ModerateAchievementBody,
  response: Achievement,
  errors: ["not_found", "conflict"],
  handler: async ({ params, body, actor, db }) =>
    presentAchievement(await achievementService.moderateAchievement(db, actor, params.id, verdictFromProto(body))),
});

export const deleteAchievement = defineRoute({
  name: "deleteAchievement",
  method: "delete",
  path: "/achievements/:id",
  summary: "Deletes an achievement and its proof file: the owner while pending, admins always.",
  description:
    "Deleting an accepted achievement takes its points back from the owner's rating; medals stay. The owner of a " +
    "decided achievement, or a teacher, gets 403.",
  access: "signedIn",
  params: AchievementIdParamsSchema,
  errors: ["not_found", "permission_denied"],
  handler: async ({ params, actor, services, db }) =>
    achievementService.deleteAchievement(db, services.files, actor, params.id),
});

export const listUserAchievements = defineRoute({
  name: "listUserAchievements",
  method: "get",
  path: "/users/:id/achievements",
  summary: "A user's accepted achievements, newest first, as anyone may see them (no proof files).",
  access: "public",
  params: UserAchievementsParamsSchema,
  query: AchievementPageQuerySchema,
  response: ListPublicAchievementsResponse,
  errors: ["not_found"],
  handler: async ({ params, query, db }) => {
    const page = await achievementService.listAcceptedOf(db, params.id, query);
    return { items: page.items.map(presentPublicAchievement), nextCursor: page.nextCursor };
  },
});

/** Fixed paths come before `/achievements/:id`, which would otherwise take them. */
export const achievementRoutes = [
  submitAchievement,
  listMyAchievements,
  getModerationQueue,
  exportMyAchievements,
  getAchievement,
  downloadProof,
  moderateAchievement,
  deleteAchievement,
  listUserAchievements,
];
