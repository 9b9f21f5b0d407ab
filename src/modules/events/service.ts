import { DatabaseError, QueryTypes, UniqueConstraintError, type Sequelize, type Transaction } from "sequelize";
import { z } from "zod";
import type { Actor } from "../../auth/roles.js";
import {
  ConflictError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  type FieldViolation,
} from "../../errors/index.js";
import { decodeCursor, pageOf } from "../../validation/paging.js";
import { awardEarnedMedals } from "../medals/service.js";
import { notify } from "../notifications/service.js";
import { authorizeEventEdit, seesAllEvents } from "./policy.js";
import { eventTimeRules, type EventListQuery } from "./schema.js";

/** Who an event is for; both empty means every student. */
export interface EventAudience {
  groupIds: string[];
  learningClasses: string[];
}

/** The fields a client sets on an event. */
export interface EventFields {
  title: string;
  description: string;
  location: string;
  startsAt: Date;
  endsAt: Date;
  /** 0 = unlimited. */
  capacity: number;
  registrationDeadline: Date;
  audience: EventAudience;
}

/** An event as loaded for one caller, with the instants that decide what may happen to it now. */
export interface EventRow extends Omit<EventFields, "audience"> {
  id: string;
  audienceGroupIds: string[];
  audienceClasses: string[];
  authorId: string | null;
  registeredCount: number;
  /** Whether the caller is registered. */
  registered: boolean;
  createdAt: Date;
  updatedAt: Date;
  /** starts_at at full precision, the keyset of lists. */
  startsKey: string;
  /** By the database's clock, at the start of the transaction. */
  registrationClosed: boolean;
  started: boolean;
  ended: boolean;
}

/** A registration with the student's summary, as staff lists show it. */
export interface EventRegistrationRow {
  id: string;
  nickName: string;
  firstName: string;
  lastName: string;
  avatarFile: string | null;
  registeredAt: Date;
  attendedAt: Date | null;
  registeredKey: string;
}

/** A timestamptz as UTC text with microseconds: a keyset cursor that round-trips exactly. */
const instantKey = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

const keysetCursor = z.tuple([z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/), z.uuid()]);

/** The columns of EventRow; every query selecting them binds `:viewerId` (the caller). */
const eventColumns = `e.id, e.title, e.description, e.location, e.starts_at AS "startsAt", e.ends_at AS "endsAt",
  e.capacity, e.registration_deadline AS "registrationDeadline",
  e.audience_group_ids::text[] AS "audienceGroupIds", e.audience_classes AS "audienceClasses",
  e.author_id AS "authorId", e.registered_count AS "registeredCount",
  e.created_at AS "createdAt", e.updated_at AS "updatedAt", ${instantKey("e.starts_at")} AS "startsKey",
  EXISTS (SELECT 1 FROM event_registrations mine WHERE mine.event_id = e.id AND mine.user_id = :viewerId) AS registered,
  now() > e.registration_deadline AS "registrationClosed", now() >= e.starts_at AS started,
  now() >= e.ends_at AS ended`;

/**
 * The audience test for the caller, one overlap (&&) of the event's keys with the student's keys (see
 * the migration), which the GIN index on audience_keys answers. The keys are read once (an InitPlan).
 */
const audienceIncludesViewer = `e.audience_keys && (SELECT event_viewer_keys(v.group_id, v.learning_class)
  FROM users v WHERE v.id = :viewerId)`;

/** What a student may see: events of their audience, and those they are registered for (even if the audience changed). */
const visibleToStudent = `(${audienceIncludesViewer} OR EXISTS (SELECT 1 FROM event_registrations vr
  WHERE vr.event_id = e.id AND vr.user_id = :viewerId))`;

/**
 * One event as the caller may see it: staff see all, students their audience's and their own.
 * @param options.lock - lock the row (FOR UPDATE) for a change; registrations then wait for it
 * @throws AppError not_found when missing or not visible (the two are never told apart)
 */
export async function loadEvent(
  sequelize: Sequelize,
  actor: Actor,
  id: string,
  transaction?: Transaction,
  options: { lock?: boolean } = {},
): Promise<EventRow> {
  const [row] = await sequelize.query<EventRow>(
    `SELECT ${eventColumns} FROM events e
      WHERE e.id = :id ${seesAllEvents(actor) ? "" : `AND ${visibleToStudent}`}
      ${options.lock ? "FOR UPDATE OF e" : ""}`,
    { replacements: { id, viewerId: actor.id }, type: QueryTypes.SELECT, transaction },
  );
  if (!row) throw NotFoundError("The event");
  return row;
}

/**
 * The query of one page of the events the caller sees, in start order, keyset-paged on (starts_at, id).
 * Each source of events is its own ordered, limited index scan: staff walk the (starts_at, id) index; a
 * student's page is the union of their audience's events (the GIN index on audience_keys, or that
 * walk, whichever the planner finds cheaper) and their registrations (the (user_id, event_id) index),
 * each cut at `limit + 1`. Exported so a test can EXPLAIN it.
 * @param query - the window on starts_at (`from` inclusive, `to` exclusive), `mine`, limit and cursor
 */
export function listEventsQuery(
  actor: Actor,
  query: EventListQuery,
): { sql: string; replacements: Record<string, unknown> } {
  const after = query.cursor ? decodeCursor(query.cursor, keysetCursor) : undefined;
  const filters = [
    query.from ? "e.starts_at >= CAST(:from AS timestamptz)" : "",
    query.to ? "e.starts_at < CAST(:to AS timestamptz)" : "",
    after ? "(e.starts_at, e.id) > (CAST(:afterStart AS timestamptz), CAST(:afterId AS uuid))" : "",
  ].filter(Boolean);
  const source = (from: string, condition: string) =>
    `(SELECT e.id FROM ${from} WHERE ${[condition, ...filters].join(" AND ")} ORDER BY e.starts_at, e.id LIMIT :limit)`;
  const registered = source("event_registrations r JOIN events e ON e.id = r.event_id", "r.user_id = :viewerId");
  const sources = query.mine
    ? [registered]
    : seesAllEvents(actor)
      ? [source("events e", "TRUE")]
      : [source("events e", audienceIncludesViewer), registered];
  return {
    sql: `SELECT ${eventColumns}
            FROM (${sources.join(" UNION ")}) AS page JOIN events e ON e.id = page.id
           ORDER BY e.starts_at, e.id
           LIMIT :limit`,
    replacements: {
      viewerId: actor.id,
      from: query.from ?? null,
      to: query.to ?? null,
      afterStart: after?.[0] ?? null,
      afterId: after?.[1] ?? null,
      limit: query.limit + 1,
    },
  };
}

/**
 * A page of the events the caller sees (listEventsQuery).
 * @throws AppError invalid_argument for a cursor of another list
 */
export async function listEvents(
  sequelize: Sequelize,
  actor: Actor,
  query: EventListQuery,
): Promise<{ items: EventRow[]; nextCursor: string }> {
  const { sql, replacements } = listEventsQuery(actor, query);
  const rows = await sequelize.query<EventRow>(sql, { replacements, type: QueryTypes.SELECT });
  return pageOf(rows, query.limit, (row) => [row.startsKey, row.id]);
}

/** Distinct values in their first order; ids lowercased, as PostgreSQL prints uuids. */
const distinct = (values: readonly string[]) => [...new Set(values)];

/**
 * Refuses group ids that name no group. The found groups are locked (KEY SHARE) until commit, so a
 * concurrent deletion waits and then meets the groups trigger instead of leaving a dangling id.
 * @throws AppError failed_precondition with a violation per unknown id (`audience.groupIds.<i>`)
 */
async function assertGroupsExist(sequelize: Sequelize, groupIds: readonly string[], transaction: Transaction) {
  if (groupIds.length === 0) return;
  const found = await sequelize.query<{ id: string }>(
    "SELECT id::text AS id FROM groups WHERE id = ANY(CAST(ARRAY[:groupIds] AS uuid[])) FOR KEY SHARE",
    { replacements: { groupIds: [...groupIds] }, type: QueryTypes.SELECT, transaction },
  );
  const known = new Set(found.map((row) => row.id));
  const violations = groupIds.flatMap((id, index) =>
    known.has(id.toLowerCase()) ? [] : [{ field: `audience.groupIds.${index}`, description: "No such group." }],
  );
  if (violations.length > 0)
    throw FailedPreconditionError("The audience names a group that does not exist.", violations);
}

/** The replacements of an event's columns (`:title` … `:groupIds`, `:classes`), the audience deduplicated. */
const columnValues = (fields: EventFields) => ({
  title: fields.title,
  description: fields.description,
  location: fields.location,
  startsAt: fields.startsAt,
  endsAt: fields.endsAt,
  capacity: fields.capacity,
  registrationDeadline: fields.registrationDeadline,
  groupIds: distinct(fields.audience.groupIds.map((id) => id.toLowerCase())),
  classes: distinct(fields.audience.learningClasses.map((name) => name.trim())),
});

/** `ARRAY[]` cannot be typed by PostgreSQL; an empty list becomes a typed empty array literal instead. */
const arrayParam = (name: string, values: readonly string[], type: "uuid" | "text") =>
  values.length > 0 ? `CAST(ARRAY[:${name}] AS ${type}[])` : `CAST('{}' AS ${type}[])`;

/**
 * Creates an event and announces it: one EVENT_CREATED notification to every student of its audience,
 * written by one INSERT … SELECT in the same transaction, so the statement count does not depend on
 * the audience's size. Staff are not notified: they see every event and are not its audience.
 * @throws AppError failed_precondition for an unknown group id
 */
export async function createEvent(
  sequelize: Sequelize,
  actor: Actor,
  fields: EventFields,
  transaction: Transaction,
): Promise<EventRow> {
  await assertGroupsExist(sequelize, fields.audience.groupIds, transaction);
  const values = columnValues(fields);
  const [row] = await sequelize.query<EventRow>(
    `INSERT INTO events AS e (title, description, location, starts_at, ends_at, capacity, registration_deadline,
                              audience_group_ids, audience_classes, author_id)
     VALUES (:title, :description, :location, :startsAt, :endsAt, :capacity, :registrationDeadline,
             ${arrayParam("groupIds", values.groupIds, "uuid")}, ${arrayParam("classes", values.classes, "text")}, :viewerId)
     RETURNING ${eventColumns}`,
    {
      replacements: { ...values, viewerId: actor.id },
      type: QueryTypes.SELECT,
      transaction,
    },
  );
  if (!row) throw new Error("INSERT … RETURNING gave no row.");
  await notify(
    { sequelize, transaction },
    { kind: "students", groupIds: row.audienceGroupIds, learningClasses: row.audienceClasses },
    { type: "event_created", payload: { eventId: row.id, title: row.title, startsAt: row.startsAt.toISOString() } },
  );
  return row;
}

/** The changes of a PATCH: absent = keep, present = set; a present audience replaces the old one. */
export type EventChanges = Partial<EventFields>;

/**
 * The time rules over the merged event. The violation names the field the client sent: the other
 * instant when given, else startsAt (which moved against the stored value).
 */
function timeViolations(merged: EventFields, changes: EventChanges): FieldViolation[] {
  return eventTimeRules.flatMap((rule) =>
    rule.holds(merged.startsAt.getTime(), merged[rule.field].getTime())
      ? []
      : changes[rule.field] === undefined
        ? [{ field: "startsAt", description: `Conflicts with the stored ${rule.field}; send ${rule.field} too.` }]
        : [{ field: rule.field, description: rule.message }],
  );
}

/**
 * Changes an event (its author or an admin). The row stays locked until commit, so registrations wait
 * and a lowered capacity is checked against the final count.
 * @throws AppError not_found, permission_denied, invalid_argument (time order), failed_precondition
 *   (capacity below the registrations, unknown group)
 */
export async function updateEvent(
  sequelize: Sequelize,
  actor: Actor,
  id: string,
  changes: EventChanges,
  transaction: Transaction,
): Promise<EventRow> {
  const event = await loadEvent(sequelize, actor, id, transaction, { lock: true });
  authorizeEventEdit(actor, event);
  const merged: EventFields = {
    title: changes.title ?? event.title,
    description: changes.description ?? event.description,
    location: changes.location ?? event.location,
    startsAt: changes.startsAt ?? event.startsAt,
    endsAt: changes.endsAt ?? event.endsAt,
    capacity: changes.capacity ?? event.capacity,
    registrationDeadline: changes.registrationDeadline ?? event.registrationDeadline,
    audience: changes.audience ?? { groupIds: event.audienceGroupIds, learningClasses: event.audienceClasses },
  };
  const violations = timeViolations(merged, changes);
  if (violations.length > 0) throw InvalidArgumentError("The event's times are out of order.", violations);
  if (merged.capacity !== 0 && merged.capacity < event.registeredCount) {
    throw FailedPreconditionError(`${event.registeredCount} students are registered; the capacity cannot be lower.`, [
      { field: "capacity", description: `At least ${event.registeredCount}, or 0 for unlimited.` },
    ]);
  }
  if (changes.audience) await assertGroupsExist(sequelize, changes.audience.groupIds, transaction);
  const values = columnValues(merged);
  const [row] = await sequelize.query<EventRow>(
    `UPDATE events AS e
        SET title = :title, description = :description, location = :location, starts_at = :startsAt,
            ends_at = :endsAt, capacity = :capacity, registration_deadline = :registrationDeadline,
            audience_group_ids = ${arrayParam("groupIds", values.groupIds, "uuid")},
            audience_classes = ${arrayParam("classes", values.classes, "text")}, updated_at = now()
      WHERE e.id = :id
     RETURNING ${eventColumns}`,
    {
      replacements: { ...values, id, viewerId: actor.id },
      type: QueryTypes.SELECT,
      transaction,
    },
  );
  if (!row) throw NotFoundError("The event");
  return row;
}

/** @returns the instant in the words of a message: `2026-12-01 10:00 UTC` */
const humanInstant = (instant: Date) => `${instant.toISOString().slice(0, 16).replace("T", " ")} UTC`;

/**
 * Deletes an event (its author or an admin) and, by cascade, its registrations. If it has not ended,
 * each registered student first gets a MESSAGE (warning) that it was cancelled, selected set-based from
 * the registrations in the same transaction; deleting a past event is housekeeping, not a cancellation,
 * and attendance already counted towards medals stays counted.
 * @throws AppError not_found, permission_denied
 */
export async function deleteEvent(
  sequelize: Sequelize,
  actor: Actor,
  id: string,
  transaction: Transaction,
): Promise<void> {
  const event = await loadEvent(sequelize, actor, id, transaction, { lock: true });
  authorizeEventEdit(actor, event);
  if (!event.ended && event.registeredCount > 0) {
    const registered = await sequelize.query<{ userId: string }>(
      `SELECT user_id AS "userId" FROM event_registrations WHERE event_id = :eventId`,
      { replacements: { eventId: id }, type: QueryTypes.SELECT, transaction },
    );
    await notify(
      { sequelize, transaction },
      { kind: "users", userIds: registered.map((row) => row.userId) },
      {
        type: "message",
        payload: {
          text: `The event “${event.title}” on ${humanInstant(event.startsAt)} was cancelled.`,
          severity: "warning",
        },
      },
    );
  }
  await sequelize.query("DELETE FROM events WHERE id = :id", { replacements: { id }, transaction });
}

/** The constraint that refuses a registration beyond the capacity (see the migration). */
const CAPACITY_CONSTRAINT = "events_within_capacity";

const isCapacityViolation = (error: unknown) =>
  error instanceof DatabaseError && (error.parent as { constraint?: string }).constraint === CAPACITY_CONSTRAINT;

const eventFull = () => ConflictError("The event is full.");
const alreadyRegistered = () => ConflictError("You are already registered for this event.");

/**
 * Registers the calling student. The checks before the insert give clear answers in the common case;
 * the database decides under races: the primary key refuses a second registration, and the insert's
 * trigger raises the event's counter under its row lock, where the capacity constraint refuses the
 * registration that would exceed it.
 * @returns the event as the student now sees it
 * @throws AppError not_found (missing or outside their audience), conflict (already registered, full),
 *   failed_precondition (after the deadline)
 */
export async function registerForEvent(
  sequelize: Sequelize,
  actor: Actor,
  id: string,
  transaction: Transaction,
): Promise<EventRow> {
  const event = await loadEvent(sequelize, actor, id, transaction);
  if (event.registered) throw alreadyRegistered();
  if (event.registrationClosed) throw FailedPreconditionError("Registration for this event has closed.");
  if (event.capacity > 0 && event.registeredCount >= event.capacity) throw eventFull();
  try {
    await sequelize.query("INSERT INTO event_registrations (event_id, user_id) VALUES (:id, :userId)", {
      replacements: { id, userId: actor.id },
      transaction,
    });
  } catch (error) {
    if (error instanceof UniqueConstraintError) throw alreadyRegistered();
    if (isCapacityViolation(error)) throw eventFull();
    throw error;
  }
  return loadEvent(sequelize, actor, id, transaction);
}

/**
 * Cancels the calling student's registration, until the event starts (afterwards the registration is
 * the attendance record). The delete trigger lowers the counter.
 * @throws AppError not_found (no such event for them, or not registered), failed_precondition (started)
 */
export async function cancelRegistration(
  sequelize: Sequelize,
  actor: Actor,
  id: string,
  transaction: Transaction,
): Promise<void> {
  const event = await loadEvent(sequelize, actor, id, transaction);
  if (!event.registered) throw NotFoundError("Your registration");
  if (event.started)
    throw FailedPreconditionError("The event has started; the registration can no longer be cancelled.");
  await sequelize.query("DELETE FROM event_registrations WHERE event_id = :id AND user_id = :userId", {
    replacements: { id, userId: actor.id },
    transaction,
  });
}

/**
 * An event's registrations in registration order, keyset-paged on (event_id, registered_at, user_id).
 * @throws AppError not_found
 */
export async function listRegistrations(
  sequelize: Sequelize,
  actor: Actor,
  id: string,
  query: { limit: number; cursor?: string },
): Promise<{ items: EventRegistrationRow[]; nextCursor: string }> {
  await loadEvent(sequelize, actor, id);
  const after = query.cursor ? decodeCursor(query.cursor, keysetCursor) : undefined;
  const rows = await sequelize.query<EventRegistrationRow>(
    `SELECT u.id, u.nick_name AS "nickName", u.first_name AS "firstName", u.last_name AS "lastName",
            u.avatar_file AS "avatarFile", r.registered_at AS "registeredAt", r.attended_at AS "attendedAt",
            ${instantKey("r.registered_at")} AS "registeredKey"
       FROM event_registrations r JOIN users u ON u.id = r.user_id
      WHERE r.event_id = :id
        ${after ? "AND (r.registered_at, r.user_id) > (CAST(:afterAt AS timestamptz), CAST(:afterId AS uuid))" : ""}
      ORDER BY r.registered_at, r.user_id
      LIMIT :limit`,
    {
      replacements: { id, afterAt: after?.[0] ?? null, afterId: after?.[1] ?? null, limit: query.limit + 1 },
      type: QueryTypes.SELECT,
    },
  );
  return pageOf(rows, query.limit, (row) => [row.registeredKey, row.id]);
}

/**
 * Marks registered students as attended, once the event has started. Only registrations not marked
 * yet are marked, and exactly those students' `events_attended` counters go up, in one statement, so
 * marking twice (or concurrently) never counts twice. Then medals now earned ("5 events attended")
 * are awarded with their notifications, in the same transaction.
 * @param userIds - the students; every one must be registered
 * @returns how many were newly marked
 * @throws AppError not_found, failed_precondition (not started yet; ids not registered, one violation each)
 */
export async function markAttendance(
  sequelize: Sequelize,
  actor: Actor,
  id: string,
  userIds: readonly string[],
  transaction: Transaction,
): Promise<number> {
  const event = await loadEvent(sequelize, actor, id, transaction);
  if (!event.started) throw FailedPreconditionError("Attendance can be marked once the event has started.");
  if (userIds.length === 0) return 0;
  const replacements = { id, userIds: [...userIds] };
  const unregistered = await sequelize.query<{ position: string }>(
    `SELECT given.position FROM unnest(CAST(ARRAY[:userIds] AS uuid[])) WITH ORDINALITY AS given (user_id, position)
      WHERE NOT EXISTS (SELECT 1 FROM event_registrations r WHERE r.event_id = :id AND r.user_id = given.user_id)
      ORDER BY given.position`,
    { replacements, type: QueryTypes.SELECT, transaction },
  );
  if (unregistered.length > 0) {
    throw FailedPreconditionError(
      "Only students registered for the event can be marked as attended.",
      unregistered.map((row) => ({
        field: `userIds.${Number(row.position) - 1}`,
        description: "Not registered for this event.",
      })),
    );
  }
  const marked = await sequelize.query<{ userId: string }>(
    `WITH marked AS (
       UPDATE event_registrations SET attended_at = now()
        WHERE event_id = :id AND user_id = ANY(CAST(ARRAY[:userIds] AS uuid[])) AND attended_at IS NULL
       RETURNING user_id
     )
     UPDATE users u SET events_attended = u.events_attended + 1
       FROM marked WHERE u.id = marked.user_id
     RETURNING u.id::text AS "userId"`,
    { replacements, type: QueryTypes.SELECT, transaction },
  );
  const markedIds = marked.map((row) => row.userId);
  await awardEarnedMedals({ sequelize, transaction }, markedIds);
  return markedIds.length;
}
