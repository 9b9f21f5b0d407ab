import { createRequire } from "node:module";
import PgBoss from "pg-boss";
import { QueryTypes, type QueryInterface } from "sequelize";

/** The version of pg-boss's own schema that the installed library builds. */
const QUEUE_SCHEMA_VERSION = (createRequire(import.meta.url)("pg-boss/version.json") as { schema: number }).schema;

/** pg-boss's schema; the judging queue's jobs live in its tables, in the same database. */
const QUEUE_SCHEMA = "pgboss";
/** The queue submissions are judged from; the judge's workers consume it. */
const JUDGING_QUEUE = "submission-judging";
/**
 * The judging queue's policy: a job whose worker dies expires after 30 minutes (longer than the
 * slowest task can take: 100 tests of 10 s CPU, 20 s wall each) and is handed out again, three more
 * times at most, a little later each time. The submission's own attempt counter turns the fourth
 * hand-out into FAILED.
 */
const JUDGING_QUEUE_OPTIONS = {
  policy: "standard",
  retryLimit: 3,
  retryDelay: 10,
  retryBackoff: true,
  expireInSeconds: 1800,
  retentionMinutes: 14 * 24 * 60,
};

/** The notification types before this migration, and the type it adds. */
const EARLIER_TYPES = ["achievement_accepted", "achievement_rejected", "event_created", "medal_awarded", "message"];
const ALL_TYPES = [...EARLIER_TYPES, "submission_judged"];

/** `notification_payload_is_valid`, with or without the submission_judged payload. */
const payloadCheck = (withSubmissionJudged: boolean) => `
  CREATE OR REPLACE FUNCTION notification_payload_is_valid(kind text, payload jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE AS $$
      SELECT jsonb_typeof(payload) = 'object' AND (
        SELECT coalesce(array_agg(key ORDER BY key), '{}') FROM jsonb_object_keys(payload) AS key
      ) = CASE kind
        WHEN 'achievement_accepted' THEN ARRAY['achievementId', 'points', 'title']
        WHEN 'achievement_rejected' THEN ARRAY['achievementId', 'comment', 'title']
        WHEN 'event_created' THEN ARRAY['eventId', 'startsAt', 'title']
        WHEN 'medal_awarded' THEN ARRAY['medal']
        WHEN 'message' THEN ARRAY['severity', 'text']
        ${withSubmissionJudged ? "WHEN 'submission_judged' THEN ARRAY['failedTest', 'submissionId', 'taskId', 'title', 'verdict']" : ""}
      END
      AND CASE kind
        WHEN 'achievement_accepted' THEN jsonb_typeof(payload->'achievementId') = 'string'
          AND jsonb_typeof(payload->'title') = 'string' AND jsonb_typeof(payload->'points') = 'number'
        WHEN 'achievement_rejected' THEN jsonb_typeof(payload->'achievementId') = 'string'
          AND jsonb_typeof(payload->'title') = 'string' AND jsonb_typeof(payload->'comment') = 'string'
        WHEN 'event_created' THEN jsonb_typeof(payload->'eventId') = 'string'
          AND jsonb_typeof(payload->'title') = 'string' AND jsonb_typeof(payload->'startsAt') = 'string'
        WHEN 'medal_awarded' THEN payload->>'medal' IN
          ('first_achievement', 'rating_100', 'rating_1000', 'ten_achievements', 'five_events')
        WHEN 'message' THEN jsonb_typeof(payload->'text') = 'string' AND payload->>'severity' IN ('info', 'warning')
        ${
          withSubmissionJudged
            ? `WHEN 'submission_judged' THEN jsonb_typeof(payload->'submissionId') = 'string'
          AND jsonb_typeof(payload->'taskId') = 'string' AND jsonb_typeof(payload->'title') = 'string'
          AND payload->>'verdict' IN ('accepted', 'wrong_answer', 'time_limit', 'memory_limit', 'output_limit',
            'runtime_error', 'compile_error')
          AND jsonb_typeof(payload->'failedTest') = 'number'`
            : ""
        }
        ELSE false
      END
    $$;
  ALTER TABLE notifications DROP CONSTRAINT notifications_type_check;
  ALTER TABLE notifications ADD CONSTRAINT notifications_type_check
    CHECK (type IN (${(withSubmissionJudged ? ALL_TYPES : EARLIER_TYPES).map((type) => `'${type}'`).join(", ")}));`;

/**
 * Programming tasks with their tests, day challenges, homework contests, submissions and their
 * per-test results, the judge's workers, the submission throttle, pg-boss's job queue and the
 * SUBMISSION_JUDGED notification. The database holds every rule a race or a bug could break: one task
 * per day (the key), contest tasks and challenge submissions as real references, `status = finished`
 * exactly when a verdict is set, the sizes of sources, tests and compile logs, and marks within the
 * contest's task count.
 */
export async function up({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  const { sequelize } = queryInterface;
  // pg-boss's construction SQL is its own transaction (BEGIN … COMMIT under pg-boss's advisory lock),
  // run here under the migration lock, so every process (and the workers, which only check the
  // version) finds the queue ready; the library never creates or migrates anything at boot.
  const [schema] = await sequelize.query<{ installed: boolean }>(
    `SELECT to_regclass('${QUEUE_SCHEMA}.version') IS NOT NULL AS installed`,
    { type: QueryTypes.SELECT },
  );
  if (!schema?.installed) {
    await sequelize.query(PgBoss.getConstructionPlans(QUEUE_SCHEMA));
  } else {
    // A database where an earlier pg-boss made the schema: bring it to this library's version.
    const [row] = await sequelize.query<{ version: number }>(
      `SELECT max(version)::int AS version FROM ${QUEUE_SCHEMA}.version`,
      { type: QueryTypes.SELECT },
    );
    const current = row?.version ?? QUEUE_SCHEMA_VERSION;
    if (current < QUEUE_SCHEMA_VERSION) await sequelize.query(PgBoss.getMigrationPlans(QUEUE_SCHEMA, String(current)));
  }
  await sequelize.transaction(async (transaction) => {
    await sequelize.query(`SELECT ${QUEUE_SCHEMA}.create_queue(:name, CAST(:options AS json))`, {
      replacements: { name: JUDGING_QUEUE, options: JSON.stringify(JUDGING_QUEUE_OPTIONS) },
      transaction,
    });
    await sequelize.query(
      `-- "Today" in the school's time zone (configured, so passed in): what day challenges are dated by.
       CREATE FUNCTION school_today(zone text) RETURNS date LANGUAGE sql STABLE AS $$
         SELECT (now() AT TIME ZONE zone)::date
       $$;
       -- A contest mark from the distinct tasks solved and the contest's thresholds: 5, 4, 3, else 2.
       CREATE FUNCTION contest_mark(solved integer, mark5 integer, mark4 integer, mark3 integer) RETURNS integer
         LANGUAGE sql IMMUTABLE AS $$
           SELECT CASE WHEN solved >= mark5 THEN 5 WHEN solved >= mark4 THEN 4 WHEN solved >= mark3 THEN 3 ELSE 2 END
         $$;

       CREATE TABLE tasks (
         id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
         -- Creation order: the keyset of the staff list.
         seq bigint GENERATED ALWAYS AS IDENTITY,
         title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
         statement text NOT NULL DEFAULT '' CHECK (length(statement) <= 100000),
         time_limit_ms integer NOT NULL DEFAULT 1000 CHECK (time_limit_ms BETWEEN 100 AND 10000),
         memory_limit_mb integer NOT NULL DEFAULT 256 CHECK (memory_limit_mb BETWEEN 16 AND 1024),
         languages text[] NOT NULL
           CHECK (cardinality(languages) BETWEEN 1 AND 2 AND languages <@ ARRAY['python', 'cpp']),
         checker text NOT NULL DEFAULT 'lines' CHECK (checker IN ('lines', 'tokens')),
         tests_version integer NOT NULL DEFAULT 1 CHECK (tests_version >= 1),
         -- sha256 of the tests as the service canonicalises them: an unchanged set keeps its version.
         tests_digest text NOT NULL DEFAULT '',
         -- Kept by the task_tests triggers below, never by application code.
         test_count integer NOT NULL DEFAULT 0 CHECK (test_count BETWEEN 0 AND 100),
         tests_bytes bigint NOT NULL DEFAULT 0 CHECK (tests_bytes BETWEEN 0 AND 67108864),
         author_id uuid REFERENCES users (id) ON DELETE SET NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         updated_at timestamptz NOT NULL DEFAULT now()
       );
       CREATE UNIQUE INDEX tasks_seq_key ON tasks (seq);
       -- ON DELETE SET NULL of a deleted author finds their tasks without a scan.
       CREATE INDEX tasks_author_id_idx ON tasks (author_id) WHERE author_id IS NOT NULL;

       -- Tests live in the database, so workers on other machines need no shared disk.
       CREATE TABLE task_tests (
         task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
         ordinal integer NOT NULL CHECK (ordinal BETWEEN 1 AND 100),
         input text NOT NULL CHECK (octet_length(input) <= 8388608),
         output text NOT NULL CHECK (octet_length(output) <= 8388608),
         demo boolean NOT NULL DEFAULT false,
         PRIMARY KEY (task_id, ordinal)
       );

       -- test_count and tests_bytes follow every statement on task_tests, set-based per task; the
       -- CHECKs on tasks then refuse more than 100 tests or 64 MiB, and a gap in the ordinals is refused
       -- here (octet_length reads a stored value's size without decompressing it).
       CREATE FUNCTION task_tests_recount() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         UPDATE tasks t SET test_count = s.n, tests_bytes = s.bytes
           FROM (SELECT c.task_id, count(x.ordinal)::integer AS n, coalesce(max(x.ordinal), 0) AS top,
                        coalesce(sum(octet_length(x.input) + octet_length(x.output)), 0) AS bytes
                   FROM (SELECT DISTINCT task_id FROM changed) c
                   LEFT JOIN task_tests x ON x.task_id = c.task_id
                  GROUP BY c.task_id) s
          WHERE t.id = s.task_id;
         IF EXISTS (SELECT 1 FROM tasks t JOIN (SELECT DISTINCT task_id FROM changed) c ON c.task_id = t.id
                     WHERE (SELECT coalesce(max(ordinal), 0) FROM task_tests x WHERE x.task_id = t.id) <> t.test_count) THEN
           RAISE EXCEPTION 'test ordinals of a task must run 1..n' USING ERRCODE = 'check_violation';
         END IF;
         RETURN NULL;
       END $$;
       CREATE TRIGGER task_tests_recount_insert AFTER INSERT ON task_tests
         REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION task_tests_recount();
       CREATE TRIGGER task_tests_recount_update AFTER UPDATE ON task_tests
         REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION task_tests_recount();
       CREATE TRIGGER task_tests_recount_delete AFTER DELETE ON task_tests
         REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION task_tests_recount();
       -- Moving a test to another task would bypass the old task's counters: forbidden.
       CREATE FUNCTION task_tests_task_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         RAISE EXCEPTION 'a test cannot move to another task' USING ERRCODE = 'check_violation';
       END $$;
       CREATE TRIGGER task_tests_task_fixed BEFORE UPDATE OF task_id ON task_tests
         FOR EACH ROW WHEN (OLD.task_id IS DISTINCT FROM NEW.task_id) EXECUTE FUNCTION task_tests_task_fixed();

       -- One task per calendar day of the school's time zone, by the key; past days are kept.
       CREATE TABLE day_challenges (
         day date PRIMARY KEY,
         task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE RESTRICT,
         set_by uuid REFERENCES users (id) ON DELETE SET NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         updated_at timestamptz NOT NULL DEFAULT now(),
         -- What challenge submissions refer to, so a day's task cannot change under them.
         CONSTRAINT day_challenges_day_task_key UNIQUE (day, task_id)
       );
       -- Whether a task is visible through a challenge of today or earlier; the RESTRICT check of task deletion.
       CREATE INDEX day_challenges_task_day_idx ON day_challenges (task_id, day);
       CREATE INDEX day_challenges_set_by_idx ON day_challenges (set_by) WHERE set_by IS NOT NULL;

       CREATE TABLE contests (
         id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
         title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
         description text NOT NULL DEFAULT '' CHECK (length(description) <= 20000),
         starts_at timestamptz NOT NULL,
         deadline timestamptz NOT NULL,
         -- The events' audience model and key functions: '*' for everyone, 'g:<group>', 'c:<class>'.
         audience_group_ids uuid[] NOT NULL DEFAULT '{}',
         audience_classes text[] NOT NULL DEFAULT '{}',
         audience_keys text[] GENERATED ALWAYS AS (event_audience_keys(audience_group_ids, audience_classes)) STORED,
         mark5 integer NOT NULL,
         mark4 integer NOT NULL,
         mark3 integer NOT NULL,
         author_id uuid REFERENCES users (id) ON DELETE SET NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         updated_at timestamptz NOT NULL DEFAULT now(),
         CONSTRAINT contests_deadline_after_start CHECK (deadline > starts_at),
         CONSTRAINT contests_marks_order CHECK (mark5 >= mark4 AND mark4 >= mark3 AND mark3 >= 1)
       );
       -- Lists, latest start first, keyset-paged on (starts_at, id).
       CREATE INDEX contests_starts_at_id_idx ON contests (starts_at DESC, id DESC);
       -- A student's contests (audience_keys && their keys), and the groups trigger's lookup.
       CREATE INDEX contests_audience_keys_idx ON contests USING gin (audience_keys);
       CREATE INDEX contests_author_id_idx ON contests (author_id) WHERE author_id IS NOT NULL;

       -- A contest's tasks in order, as real references: a task in a contest cannot be deleted.
       CREATE TABLE contest_tasks (
         contest_id uuid NOT NULL REFERENCES contests (id) ON DELETE CASCADE,
         task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE RESTRICT,
         position integer NOT NULL CHECK (position BETWEEN 1 AND 50),
         PRIMARY KEY (contest_id, task_id),
         -- Deferred, so a reordering can swap positions within one transaction.
         CONSTRAINT contest_tasks_position_key UNIQUE (contest_id, position) DEFERRABLE INITIALLY DEFERRED
       );
       -- Whether a task is visible through a started contest; the RESTRICT check of task deletion.
       CREATE INDEX contest_tasks_task_idx ON contest_tasks (task_id);

       -- Each mark threshold is at most the number of tasks, checked at commit (a contest and its
       -- tasks are written by several statements).
       CREATE FUNCTION contest_marks_fit(contest uuid) RETURNS void LANGUAGE plpgsql AS $$
       DECLARE highest integer; tasks integer;
       BEGIN
         SELECT c.mark5, (SELECT count(*) FROM contest_tasks ct WHERE ct.contest_id = c.id)
           INTO highest, tasks FROM contests c WHERE c.id = contest;
         IF FOUND AND highest > tasks THEN
           RAISE EXCEPTION 'contest % asks for % solved tasks but has %', contest, highest, tasks
             USING ERRCODE = 'check_violation';
         END IF;
       END $$;
       CREATE FUNCTION contests_check_marks() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         PERFORM contest_marks_fit(NEW.id);
         RETURN NULL;
       END $$;
       CREATE FUNCTION contest_tasks_check_marks() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         PERFORM contest_marks_fit(CASE TG_OP WHEN 'DELETE' THEN OLD.contest_id ELSE NEW.contest_id END);
         RETURN NULL;
       END $$;
       CREATE CONSTRAINT TRIGGER contests_marks_fit AFTER INSERT OR UPDATE ON contests
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION contests_check_marks();
       CREATE CONSTRAINT TRIGGER contest_tasks_marks_fit AFTER INSERT OR UPDATE OR DELETE ON contest_tasks
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION contest_tasks_check_marks();

       -- As for events: a group named in a contest's audience cannot be deleted (answered 409).
       CREATE FUNCTION groups_keep_contest_audiences() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF EXISTS (SELECT 1 FROM contests WHERE audience_keys @> ARRAY['g:' || OLD.id::text]) THEN
           RAISE EXCEPTION 'group % is in the audience of a contest', OLD.id USING ERRCODE = 'restrict_violation';
         END IF;
         RETURN OLD;
       END $$;
       CREATE TRIGGER groups_keep_contest_audiences BEFORE DELETE ON groups
         FOR EACH ROW EXECUTE FUNCTION groups_keep_contest_audiences();

       CREATE TABLE submissions (
         id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
         -- Sending order, exact and unique: the keyset of every submission list.
         seq bigint GENERATED ALWAYS AS IDENTITY,
         user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
         task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE RESTRICT,
         contest_id uuid,
         challenge_day date,
         language text NOT NULL CHECK (language IN ('python', 'cpp')),
         -- Stored here, never as a file: nothing about a source is ever public.
         source text NOT NULL CHECK (octet_length(source) BETWEEN 1 AND 65536),
         status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'judging', 'finished', 'failed')),
         verdict text CHECK (verdict IN ('accepted', 'wrong_answer', 'time_limit', 'memory_limit', 'output_limit',
                                         'runtime_error', 'compile_error')),
         failed_test integer CHECK (failed_test BETWEEN 1 AND 100),
         passed_tests integer NOT NULL DEFAULT 0 CHECK (passed_tests BETWEEN 0 AND 100),
         total_tests integer NOT NULL DEFAULT 0 CHECK (total_tests BETWEEN 0 AND 100),
         max_time_ms integer NOT NULL DEFAULT 0 CHECK (max_time_ms >= 0),
         max_memory_kb integer NOT NULL DEFAULT 0 CHECK (max_memory_kb >= 0),
         compile_log text NOT NULL DEFAULT '' CHECK (octet_length(compile_log) <= 8192),
         tests_version integer CHECK (tests_version >= 1),
         -- Raised by each rejudge; a job names the round it was sent for, so an old job finds nothing to do.
         judge_round integer NOT NULL DEFAULT 1 CHECK (judge_round >= 1),
         -- How many times a worker took up this round; the fourth hand-out fails the submission.
         attempts integer NOT NULL DEFAULT 0 CHECK (attempts BETWEEN 0 AND 3),
         -- The current worker's fence: results are written only with this token, until it expires.
         lease_token uuid,
         lease_expires_at timestamptz,
         created_at timestamptz NOT NULL DEFAULT now(),
         finished_at timestamptz,
         rejected_by uuid REFERENCES users (id) ON DELETE SET NULL,
         rejected_at timestamptz,
         rejection_reason text CHECK (length(rejection_reason) BETWEEN 1 AND 1000),
         -- A contest submission is for one of the contest's tasks, a challenge submission for the day's task.
         CONSTRAINT submissions_contest_task_fkey FOREIGN KEY (contest_id, task_id)
           REFERENCES contest_tasks (contest_id, task_id) ON DELETE RESTRICT,
         CONSTRAINT submissions_challenge_task_fkey FOREIGN KEY (challenge_day, task_id)
           REFERENCES day_challenges (day, task_id) ON DELETE RESTRICT ON UPDATE RESTRICT,
         CONSTRAINT submissions_one_context CHECK (contest_id IS NULL OR challenge_day IS NULL),
         -- A verdict exactly when finished; a failed test exactly for the verdicts that have one.
         CONSTRAINT submissions_verdict_iff_finished CHECK ((status = 'finished') = (verdict IS NOT NULL)),
         CONSTRAINT submissions_failed_test_iff_test_verdict CHECK (
           coalesce(verdict IN ('wrong_answer', 'time_limit', 'memory_limit', 'output_limit', 'runtime_error'), false)
             = (failed_test IS NOT NULL)),
         CONSTRAINT submissions_tests_version_iff_finished CHECK ((status = 'finished') = (tests_version IS NOT NULL)),
         CONSTRAINT submissions_finished_at_iff_done CHECK ((status IN ('finished', 'failed')) = (finished_at IS NOT NULL)),
         CONSTRAINT submissions_lease_iff_judging CHECK (
           (status = 'judging') = (lease_token IS NOT NULL) AND (lease_token IS NULL) = (lease_expires_at IS NULL)),
         CONSTRAINT submissions_rejection_whole CHECK ((rejected_at IS NULL) = (rejection_reason IS NULL))
       );
       CREATE UNIQUE INDEX submissions_seq_key ON submissions (seq);
       -- A user's own list, newest first (and account deletion's cascade).
       CREATE INDEX submissions_user_seq_idx ON submissions (user_id, seq DESC);
       -- Staff lists by task, newest first; task rejudges; the RESTRICT check of task deletion.
       CREATE INDEX submissions_task_seq_idx ON submissions (task_id, seq DESC);
       -- Contest results and marks (every submission of a contest, by student and task), lists by contest,
       -- and the RESTRICT checks of contest_tasks.
       CREATE INDEX submissions_contest_user_task_idx ON submissions (contest_id, user_id, task_id)
         WHERE contest_id IS NOT NULL;
       CREATE INDEX submissions_contest_seq_idx ON submissions (contest_id, seq DESC) WHERE contest_id IS NOT NULL;
       -- A day's leaderboard reads only that day's accepted, not rejected submissions.
       CREATE INDEX submissions_challenge_accepted_idx ON submissions (challenge_day, user_id, created_at, seq)
         WHERE challenge_day IS NOT NULL AND verdict = 'accepted' AND rejected_at IS NULL;
       -- The RESTRICT check of day_challenges.
       CREATE INDEX submissions_challenge_task_idx ON submissions (challenge_day, task_id) WHERE challenge_day IS NOT NULL;
       -- The judge's status: what is waiting or held or failed, without reading the finished bulk.
       CREATE INDEX submissions_unfinished_idx ON submissions (status, created_at) WHERE status <> 'finished';
       CREATE INDEX submissions_rejected_by_idx ON submissions (rejected_by) WHERE rejected_by IS NOT NULL;

       -- Per-test results of the current judging: ordinal, verdict, time and memory, never any data.
       CREATE TABLE submission_tests (
         submission_id uuid NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
         ordinal integer NOT NULL CHECK (ordinal BETWEEN 1 AND 100),
         verdict text NOT NULL CHECK (verdict IN ('accepted', 'wrong_answer', 'time_limit', 'memory_limit',
                                                  'output_limit', 'runtime_error')),
         time_ms integer NOT NULL CHECK (time_ms >= 0),
         memory_kb integer NOT NULL CHECK (memory_kb >= 0),
         -- Writing a result twice (a retried call) keeps one row.
         PRIMARY KEY (submission_id, ordinal)
       );

       -- Judge worker processes, as their heartbeats describe them.
       CREATE TABLE judge_workers (
         id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 200),
         host text NOT NULL CHECK (length(host) BETWEEN 1 AND 255),
         slots integer NOT NULL CHECK (slots BETWEEN 1 AND 256),
         -- [{"language": "python", "version": "3.11.2"}, …]
         runtimes jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(runtimes) = 'array'),
         started_at timestamptz NOT NULL DEFAULT now(),
         last_heartbeat_at timestamptz NOT NULL DEFAULT now()
       );
       CREATE INDEX judge_workers_heartbeat_idx ON judge_workers (last_heartbeat_at DESC);

       -- rate-limiter-flexible's PostgreSQL store for the submission limits, shared by every server process.
       CREATE TABLE submission_throttle (
         key varchar(255) PRIMARY KEY,
         points integer NOT NULL DEFAULT 0,
         expire bigint
       );

       ${payloadCheck(true)}`,
      { transaction },
    );
  });
}

export async function down({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.transaction(async (transaction) => {
    await queryInterface.sequelize.query(
      `DELETE FROM notifications WHERE type = 'submission_judged';
       ${payloadCheck(false)}
       DROP TABLE submission_throttle;
       DROP TABLE judge_workers;
       DROP TABLE submission_tests;
       DROP TABLE submissions;
       DROP TRIGGER groups_keep_contest_audiences ON groups;
       DROP FUNCTION groups_keep_contest_audiences();
       DROP TABLE contest_tasks;
       DROP TABLE contests;
       DROP FUNCTION contest_tasks_check_marks();
       DROP FUNCTION contests_check_marks();
       DROP FUNCTION contest_marks_fit(uuid);
       DROP TABLE day_challenges;
       DROP TABLE task_tests;
       DROP FUNCTION task_tests_task_fixed();
       DROP FUNCTION task_tests_recount();
       DROP TABLE tasks;
       DROP FUNCTION contest_mark(integer, integer, integer, integer);
       DROP FUNCTION school_today(text);
       DROP SCHEMA ${QUEUE_SCHEMA} CASCADE;`,
      { transaction },
    );
  });
}
