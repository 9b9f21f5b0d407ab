import {
  Banner as BannerMessage,
  ListBannersResponse,
  ListNotificationsResponse,
  MarkReadResponse,
  Notification,
  SendMessageResponse,
  StreamTicket,
  UnreadCount,
} from "../../../generated/shtp/v1/notifications.js";
import { staff } from "../../auth/roles.js";
import { defineRoute, type EventStream } from "../../http/route.js";
import { streamTicketCredential } from "../auth/routes.js";
import * as authService from "../auth/service.js";
import * as bannerService from "./banners.service.js";
import {
  bannerSeverityName,
  messageAudienceOf,
  messageSeverityName,
  presentBanner,
  presentNotification,
  presentStreamTicket,
} from "./presenter.js";
import {
  BannerCreateBody,
  BannerIdParamsSchema,
  BannerUpdateBody,
  NotificationListQuerySchema,
  NotificationMarkReadBody,
  NotificationSendBody,
  NotificationStreamHeadersSchema,
  NotificationStreamQuerySchema,
} from "./schema.js";
import * as notificationService from "./service.js";

export const listNotifications = defineRoute({
  name: "listNotifications",
  method: "get",
  path: "/notifications",
  summary:
    "The caller's notifications, newest first, keyset-paged; `unread=true` for unread only. Listing marks nothing read.",
  access: "signedIn",
  query: NotificationListQuerySchema,
  response: ListNotificationsResponse,
  handler: async ({ query, actor, db }) => {
    const page = await notificationService.listNotifications(db, actor.id, query);
    return { items: page.items.map(presentNotification), nextCursor: page.nextCursor };
  },
});

export const countUnreadNotifications = defineRoute({
  name: "countUnreadNotifications",
  method: "get",
  path: "/notifications/unread-count",
  summary: "How many of the caller's notifications are unread.",
  access: "signedIn",
  response: UnreadCount,
  handler: async ({ actor, db }) => ({ count: await notificationService.unreadCountOf(db, actor.id) }),
});

export const markNotificationsRead = defineRoute({
  name: "markNotificationsRead",
  method: "post",
  path: "/notifications/read",
  summary: "Marks the caller's notifications read: the given ids, or all. Ids of others' notifications are ignored.",
  access: "signedIn",
  body: NotificationMarkReadBody,
  response: MarkReadResponse,
  handler: async ({ body, actor, db }) => ({ marked: await notificationService.markRead(db, actor.id, body) }),
});

export const sendMessage = defineRoute({
  name: "sendMessage",
  method: "post",
  path: "/notifications",
  summary: "Sends a message to one user, a group, a learning class or everyone, in one statement.",
  description:
    "An unknown user is 404; an unknown group is 422 with the field `groupId`; an audience nobody is in " +
    "(an empty group or class) is 422.",
  access: staff,
  body: NotificationSendBody,
  response: SendMessageResponse,
  successStatus: 201,
  errors: ["not_found", "failed_precondition"],
  handler: async ({ body, db }) => ({
    recipientCount: await notificationService.sendMessage(db, messageAudienceOf(body.audience), {
      text: body.text,
      severity: messageSeverityName(body.severity),
    }),
  }),
});

export const createStreamTicket = defineRoute({
  name: "createStreamTicket",
  method: "post",
  path: "/notifications/stream-tickets",
  summary: "A single-use ticket that opens the caller's notification stream without an Authorization header.",
  description:
    "For a browser's EventSource, which cannot send headers: open `GET /notifications/stream?ticket=<ticket>` " +
    "within `expiresIn` seconds (60 by default). The ticket works once, on any server process, and only while " +
    "the session that minted it lasts. To resume after a drop, fetch a new ticket and reopen with `lastEventId`.",
  access: "signedIn",
  response: StreamTicket,
  successStatus: 201,
  handler: async ({ actor, services, db }) =>
    presentStreamTicket(await authService.issueStreamTicket(db, services.config.auth, actor.sessionId)),
});

export const streamNotifications = defineRoute({
  name: "streamNotifications",
  method: "get",
  path: "/notifications/stream",
  summary: "Server-Sent Events of the caller's new notifications; send Last-Event-ID to resume without loss.",
  description:
    "Each event has the notification's sequence number as `id` and a shtp.v1.Notification as `data` (ProtoJSON, or base64 " +
    "protobuf with `encoding=protobuf`). Comment lines are heartbeats. Works across server processes (PostgreSQL LISTEN/NOTIFY). " +
    "A browser authenticates with `ticket` (from `POST /notifications/stream-tickets`) instead of the header, and resumes " +
    "with `lastEventId` in the query, since a new EventSource cannot set Last-Event-ID. Live events that are not stored " +
    "come as their own event types without an `id`, never replayed: `shtp.v1.SubmissionProgress` while the caller's " +
    "submission is judged (compiling, then test k of n). A stream lasts no longer than its session: signing out, a " +
    "password change, the account's deletion or the session's expiry ends it with a comment saying so.",
  access: "signedIn",
  queryCredential: streamTicketCredential,
  query: NotificationStreamQuerySchema,
  headers: NotificationStreamHeadersSchema,
  events: Notification,
  transactional: false,
  handler: async ({ actor, query, headers, services }): Promise<EventStream<Notification>> => {
    const resumeAfter = headers["last-event-id"] ?? query.lastEventId;
    const subscription = await services.notificationHub.subscribe(actor, resumeAfter);
    return {
      close: () => subscription.close(),
      async *[Symbol.asyncIterator]() {
        for await (const item of subscription) {
          yield item.live ? { live: item.live } : { id: item.row.seq, message: presentNotification(item.row) };
        }
      },
    };
  },
});

export const listActiveBanners = defineRoute({
  name: "listActiveBanners",
  method: "get",
  path: "/notifications/system",
  summary: "System banners to show now (active and inside their window).",
  access: "public",
  response: ListBannersResponse,
  handler: async ({ db }) => ({ items: (await bannerService.listBanners(db, false)).map(presentBanner) }),
});

export const listAllBanners = defineRoute({
  name: "listAllBanners",
  method: "get",
  path: "/notifications/system/all",
  summary: "Every system banner, whatever its state (newest 100).",
  access: staff,
  response: ListBannersResponse,
  handler: async ({ db }) => ({ items: (await bannerService.listBanners(db, true)).map(presentBanner) }),
});

export const createBanner = defineRoute({
  name: "createBanner",
  method: "post",
  path: "/notifications/system",
  summary: "Creates a system banner (inactive unless `active` is true).",
  access: staff,
  body: BannerCreateBody,
  response: BannerMessage,
  successStatus: 201,
  handler: async ({ body, db }) =>
    presentBanner(
      await bannerService.createBanner(db, {
        text: body.text,
        severity: bannerSeverityName(body.severity),
        active: body.active,
        startsAt: body.startsAt,
        endsAt: body.endsAt,
      }),
    ),
});

export const updateBanner = defineRoute({
  name: "updateBanner",
  method: "patch",
  path: "/notifications/system/:id",
  summary: "Updates a banner; absent fields are left as they are.",
  access: staff,
  params: BannerIdParamsSchema,
  body: BannerUpdateBody,
  response: BannerMessage,
  errors: ["not_found"],
  handler: async ({ params, body, db }) =>
    presentBanner(
      await bannerService.updateBanner(db, params.id, {
        text: body.text,
        severity: body.severity === undefined ? undefined : bannerSeverityName(body.severity),
        active: body.active,
        startsAt: body.startsAt,
        endsAt: body.endsAt,
        clearStartsAt: body.clearStartsAt,
        clearEndsAt: body.clearEndsAt,
      }),
    ),
});

export const deleteBanner = defineRoute({
  name: "deleteBanner",
  method: "delete",
  path: "/notifications/system/:id",
  summary: "Deletes a banner.",
  access: staff,
  params: BannerIdParamsSchema,
  errors: ["not_found"],
  handler: async ({ params, db }) => bannerService.deleteBanner(db, params.id),
});

export const notificationRoutes = [
  listNotifications,
  countUnreadNotifications,
  markNotificationsRead,
  sendMessage,
  createStreamTicket,
  streamNotifications,
  listActiveBanners,
  listAllBanners,
  createBanner,
  updateBanner,
  deleteBanner,
];
