import { DatabaseError, UniqueConstraintError } from "sequelize";
import { execute, select, selectPrepared, type Db, type TransactionDb } from "../../db/db.js";
import { audienceIncludesViewer, type EventListScope } from "./policy.js";

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

/** An event as a list shows it to one caller: what is presented, and the list's keyset. */
export interface EventListRow extends Omit<EventFields, "audience"> {
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
}

/** An event as loaded for one caller, with the facts the policy judges an action on it by. */
export interface EventRow extends EventListRow {
  /** Whether the caller's group or class is in the audience (the policy's audience test). */
  inAudience: boolean;
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
  /** registered_at at full precision, the keyset of the list. */
  registeredKey: string;
}

/** A keyset position: an instant as exact UTC text and a uuid. */
export type InstantIdPosition = readonly [string, string];

/** A timestamptz as UTC text with microseconds: a keyset cursor that round-trips exactly. */
const instantKey = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** The stored columns of EventListRow, over the alias `e`. */
const storedColumns = `e.id, e.title, e.description, e.location, e.starts_at AS "startsAt", e.ends_at AS "endsAt",
  e.capacity, e.registration_deadline AS "registrationDeadline",
  e.audience_group_ids::text[] AS "audienceGroupIds", e.audience_classes AS "audienceClasses",
  e.author_id AS "authorId", e.registered_count AS "registeredCount",
  e.created_at AS "createdAt", e.updated_at AS "updatedAt", ${instantKey("e.starts_at")} AS "startsKey"`;

/** The columns of EventRow; every query selecting them binds `:viewerId` (the caller). */
const eventColumns = `${storedColumns},
  EXISTS (SELECT 1 FROM event_registrations mine WHERE mine.event_id = e.id AND mine.user_id = :viewerId) AS registered,
  coalesce(${audienceIncludesViewer}, false) AS "inAudience",
  now() > e.registration_deadline AS "registrationClosed", now() >= e.starts_at AS started,
  now() >= e.ends_at AS ended`;

/**
 * One event with the caller's facts (registered, in the audience), whoever may see it: the policy judges.
 * @param viewerId - the caller
 * @param options.lock - lock the row (FOR UPDATE) for a change; registrations then wait for it
 * @returns the event, or null when there is none
 */
export async function findEvent(
  db: Db,
  viewerId: string,
  id: string,
  options: { lock?: boolean } = {},
): Promise<EventRow | null> {
  const [row] = await select<EventRow>(
    db,
    `SELECT ${eventColumns} FROM events e WHERE e.id = :id ${options.lock ? "FOR UPDATE OF e" : ""}`,
    { id, viewerId },
  );
  return row ?? null;
}

/** What bounds a page of events. */
export interface EventWindow {
  /** Starts at or after this instant (RFC 3339). */
  from?: string;
  /** Starts before this instant (RFC 3339). */
  to?: string;
  /** The position the previous page ended on. */
  after?: InstantIdPosition;
  /** How many rows to read (the page size plus one, to know if more follow). */
  limit: number;
}

/** The positions of the keys event_viewer_keys gives a student: everyone, their group, their class. */
const VIEWER_KEY_POSITIONS = [1, 2, 3] as const;

/**
 * The statement of one page of events in start order, keyset-paged on (starts_at, id). Each source of
 * events is its own ordered, limited index scan, so a page costs the same however many events the
 * school has had: `all` walks the (starts_at, id) index; `visible` is the union of the viewer's
 * audience's events (event_audience_keys, one key at a time) and their registrations (the (user_id,
 * event_starts_at, event_id) index), each cut at the limit. Exported so a test can EXPLAIN it.
 * @param viewerId - the caller
 * @param scope - which events the caller's list shows (the policy's listScope)
 */
export function eventsPageStatement(
  viewerId: string,
  scope: EventListScope,
  window: EventWindow,
): { sql: string; replacements: Record<string, unknown> } {
  /** A source's rows in (start, event id) order from `from`, cut at the window and the limit. */
  const source = (from: string, condition: string, start: string, id: string) => {
    const filters = [
      condition,
      window.from ? `${start} >= CAST(:from AS timestamptz)` : "",
      window.to ? `${start} < CAST(:to AS timestamptz)` : "",
      window.after ? `(${start}, ${id}) > (CAST(:afterStart AS timestamptz), CAST(:afterId AS uuid))` : "",
    ].filter(Boolean);
    return `(SELECT ${id} AS id, ${start} AS starts FROM ${from} WHERE ${filters.join(" AND ")}
              ORDER BY ${start}, ${id} LIMIT :limit)`;
  };
  // Registrations carry their event's start (kept by the database), so no event is read to order them.
  const registered = source("event_registrations r", "r.user_id = :viewerId", "r.event_starts_at", "r.event_id");
  // One scan per audience key of the caller (everyone's, their group's, their class's), over the rows the
  // database keeps of each event's keys, in start order.
  const audience = VIEWER_KEY_POSITIONS.map((position) =>
    source(
      "event_audience_keys k",
      `k.key = (SELECT (event_viewer_keys(v.group_id, v.learning_class))[${position}] FROM users v WHERE v.id = :viewerId)`,
      "k.starts_at",
      "k.event_id",
    ),
  );
  const sources = {
    all: [source("events e", "TRUE", "e.starts_at", "e.id")],
    visible: [...audience, registered],
    registered: [registered],
  }[scope];
  return {
    // The page is cut from the sources' starts before any event is read, so the planner reads its events
    // by primary key rather than hashing the whole table. A list needs no policy facts (the scope chose
    // its rows), and whether the caller is registered is one primary-key probe per row: together about a
    // tenth of the statement's time less than eventColumns.
    sql: `SELECT ${storedColumns}, mine.user_id IS NOT NULL AS registered
            FROM (SELECT id FROM (${sources.join(" UNION ")}) AS found ORDER BY starts, id LIMIT :limit) AS page
            JOIN events e ON e.id = page.id
            LEFT JOIN event_registrations mine ON mine.event_id = e.id AND mine.user_id = :viewerId
           ORDER BY e.starts_at, e.id`,
    replacements: {
      viewerId,
      from: window.from ?? null,
      to: window.to ?? null,
      afterStart: window.after?.[0] ?? null,
      afterId: window.after?.[1] ?? null,
      limit: window.limit,
    },
  };
}

/** @returns one page of events (eventsPageStatement) */
export function eventsPage(
  db: Db,
  viewerId: string,
  scope: EventListScope,
  window: EventWindow,
): Promise<EventListRow[]> {
  const { sql, replacements } = eventsPageStatement(viewerId, scope, window);
  // Planned once per connection and variant: planning the union cost as much as running it.
  return selectPrepared<EventListRow>(db, sql, replacements);
}

/** Distinct values in their first order. */
const distinct = (values: readonly string[]) => [...new Set(values)];

/**
 * The replacements of an event's columns (`:title` … `:groupIds`, `:classes`), each audience entry
 * once (group ids compared lowercased, as PostgreSQL prints uuids).
 */
const columnValues = (fields: EventFields) => ({
  title: fields.title,
  description: fields.description,
  location: fields.location,
  startsAt: fields.startsAt,
  endsAt: fields.endsAt,
  capacity: fields.capacity,
  registrationDeadline: fields.registrationDeadline,
  groupIds: distinct(fields.audience.groupIds.map((id) => id.toLowerCase())),
  classes: distinct(fields.audience.learningClasses),
});

/** Returns the single row of an INSERT/UPDATE … RETURNING that must give one. */
function onlyRow<Row>(rows: Row[]): Row {
  const [row] = rows;
  if (!row) throw new Error("The statement returned no row.");
  return row;
}

/**
 * Inserts an event.
 * @param authorId - the caller, its author
 * @returns the event as its author sees it
 */
export async function insertEvent(db: TransactionDb, authorId: string, fields: EventFields): Promise<EventRow> {
  const { rows } = await execute<EventRow>(
    db,
    `INSERT INTO events AS e (title, description, location, starts_at, ends_at, capacity, registration_deadline,
                              audience_group_ids, audience_classes, author_id)
     VALUES (:title, :description, :location, :startsAt, :endsAt, :capacity, :registrationDeadline,
             CAST(ARRAY[:groupIds] AS uuid[]), CAST(ARRAY[:classes] AS text[]), :viewerId)
     RETURNING ${eventColumns}`,
    { ...columnValues(fields), viewerId: authorId },
  );
  return onlyRow(rows);
}

/**
 * Writes every field of an event (the service has merged the changes into the stored ones).
 * @param viewerId - the caller, for the row's caller facts
 * @returns the event as the caller now sees it
 */
export async function updateEventRow(
  db: TransactionDb,
  viewerId: string,
  id: string,
  fields: EventFields,
): Promise<EventRow> {
  const { rows } = await execute<EventRow>(
    db,
    `UPDATE events AS e
        SET title = :title, description = :description, location = :location, starts_at = :startsAt,
            ends_at = :endsAt, capacity = :capacity, registration_deadline = :registrationDeadline,
            audience_group_ids = CAST(ARRAY[:groupIds] AS uuid[]), audience_classes = CAST(ARRAY[:classes] AS text[]),
            updated_at = now()
      WHERE e.id = :id
     RETURNING ${eventColumns}`,
    { ...columnValues(fields), id, viewerId },
  );
  return onlyRow(rows);
}

/** Deletes an event; its registrations go by cascade (their trigger keeps the counter right). */
export async function deleteEventRow(db: TransactionDb, id: string): Promise<void> {
  await execute(db, "DELETE FROM events WHERE id = :id", { id });
}

/** @returns the ids of the students registered for an event */
export async function registeredUserIds(db: Db, eventId: string): Promise<string[]> {
  const rows = await select<{ userId: string }>(
    db,
    `SELECT user_id::text AS "userId" FROM event_registrations WHERE event_id = :eventId`,
    { eventId },
  );
  return rows.map((row) => row.userId);
}

/** The constraint that refuses a registration beyond the capacity (see the migration). */
const CAPACITY_CONSTRAINT = "events_within_capacity";

const isCapacityViolation = (error: unknown) =>
  error instanceof DatabaseError && (error.parent as { constraint?: string }).constraint === CAPACITY_CONSTRAINT;

/**
 * Inserts a registration; the database decides under races. The primary key refuses a second one,
 * and the insert's trigger raises the event's counter under its row lock, where the capacity
 * constraint refuses the registration that would exceed it.
 * @returns `registered`, or why the database refused it
 */
export async function insertRegistration(
  db: TransactionDb,
  eventId: string,
  userId: string,
): Promise<"registered" | "duplicate" | "full"> {
  try {
    await execute(db, "INSERT INTO event_registrations (event_id, user_id) VALUES (:eventId, :userId)", {
      eventId,
      userId,
    });
    return "registered";
  } catch (error) {
    if (error instanceof UniqueConstraintError) return "duplicate";
    if (isCapacityViolation(error)) return "full";
    throw error;
  }
}

/** Deletes a registration (the delete trigger lowers the event's counter). */
export async function deleteRegistration(db: TransactionDb, eventId: string, userId: string): Promise<void> {
  await execute(db, "DELETE FROM event_registrations WHERE event_id = :eventId AND user_id = :userId", {
    eventId,
    userId,
  });
}

/**
 * A page of an event's registrations in registration order, keyset-paged on (event_id,
 * registered_at, user_id), with each student's summary.
 * @param after - the position the previous page ended on
 * @param limit - how many rows to read (the page size plus one)
 */
export function registrationsPage(
  db: Db,
  eventId: string,
  after: InstantIdPosition | undefined,
  limit: number,
): Promise<EventRegistrationRow[]> {
  return select<EventRegistrationRow>(
    db,
    `SELECT u.id, u.nick_name AS "nickName", u.first_name AS "firstName", u.last_name AS "lastName",
            u.avatar_file AS "avatarFile", r.registered_at AS "registeredAt", r.attended_at AS "attendedAt",
            ${instantKey("r.registered_at")} AS "registeredKey"
       FROM event_registrations r JOIN users u ON u.id = r.user_id
      WHERE r.event_id = :eventId
        ${after ? "AND (r.registered_at, r.user_id) > (CAST(:afterAt AS timestamptz), CAST(:afterId AS uuid))" : ""}
      ORDER BY r.registered_at, r.user_id
      LIMIT :limit`,
    { eventId, afterAt: after?.[0] ?? null, afterId: after?.[1] ?? null, limit },
  );
}

/**
 * @param userIds - students named by a request, in its order
 * @returns the 0-based positions in `userIds` of those not registered for the event, ascending
 */
export async function unregisteredPositions(db: Db, eventId: string, userIds: readonly string[]): Promise<number[]> {
  const rows = await select<{ position: string }>(
    db,
    `SELECT given.position FROM unnest(CAST(ARRAY[:userIds] AS uuid[])) WITH ORDINALITY AS given (user_id, position)
      WHERE NOT EXISTS (SELECT 1 FROM event_registrations r WHERE r.event_id = :eventId AND r.user_id = given.user_id)
      ORDER BY given.position`,
    { eventId, userIds: [...userIds] },
  );
  return rows.map((row) => Number(row.position) - 1);
}

/**
 * Marks the given students' registrations attended where not marked yet and raises exactly those
 * students' `events_attended` counters, in one statement, so marking twice (or concurrently) never
 * counts twice.
 * @returns the ids of the students newly marked
 */
export async function markAttended(db: TransactionDb, eventId: string, userIds: readonly string[]): Promise<string[]> {
  const { rows } = await execute<{ userId: string }>(
    db,
    `WITH marked AS (
       UPDATE event_registrations SET attended_at = now()
        WHERE event_id = :eventId AND user_id = ANY(CAST(ARRAY[:userIds] AS uuid[])) AND attended_at IS NULL
       RETURNING user_id
     )
     UPDATE users u SET events_attended = u.events_attended + 1
       FROM marked WHERE u.id = marked.user_id
     RETURNING u.id::text AS "userId"`,
    { eventId, userIds: [...userIds] },
  );
  return rows.map((row) => row.userId);
}
