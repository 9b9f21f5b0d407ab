import {
  Event as EventMessage,
  ListEventRegistrationsResponse,
  ListEventsResponse,
  MarkAttendanceResponse,
} from "../../../generated/shtp/v1/events.js";
import { staff } from "../../auth/roles.js";
import { defineRoute } from "../../http/route.js";
import * as eventService from "./events.service.js";
import { audienceFromWire, presentEvent, presentRegistration } from "./presenter.js";
import * as registrationService from "./registrations.service.js";
import {
  EventAttendanceBody,
  EventCreateBody,
  EventIdParamsSchema,
  EventListQuerySchema,
  EventRegistrationListQuerySchema,
  EventUpdateBody,
} from "./schema.js";

const visibility =
  "Staff see every event; a student sees the events whose audience includes their group or learning class " +
  "(or is empty, meaning everyone) and those they are registered for. Any other event answers 404, as a missing one.";

/** zod has required both instants (400 otherwise), so an absent one here is a bug, not client input. */
function requiredInstant(value: Date | undefined): Date {
  if (!value) throw new Error("A validated instant is missing.");
  return value;
}

export const listEvents = defineRoute({
  name: "listEvents",
  method: "get",
  path: "/events",
  summary:
    "The events the caller sees, in start order; `from`/`to` bound the start time, `mine=true` for registered ones.",
  description:
    `${visibility} \`from\` (inclusive) and \`to\` (exclusive) are RFC 3339 instants compared with startsAt, so each ` +
    "page is one range of the (starts_at, id) index. Keyset-paged: pass nextCursor as `cursor`.",
  access: "signedIn",
  query: EventListQuerySchema,
  response: ListEventsResponse,
  handler: async ({ query, actor, db }) => {
    const page = await eventService.listEvents(db, actor, query);
    return { items: page.items.map(presentEvent), nextCursor: page.nextCursor };
  },
});

export const getEvent = defineRoute({
  name: "getEvent",
  method: "get",
  path: "/events/:id",
  summary: "One event, with whether the caller is registered.",
  description: visibility,
  access: "signedIn",
  params: EventIdParamsSchema,
  response: EventMessage,
  errors: ["not_found"],
  handler: async ({ params, actor, db }) => presentEvent(await eventService.getEvent(db, actor, params.id)),
});

export const createEvent = defineRoute({
  name: "createEvent",
  method: "post",
  path: "/events",
  summary: "Creates an event and notifies every student of its audience (EVENT_CREATED), in one statement.",
  description:
    "endsAt must be after startsAt and registrationDeadline (default: startsAt) not after it; capacity 0 means " +
    "unlimited. An empty or absent audience means every student. An unknown group id is 422 with the field " +
    "`audience.groupIds.<index>`. Staff are not notified: they see every event.",
  access: staff,
  body: EventCreateBody,
  response: EventMessage,
  successStatus: 201,
  errors: ["failed_precondition"],
  handler: async ({ body, actor, db }) => {
    const startsAt = requiredInstant(body.startsAt);
    const event = await eventService.createEvent(db, actor, {
      title: body.title,
      description: body.description,
      location: body.location,
      startsAt,
      endsAt: requiredInstant(body.endsAt),
      capacity: body.capacity,
      registrationDeadline: body.registrationDeadline ?? startsAt,
      audience: audienceFromWire(body.audience),
    });
    return presentEvent(event);
  },
});

export const updateEvent = defineRoute({
  name: "updateEvent",
  method: "patch",
  path: "/events/:id",
  summary:
    "Changes an event (its author or an admin); absent fields are kept, a present audience replaces the old one.",
  description:
    "The time rules apply to the result: a violation names the field sent, or startsAt when only startsAt moved " +
    "against a stored instant. Lowering the capacity below the registrations is 422. Registered students stay " +
    "registered if the audience changes (they keep seeing the event).",
  access: staff,
  params: EventIdParamsSchema,
  body: EventUpdateBody,
  response: EventMessage,
  errors: ["not_found", "failed_precondition"],
  handler: async ({ params, body, actor, db }) =>
    presentEvent(
      await eventService.updateEvent(db, actor, params.id, {
        title: body.title,
        description: body.description,
        location: body.location,
        startsAt: body.startsAt,
        endsAt: body.endsAt,
        capacity: body.capacity,
        registrationDeadline: body.registrationDeadline,
        audience: body.audience && audienceFromWire(body.audience),
      }),
    ),
});

export const deleteEvent = defineRoute({
  name: "deleteEvent",
  method: "delete",
  path: "/events/:id",
  summary:
    "Deletes an event (its author or an admin) with its registrations; registered students are told it was cancelled.",
  description:
    "Unless the event has already ended, each registered student receives a MESSAGE notification (warning) that it " +
    "was cancelled, written in the same transaction. Attendance already counted stays counted.",
  access: staff,
  params: EventIdParamsSchema,
  errors: ["not_found"],
  handler: async ({ params, actor, db }) => eventService.deleteEvent(db, actor, params.id),
});

export const registerForEvent = defineRoute({
  name: "registerForEvent",
  method: "post",
  path: "/events/:id/registration",
  summary: "Registers the calling student; answers the event as they now see it (registered: true).",
  description:
    "Only students of the event's audience, until the registration deadline (422 after). Already registered or " +
    "full: 409. The capacity holds under concurrent requests: the database refuses the registration that would " +
    "exceed it. An event outside the student's audience answers 404.",
  access: ["student"],
  params: EventIdParamsSchema,
  response: EventMessage,
  successStatus: 201,
  errors: ["not_found", "conflict", "failed_precondition"],
  handler: async ({ params, actor, db }) =>
    presentEvent(await registrationService.registerForEvent(db, actor, params.id)),
});

export const cancelEventRegistration = defineRoute({
  name: "cancelEventRegistration",
  method: "delete",
  path: "/events/:id/registration",
  summary: "Cancels the calling student's registration, until the event starts (422 afterwards).",
  description: "404 when the student is not registered (or cannot see the event).",
  access: ["student"],
  params: EventIdParamsSchema,
  errors: ["not_found", "failed_precondition"],
  handler: async ({ params, actor, db }) => registrationService.cancelRegistration(db, actor, params.id),
});

export const listEventRegistrations = defineRoute({
  name: "listEventRegistrations",
  method: "get",
  path: "/events/:id/registrations",
  summary: "An event's registrations in registration order, with attendance; keyset-paged.",
  access: staff,
  params: EventIdParamsSchema,
  query: EventRegistrationListQuerySchema,
  response: ListEventRegistrationsResponse,
  errors: ["not_found"],
  handler: async ({ params, query, actor, db }) => {
    const page = await registrationService.listRegistrations(db, actor, params.id, query);
    return { items: page.items.map(presentRegistration), nextCursor: page.nextCursor };
  },
});

export const markEventAttendance = defineRoute({
  name: "markEventAttendance",
  method: "post",
  path: "/events/:id/attendance",
  summary: "Marks registered students as attended, once the event has started; counts towards the five-events medal.",
  description:
    "Any teacher or admin may take attendance. Every id must be a registered student (422 naming `userIds.<index>` " +
    "otherwise, nothing marked). Students already marked are not counted again; `marked` counts the new ones. " +
    "Medals earned by this (MEDAL_FIVE_EVENTS) are awarded with a MEDAL_AWARDED notification in the same transaction.",
  access: staff,
  params: EventIdParamsSchema,
  body: EventAttendanceBody,
  response: MarkAttendanceResponse,
  errors: ["not_found", "failed_precondition"],
  handler: async ({ params, body, actor, db }) => ({
    marked: await registrationService.markAttendance(db, actor, params.id, body.userIds),
  }),
});

export const eventRoutes = [
  listEvents,
  createEvent,
  getEvent,
  updateEvent,
  deleteEvent,
  registerForEvent,
  cancelEventRegistration,
  listEventRegistrations,
  markEventAttendance,
];
