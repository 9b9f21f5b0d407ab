import {
  Banner as BannerMessage,
  ListBannersResponse,
  ListNotificationsResponse,
  MarkReadResponse,
  MessageSeverity,
  Notification,
  SendMessageResponse,
  UnreadCount,
} from "../../../generated/shtp/v1/notifications.js";
import { InvalidArgumentError } from "../../errors/index.js";
import { staff } from "../../auth/roles.js";
import { defineRoute, type EventStream } from "../../http/route.js";
import * as banners from "./banners.js";
import { presentNotification } from "./payloads.js";
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
  handler: async ({ query, actor, services }) => {
    const page = await notificationService.listNotifications(services.sequelize, actor.id, query);
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
  handler: async ({ actor, services }) => ({
    count: await notificationService.countUnread(services.sequelize, actor.id),
  }),
});

export const markNotificationsRead = defineRoute({
  name: "markNotificationsRead",
  method: "post",
  path: "/notifications/read",
  summary: "Marks the caller's notifications read: the given ids, or all. Ids of others' notifications are ignored.",
  access: "signedIn",
  body: NotificationMarkReadBody,
  response: MarkReadResponse,
  handler: async ({ body, actor, services, db }) => ({
    marked: await notificationService.markRead(services.sequelize, actor.id, body, db.transaction),
  }),
});

export const sendMessage = defineRoute({
  name: "sendMessage",
  method: "post",
  path: "/notifications",
  summary: "Sends a message to one user, a group, a learning class or everyone, in one statement.",
  access: staff,
  body: NotificationSendBody,
  response: SendMessageResponse,
  successStatus: 201,
  errors: ["not_found", "failed_precondition"],
  handler: async ({ body, services, db }) => {
    const audience = body.audience;
    if (!audience) throw InvalidArgumentError("Choose an audience.", [{ field: "userId", description: "Required." }]);
    const recipientCount = await notificationService.sendMessage(
      services.sequelize,
      audience.$case === "userId"
        ? { kind: "user", userId: audience.value }
        : audience.$case === "groupId"
          ? { kind: "group", groupId: audience.value }
          : audience.$case === "learningClass"
            ? { kind: "learningClass", learningClass: audience.value.trim() }
            : { kind: "everyone" },
      { text: body.text.trim(), severity: body.severity === MessageSeverity.WARNING ? "warning" : "info" },
      db.transaction,
    );
    return { recipientCount };
  },
});

export const streamNotifications = defineRoute({
  name: "streamNotifications",
  method: "get",
  path: "/notifications/stream",
  summary: "Server-Sent Events of the caller's new notifications; send Last-Event-ID to resume without loss.",
  description:
    "Each event has the notification's sequence number as `id` and a shtp.v1.Notification as `data` (ProtoJSON, or base64 " +
    "protobuf with `encoding=protobuf`). Comment lines are heartbeats. Works across server processes (PostgreSQL LISTEN/NOTIFY).",
  access: "signedIn",
  query: NotificationStreamQuerySchema,
  headers: NotificationStreamHeadersSchema,
  events: Notification,
  transactional: false,
  handler: async ({ actor, headers, services }): Promise<EventStream<Notification>> => {
    const subscription = await services.notificationHub.subscribe(actor.id, headers["last-event-id"]);
    return {
      close: () => subscription.close(),
      async *[Symbol.asyncIterator]() {
        for await (const row of subscription) yield { id: row.seq, message: presentNotification(row) };
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
  handler: async () => ({ items: (await banners.listBanners(false)).map(banners.presentBanner) }),
});

export const listAllBanners = defineRoute({
  name: "listAllBanners",
  method: "get",
  path: "/notifications/system/all",
  summary: "Every system banner, whatever its state (newest 100).",
  access: staff,
  response: ListBannersResponse,
  handler: async () => ({ items: (await banners.listBanners(true)).map(banners.presentBanner) }),
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
    banners.presentBanner(
      await banners.createBanner({ ...body, severity: banners.severityName(body.severity) }, db.transaction),
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
    banners.presentBanner(
      await banners.updateBanner(
        params.id,
        { ...body, severity: body.severity === undefined ? undefined : banners.severityName(body.severity) },
        db.transaction,
      ),
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
  handler: async ({ params, db }) => banners.deleteBanner(params.id, db.transaction),
});

export const notificationRoutes = [
  listNotifications,
  countUnreadNotifications,
  markNotificationsRead,
  sendMessage,
  streamNotifications,
  listActiveBanners,
  listAllBanners,
  createBanner,
  updateBanner,
  deleteBanner,
];
