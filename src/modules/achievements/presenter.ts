import {
  AchievementKind,
  AchievementStatus,
  ModerationDecision,
  type Achievement,
  type ModerateAchievementRequest,
  type PublicAchievement,
  type QueuedAchievement,
} from "../../../generated/shtp/v1/achievements.js";
import { storedNameOf } from "../../contract/enums.js";
import { presentUserSummary } from "../users/presenter.js";
import type { AchievementKindName, AchievementRow, AchievementStatusName, QueuedRow, Verdict } from "./service.js";

const protoKinds: Record<AchievementKindName, AchievementKind> = {
  olympiad: AchievementKind.OLYMPIAD,
  event: AchievementKind.EVENT,
  other: AchievementKind.OTHER,
};

const protoStatuses: Record<AchievementStatusName, AchievementStatus> = {
  pending: AchievementStatus.PENDING,
  accepted: AchievementStatus.ACCEPTED,
  rejected: AchievementStatus.REJECTED,
};

/** @param kind - a validated proto kind (zod refused UNSPECIFIED) */
export const kindFromProto = (kind: AchievementKind): AchievementKindName => storedNameOf(protoKinds, kind);

/** @param status - a proto status from a query filter */
export const statusFromProto = (status: AchievementStatus): AchievementStatusName =>
  storedNameOf(protoStatuses, status);

/** @param request - a validated moderation request (zod refused UNSPECIFIED; REJECT carries no points) */
export const verdictFromProto = (request: ModerateAchievementRequest): Verdict =>
  request.decision === ModerationDecision.ACCEPT
    ? { decision: "accept", points: request.points, comment: request.comment }
    : { decision: "reject", comment: request.comment };

/** An achievement as its owner and staff see it. */
export function presentAchievement(row: AchievementRow): Achievement {
  return {
    id: row.id,
    userId: row.userId,
    kind: protoKinds[row.kind],
    title: row.title,
    description: row.description,
    points: row.points ?? 0,
    status: protoStatuses[row.status],
    comment: row.comment,
    proofMediaType: row.proofMediaType,
    proofSize: row.proofSize,
    moderatedBy: row.moderatedBy ?? "",
    moderatedAt: row.moderatedAt ?? undefined,
    createdAt: row.createdAt,
  };
}

/** An accepted achievement as anyone sees it on a profile: no proof, no moderator. */
export function presentPublicAchievement(row: AchievementRow): PublicAchievement {
  const { id, userId, kind, title, description, points } = presentAchievement(row);
  return { id, userId, kind, title, description, points, acceptedAt: row.moderatedAt ?? undefined };
}

/** A queue entry: the achievement and who submitted it. */
export function presentQueued(row: QueuedRow): QueuedAchievement {
  return {
    achievement: presentAchievement(row),
    submitter: presentUserSummary({
      id: row.userId,
      nickName: row.submitterNickName,
      firstName: row.submitterFirstName,
      lastName: row.submitterLastName,
      avatarFile: row.submitterAvatarFile,
    }),
  };
}
