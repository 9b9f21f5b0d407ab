import { encodeCursor } from "../validation/paging.js";
import type { LoadRequest } from "./protocol.js";
import type { BenchFixtures } from "./seed.js";

const API = "/api/v1";

/** The source the submission scenario sends; what the run leaves behind is found by it and deleted. */
export const BENCH_SUBMISSION_SOURCE = "# bench\nprint(sum(map(int, input().split())))";
const JSON_ACCEPT = { accept: "application/json" };
const PROTOBUF_ACCEPT = { accept: "application/x-protobuf" };

/** What a scenario needs to build its request: where the servers are, who is signed in, the seeded rows. */
export interface ScenarioContext {
  /** The contest's students are signed in one by one, in the order of `contestStudentNumbers`. */
  tokens: { heavy: string; light: string; teacher: string; contestStudents: readonly string[] };
  fixtures: BenchFixtures;
  loginEmail: string;
  password: string;
}

/** Which server a scenario loads: the app, or one of the two reference servers. */
export type ServerName = "app" | "koa" | "floor" | "floorSession";

/** One load scenario, run round-robin with the others. */
export interface Scenario {
  id: string;
  title: string;
  /**
   * `reference`: a reference server; `read`: counts for the p99 target; `write`: a mutation; `login`: bounded by
   * the password hash, reported apart and loaded with fewer connections.
   */
  kind: "reference" | "read" | "write" | "login";
  server: ServerName;
  /** A module still being built elsewhere: a 404/405 from its route means "not available yet", not a failure. */
  pendingModule?: string;
  /** Connections, when not the run's default. */
  connections?: number;
  /** What the scenario sends: one request every time, or several in turn (see `requestsOf`). */
  request(context: ScenarioContext): LoadRequest | LoadRequest[];
}

/** A scenario's requests, sent in turn across its connections. */
export const requestsOf = (scenario: Scenario, context: ScenarioContext): LoadRequest[] =>
  [scenario.request(context)].flat();

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const get = (path: string, headers: Record<string, string>): LoadRequest => ({ method: "GET", path, headers });

/**
 * Every load scenario. Adding a route to the bench is one entry here (and, for a new table, a seed step in
 * seed.ts); routes of modules still on other branches are listed already with `pendingModule`.
 */
export const SCENARIOS: readonly Scenario[] = [
  {
    id: "ref-koa",
    title: "bare Koa, static body (reference)",
    kind: "reference",
    server: "koa",
    request: () => get("/", JSON_ACCEPT),
  },
  {
    id: "ref-floor",
    title: "node:http + pg, notifications page (floor)",
    kind: "reference",
    server: "floor",
    request: () => get("/", JSON_ACCEPT),
  },
  {
    id: "ref-floor-session",
    title: "node:http + pg, session check + page (floor+auth)",
    kind: "reference",
    server: "floorSession",
    request: () => get("/", JSON_ACCEPT),
  },
  {
    id: "version",
    title: "GET /version",
    kind: "read",
    server: "app",
    request: () => get(`${API}/version`, JSON_ACCEPT),
  },
  {
    id: "me",
    title: "GET /auth/me (heavy user)",
    kind: "read",
    server: "app",
    request: ({ tokens }) => get(`${API}/auth/me`, { ...JSON_ACCEPT, ...bearer(tokens.heavy) }),
  },
  {
    id: "notif-json",
    title: "GET /notifications?limit=20 JSON (200k user)",
    kind: "read",
    server: "app",
    request: ({ tokens }) => get(`${API}/notifications?limit=20`, { ...JSON_ACCEPT, ...bearer(tokens.heavy) }),
  },
  {
    id: "notif-proto",
    title: "GET /notifications?limit=20 protobuf (200k user)",
    kind: "read",
    server: "app",
    request: ({ tokens }) => get(`${API}/notifications?limit=20`, { ...PROTOBUF_ACCEPT, ...bearer(tokens.heavy) }),
  },
  {
    id: "notif-light",
    title: "GET /notifications?limit=20 JSON (1k user)",
    kind: "read",
    server: "app",
    request: ({ tokens }) => get(`${API}/notifications?limit=20`, { ...JSON_ACCEPT, ...bearer(tokens.light) }),
  },
  {
    id: "notif-deep",
    title: "GET /notifications deep cursor JSON (200k user)",
    kind: "read",
    server: "app",
    request: ({ tokens, fixtures }) =>
      get(`${API}/notifications?limit=20&cursor=${encodeCursor([fixtures.deepSeq])}`, {
        ...JSON_ACCEPT,
        ...bearer(tokens.heavy),
      }),
  },
  {
    id: "leaderboard",
    title: "GET /users/leaderboard",
    kind: "read",
    server: "app",
    request: () => get(`${API}/users/leaderboard`, JSON_ACCEPT),
  },
  {
    id: "queue",
    title: "GET /achievements/queue (teacher)",
    kind: "read",
    server: "app",
    pendingModule: "achievements",
    request: ({ tokens }) => get(`${API}/achievements/queue`, { ...JSON_ACCEPT, ...bearer(tokens.teacher) }),
  },
  {
    id: "events",
    title: "GET /events",
    kind: "read",
    server: "app",
    pendingModule: "events",
    request: ({ tokens }) => get(`${API}/events`, { ...JSON_ACCEPT, ...bearer(tokens.heavy) }),
  },
  {
    id: "contest-results",
    title: "GET /contests/{id}/results (40 students × 10 tasks)",
    kind: "read",
    server: "app",
    pendingModule: "contests",
    request: ({ tokens, fixtures }) =>
      get(`${API}/contests/${fixtures.contestId}/results?limit=40`, { ...JSON_ACCEPT, ...bearer(tokens.teacher) }),
  },
  {
    id: "submit",
    title: "POST /submissions (a contest's a+b, queued; its 40 students in turn)",
    kind: "write",
    server: "app",
    pendingModule: "submissions",
    // Each student in turn: a solution sent holds its student's standing for the task until it commits, so
    // one student sending on every connection would measure that row's queue rather than the route.
    request: ({ tokens, fixtures }) =>
      tokens.contestStudents.map((token) => ({
        method: "POST",
        path: `${API}/submissions`,
        headers: { ...JSON_ACCEPT, "content-type": "application/json", ...bearer(token) },
        body: JSON.stringify({
          taskId: fixtures.contestTaskId,
          contestId: fixtures.contestId,
          language: "LANGUAGE_PYTHON",
          source: BENCH_SUBMISSION_SOURCE,
        }),
      })),
  },
  {
    id: "mark-read",
    title: "POST /notifications/read (20 ids)",
    kind: "write",
    server: "app",
    request: ({ tokens, fixtures }) => ({
      method: "POST",
      path: `${API}/notifications/read`,
      headers: { ...JSON_ACCEPT, "content-type": "application/json", ...bearer(tokens.heavy) },
      body: JSON.stringify({ ids: fixtures.markReadIds }),
    }),
  },
  {
    id: "login",
    title: "POST /auth/login (scrypt-bound)",
    kind: "login",
    server: "app",
    // scrypt runs on libuv's 4 threads over 2 cores; more connections would only queue.
    connections: 4,
    request: ({ loginEmail, password }) => ({
      method: "POST",
      path: `${API}/auth/login`,
      headers: { ...JSON_ACCEPT, "content-type": "application/json" },
      body: JSON.stringify({ email: loginEmail, password }),
    }),
  },
];

/**
 * The upload burst of the memory section: simultaneous proofs to the achievements route. Until that route
 * answers 404 (a build without achievements) the figure reads "not available".
 */
export const UPLOAD = {
  path: `${API}/achievements`,
  pendingModule: "achievements",
  count: 20,
  bytes: 10 * 1024 * 1024,
  jsonField: "achievement",
  fileField: "proof",
  // A shtp.v1.AchievementSubmission in ProtoJSON.
  json: JSON.stringify({ kind: "ACHIEVEMENT_KIND_OLYMPIAD", title: "Benchmark upload", description: "10 MB proof" }),
} as const;
