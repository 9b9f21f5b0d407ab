import { z } from "zod";
import { pageQuery } from "../../validation/paging.js";
import {
  protoInt32,
  protoMessage,
  protoOptional,
  protoOptionalInt32,
  protoRepeated,
  protoRequest,
  protoString,
  protoTimestamp,
} from "../../validation/protojson.js";

const title = z.string().trim().min(1, "Required.").max(200);
const description = z.string().max(5000);
const location = z.string().trim().max(200);
const capacity = z.number().int().min(0, "Must be 0 (unlimited) or more.").max(100_000);

/** Learning classes are free text on users ("10A"); they match exactly, as in notifications. */
const learningClass = z.string().trim().min(1, "Required.").max(16);

/** Group ids are checked against the groups table by the service (422 for an unknown one). */
const audience = protoMessage({
  groupIds: protoRepeated(z.uuid("A group id."), { max: 100 }),
  learningClasses: protoRepeated(learningClass, { max: 100 }),
});

/** One cross-field rule: the field to blame and the check, over ISO timestamps. */
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

export const EventCreateSchema = protoRequest({
  title: protoString(title),
  description: protoString(description),
  location: protoString(location),
  startsAt: protoTimestamp(),
  endsAt: protoTimestamp(),
  capacity: protoInt32(capacity),
  registrationDeadline: protoTimestamp(),
  audience,
}).superRefine((value, context) => {
  for (const field of ["startsAt", "endsAt"] as const) {
    if (value[field] === undefined) context.addIssue({ code: "custom", path: [field], message: "Required." });
  }
  if (value.startsAt === undefined) return;
  const startsAt = Date.parse(value.startsAt);
  for (const rule of eventTimeRules) {
    const other = value[rule.field];
    if (other !== undefined && !rule.holds(startsAt, Date.parse(other))) {
      context.addIssue({ code: "custom", path: [rule.field], message: rule.message });
    }
  }
});

export const EventUpdateSchema = protoRequest({
  title: protoOptional(title),
  description: protoOptional(description),
  location: protoOptional(location),
  startsAt: protoTimestamp(),
  endsAt: protoTimestamp(),
  capacity: protoOptionalInt32(capacity),
  registrationDeadline: protoTimestamp(),
  audience,
});

const booleanQuery = z
  .enum(["true", "false"])
  .optional()
  .transform((value) => value === "true");

/** An RFC 3339 instant in a query string (`from`, `to`). */
const instantQuery = z.iso.datetime({ offset: true, message: "Expected an RFC 3339 timestamp." }).optional();

export const EventListQuerySchema = z
  .strictObject({ ...pageQuery, from: instantQuery, to: instantQuery, mine: booleanQuery })
  .superRefine((value, context) => {
    if (value.from && value.to && Date.parse(value.from) >= Date.parse(value.to)) {
      context.addIssue({ code: "custom", path: ["to"], message: "Must be after from." });
    }
  });
export type EventListQuery = z.infer<typeof EventListQuerySchema>;

export const EventRegistrationListQuerySchema = z.strictObject({ ...pageQuery });

export const EventIdParamsSchema = z.strictObject({ id: z.uuid("An event id.") });

export const EventAttendanceSchema = protoRequest({
  userIds: protoRepeated(z.uuid("A user id."), { max: 1000 }),
});
