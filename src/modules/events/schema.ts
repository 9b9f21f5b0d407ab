import { z } from "zod";
import { CreateEventRequest, MarkAttendanceRequest, UpdateEventRequest } from "../../../generated/shtp/v1/events.js";
import { queryFlag, requiredText, trimmedText, uuidField } from "../../validation/fields.js";
import { pageQuery } from "../../validation/paging.js";
import { each, required, requestBody } from "../../validation/rules.js";

const title = requiredText(200);
const description = z.string().max(5000);
const location = trimmedText(200);
const capacity = z.number().int().min(0, "Must be 0 (unlimited) or more.").max(100_000);

/** Learning classes are free text on users ("10A"); they match exactly, as in notifications. */
const learningClass = requiredText(16);

/** Group ids are checked against the groups table by the service (422 for an unknown one). */
const audience = {
  groupIds: each(uuidField("group"), { max: 100 }),
  learningClasses: each(learningClass, { max: 100 }),
};

/** One cross-field rule: the field to blame and the check, over instants. */
interface TimeRule {
  field: "endsAt" | "registrationDeadline";
  message: string;
  holds: (startsAt: number, other: number) => boolean;
}

/** The order of an event's instants, shared by create (here) and update (the service, over merged values). */
export const eventTimeRules: readonly TimeRule[] = [
  { field: "endsAt", message: "Must be after startsAt.", holds: (startsAt, endsAt) => endsAt > startsAt },
  {
    field: "registrationDeadline",
    message: "Must not be after startsAt.",
    holds: (startsAt, deadline) => deadline <= startsAt,
  },
];

export const EventCreateBody = requestBody(
  CreateEventRequest,
  { title, description, location, startsAt: required(), endsAt: required(), capacity, audience },
  (event, report) => {
    if (!event.startsAt) return;
    for (const rule of eventTimeRules) {
      const other = event[rule.field];
      if (other && !rule.holds(event.startsAt.getTime(), other.getTime())) report(rule.field, rule.message);
    }
  },
);

export const EventUpdateBody = requestBody(UpdateEventRequest, { title, description, location, capacity, audience });

/** An RFC 3339 instant in a query string (`from`, `to`). */
const instantQuery = z.iso.datetime({ offset: true, message: "Expected an RFC 3339 timestamp." }).optional();

export const EventListQuerySchema = z
  .strictObject({ ...pageQuery, from: instantQuery, to: instantQuery, mine: queryFlag() })
  .superRefine((value, context) => {
    if (value.from && value.to && Date.parse(value.from) >= Date.parse(value.to)) {
      context.addIssue({ code: "custom", path: ["to"], message: "Must be after from." });
    }
  });
export type EventListQuery = z.infer<typeof EventListQuerySchema>;

export const EventRegistrationListQuerySchema = z.strictObject({ ...pageQuery });

/**
 * The keyset position of both event lists: an instant as UTC text with microseconds (exact, unlike a
 * JavaScript Date) and the row's uuid.
 */
export const instantIdCursor = z.tuple([z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/), z.uuid()]);

export const EventIdParamsSchema = z.strictObject({ id: uuidField("event") });

export const EventAttendanceBody = requestBody(MarkAttendanceRequest, {
  userIds: each(uuidField("user"), { max: 1000 }),
});
