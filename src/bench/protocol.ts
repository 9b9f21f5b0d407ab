/**
 * The messages between the bench (run.ts) and its child processes: the load generator (load.ts) and the
 * reference servers (reference.ts). Kept in one place so both ends agree on them.
 */

/** One HTTP request as autocannon sends it. */
export interface LoadRequest {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Path and query, e.g. `/api/v1/notifications?limit=20`. */
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** Ask the load generator for one autocannon run. */
export interface LoadJob {
  kind: "autocannon";
  id: number;
  /** Origin of the server, e.g. `http://127.0.0.1:4000`. */
  origin: string;
  /** Sent in turn across the run's connections (one entry: the same request every time). */
  requests: LoadRequest[];
  connections: number;
  durationSeconds: number;
  /**
   * Requests per second over at most `connections` connections, sent on a fixed schedule whatever the
   * answers take (an open loop, load.ts's own client; latency counted from when each was due); none:
   * autocannon, each connection sending when answered.
   */
  overallRate?: number;
}

/** Ask the load generator for `count` simultaneous multipart uploads of a `bytes`-long file. */
export interface UploadJob {
  kind: "upload";
  id: number;
  origin: string;
  path: string;
  headers: Record<string, string>;
  count: number;
  bytes: number;
  /** The JSON part sent beside the file, and the two field names. */
  jsonField: string;
  json: string;
  fileField: string;
}

export type Job = LoadJob | UploadJob;

/** What one autocannon run measured. Latencies in milliseconds. */
export interface LoadResult {
  kind: "autocannon";
  id: number;
  requestsPerSecond: number;
  totalRequests: number;
  latencyMean: number;
  latencyP50: number;
  latencyP99: number;
  latencyMax: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  durationSeconds: number;
}

/** What the uploads got back. */
export interface UploadResult {
  kind: "upload";
  id: number;
  /** Status of each upload; 0 for a connection error. */
  statuses: number[];
  seconds: number;
}

export type JobResult = LoadResult | UploadResult | { kind: "failed"; id: number; message: string };

/** What a reference server reports once it listens. */
export interface ReferenceReady {
  kind: "listening";
  port: number;
}

/** How to start a reference server (the child's only argument, as JSON). */
export type ReferenceSpec =
  | { kind: "koa"; body: string }
  | {
      kind: "floor";
      databaseUrl: string;
      userId: string;
      limit: number;
      poolMax: number;
      /** Run the API's per-request session check first, as the API does for every signed-in request. */
      sessionId?: string;
    };
