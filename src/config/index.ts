import path from "node:path";
import { z } from "zod";
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from "../auth/passwords.js";
import { MAX_EMAIL_LENGTH } from "../validation/fields.js";

/** The signing secret used when none is configured; refused in production. */
export const DEVELOPMENT_JWT_SECRET = "development-only-secret-change-me-0123456789";

const integer = (fallback: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);
const flag = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0"])
    .default(fallback ? "true" : "false")
    .transform((text) => text === "true" || text === "1");
const emptyAsUnset = (value: unknown) => (value === "" ? undefined : value);
/** An IANA time zone name that this runtime (and so PostgreSQL, which ships the same database) knows. */
const timeZone = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .refine((name) => {
      try {
        new Intl.DateTimeFormat("en", { timeZone: name });
        return true;
      } catch {
        return false;
      }
    }, "must be an IANA time zone such as Europe/Moscow");

/**
 * `CORS_ORIGINS`: `*`, or comma-separated origins written exactly as browsers send them in `Origin`
 * (scheme, host, port only when not the default; no path, no trailing slash), since they are compared
 * as text.
 */
const corsOrigins = z
  .string()
  .default("")
  .transform((text, context): "*" | string[] => {
    const entries = text
      .split(",")
      .map((entry) => entry.trim())
      .filter(Boolean);
    if (entries.length === 1 && entries[0] === "*") return "*";
    for (const entry of entries) {
      let origin: string | undefined;
      try {
        const url = new URL(entry);
        origin = url.protocol === "http:" || url.protocol === "https:" ? url.origin : undefined;
      } catch {
        origin = undefined;
      }
      if (origin !== entry) {
        context.addIssue({
          code: "custom",
          message: `"${entry}" is not an origin${origin ? ` (write it as "${origin}")` : ""}; give http(s)://host[:port] entries, or * alone`,
        });
      }
    }
    return [...new Set(entries)];
  });

/**
 * Every environment variable the server reads, with its default. `.env.example` and the README's
 * configuration table document the same list; nothing else in the code reads `process.env`.
 */
const environmentSchema = z.object({
  /** `production` refuses development secrets and demo data. */
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  /** Interface to listen on; containers set 0.0.0.0. */
  HOST: z.string().min(1).default("127.0.0.1"),
  /** TCP port; 0 picks a free one. */
  PORT: integer(3000, 0, 65535),
  /** PostgreSQL connection URL. When unset, an embedded PostgreSQL is started under STORAGE_DIR. */
  DATABASE_URL: z.preprocess(emptyAsUnset, z.url({ protocol: /^postgres(ql)?$/ }).optional()),
  /** Upper bound of the connection pool of each server process. */
  DATABASE_POOL_MAX: integer(10, 1, 200),
  /** PostgreSQL cancels any statement of the API running longer (statement_timeout); 0 for no limit. */
  DATABASE_STATEMENT_TIMEOUT_MS: integer(3000, 0, 3_600_000),
  /** The client gives up on a query with no answer (a silent network) and discards its connection; 0 for never. */
  DATABASE_QUERY_TIMEOUT_MS: integer(4000, 0, 3_600_000),
  /** How long opening a connection may take. */
  DATABASE_CONNECT_TIMEOUT_MS: integer(3000, 100, 600_000),
  /** How long a request may wait for a free connection of the pool. */
  DATABASE_ACQUIRE_TIMEOUT_MS: integer(4000, 100, 600_000),
  /** Idle time before TCP keepalive probes on database connections; 0 turns them off. */
  DATABASE_KEEPALIVE_MS: integer(10_000, 0, 3_600_000),
  /** PostgreSQL ends a session left idle inside a transaction this long (its locks go with it); 0 for never. */
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: integer(15_000, 0, 3_600_000),
  /** Apply pending migrations at boot (under an advisory lock); when false, boot refuses a database that lacks one. */
  MIGRATE_ON_BOOT: flag(true),
  /** `/readyz` answers 503 when the database has not answered its check within this time. */
  READINESS_TIMEOUT_MS: integer(2000, 100, 60_000),
  /** Root of the local user files (avatars, proofs), of uploads' temporary folder and of the embedded database's data. */
  STORAGE_DIR: z.string().min(1).default("storage"),
  /** Where user files live: `local` (folders under STORAGE_DIR) or `s3` (an S3-compatible bucket). */
  STORAGE_DRIVER: z.enum(["local", "s3"]).default("local"),
  /** The bucket (STORAGE_DRIVER=s3): 3-63 lowercase letters, digits, dots and dashes. */
  S3_BUCKET: z.preprocess(
    emptyAsUnset,
    z
      .string()
      .regex(
        /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
        "must be a bucket name: 3-63 lowercase letters, digits, dots, dashes",
      )
      .optional(),
  ),
  /** The bucket's region; S3-compatible servers mostly accept the default. */
  S3_REGION: z
    .string()
    .regex(/^[a-z0-9-]+$/, "must be a region name such as eu-central-1")
    .default("us-east-1"),
  /** The server of an S3-compatible service (MinIO, Ceph, a cloud's S3 API); unset for AWS S3 itself. */
  S3_ENDPOINT: z.preprocess(emptyAsUnset, z.url({ protocol: /^https?$/ }).optional()),
  /** Address the bucket in the path (`endpoint/bucket/key`) instead of the host name; most S3-compatible servers want it. */
  S3_FORCE_PATH_STYLE: flag(false),
  /** Static credentials (both or neither); unset, the AWS SDK's default chain (AWS_* variables, profile, instance role). */
  S3_ACCESS_KEY_ID: z.preprocess(emptyAsUnset, z.string().min(1).optional()),
  S3_SECRET_ACCESS_KEY: z.preprocess(emptyAsUnset, z.string().min(1).optional()),
  /** A key prefix, so several deployments can share a bucket: path segments, `/` added at the end when missing. */
  S3_PREFIX: z.preprocess(
    emptyAsUnset,
    z
      .string()
      .regex(
        /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*\/?$/,
        "must be path segments of letters, digits, dots, dashes and underscores",
      )
      .refine(
        (prefix) => !prefix.split("/").some((segment) => segment === "." || segment === ".."),
        "must not contain . or .. segments",
      )
      .optional(),
  ),
  /** HMAC key for access tokens: at least 32 characters. */
  JWT_SECRET: z.string().min(32, "must be at least 32 characters").default(DEVELOPMENT_JWT_SECRET),
  JWT_ISSUER: z.string().min(1).default("shtp-api"),
  JWT_AUDIENCE: z.string().min(1).default("shtp-clients"),
  /** Access token lifetime in seconds. */
  ACCESS_TOKEN_TTL_SECONDS: integer(900, 60, 86_400),
  /** How long an unused refresh token stays valid, in seconds. */
  REFRESH_TOKEN_TTL_SECONDS: integer(30 * 86_400, 300, 365 * 86_400),
  /** How long one sign-in may be kept alive by refreshing, in seconds. */
  SESSION_MAX_AGE_SECONDS: integer(90 * 86_400, 300, 365 * 86_400),
  /** How long a stream ticket (a browser's credential for the notification stream) stays valid unused, in seconds. */
  STREAM_TICKET_TTL_SECONDS: integer(60, 1, 600),
  /** Failed sign-ins per account within the window before 429. */
  LOGIN_MAX_FAILURES_PER_ACCOUNT: integer(10, 1, 10_000),
  /** Failed sign-ins per client address within the window before 429. */
  LOGIN_MAX_FAILURES_PER_ADDRESS: integer(100, 1, 100_000),
  /** The window of the two limits above, in seconds. */
  LOGIN_FAILURE_WINDOW_SECONDS: integer(900, 1, 86_400),
  /**
   * With INITIAL_ADMIN_PASSWORD: the first admin, created when the database has no users. Held to the
   * account rules' bounds here, so a value the bootstrap would refuse stops the boot as a bad variable.
   */
  INITIAL_ADMIN_EMAIL: z.preprocess(emptyAsUnset, z.email().max(MAX_EMAIL_LENGTH).optional()),
  INITIAL_ADMIN_PASSWORD: z.preprocess(
    emptyAsUnset,
    z
      .string()
      .min(MIN_PASSWORD_LENGTH, `must be at least ${MIN_PASSWORD_LENGTH} characters`)
      .max(MAX_PASSWORD_LENGTH, `must be at most ${MAX_PASSWORD_LENGTH} characters`)
      .optional(),
  ),
  /** Read notifications older than this many days are purged. */
  NOTIFICATION_RETENTION_DAYS: integer(180, 1, 3650),
  /** How often the purge runs, in seconds. */
  NOTIFICATION_RETENTION_INTERVAL_SECONDS: integer(3600, 10, 86_400),
  /** Seconds between heartbeats on notification streams (keeps proxies from closing idle streams). */
  SSE_HEARTBEAT_SECONDS: integer(15, 1, 300),
  /** The school's time zone: a day challenge's `day` and "today" are dates there. */
  SCHOOL_TIME_ZONE: timeZone("Europe/Moscow"),
  /** Submissions one user may send within SUBMISSION_WINDOW_SECONDS before 429. */
  SUBMISSIONS_PER_WINDOW: integer(1, 1, 10_000),
  SUBMISSION_WINDOW_SECONDS: integer(10, 1, 86_400),
  /** Submissions one user may send per 24 hours before 429. */
  SUBMISSIONS_PER_DAY: integer(100, 1, 100_000),
  /** Run one judge slot inside the server process when the sandbox works here (separate workers need not). */
  JUDGE_IN_PROCESS: flag(true),
  /** The uid (and gid) the in-process slot's programs run as; no other judge on the machine may use it. */
  JUDGE_SLOT_UID: integer(60_000, 1000, 4_294_967_294),
  /** Largest accepted message body in bytes (uploads have their own limits). */
  MAX_BODY_BYTES: integer(1_048_576, 1024, 64 * 1_048_576),
  /** pino level; `silent` turns logging off. */
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /**
   * After SIGTERM, how long the server keeps serving with `/readyz` at 503 so a load balancer stops
   * sending before it stops accepting. Default 5000 in production, 0 otherwise.
   */
  SHUTDOWN_DELAY_MS: z.preprocess(emptyAsUnset, z.coerce.number().int().min(0).max(600_000).optional()),
  /** After the delay, how long in-flight requests and the process's own work may take before they are cut. */
  SHUTDOWN_TIMEOUT_MS: integer(10_000, 0, 600_000),
  /** How long an idle keep-alive connection stays open; behind a load balancer, longer than its idle timeout. */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: integer(5000, 1000, 600_000),
  /** Take the client address from X-Forwarded-For (only behind a trusted proxy). */
  TRUST_PROXY: flag(false),
  /** Origins whose pages may call the API from a browser (CORS); none by default. */
  CORS_ORIGINS: corsOrigins,
  /** Answer `Access-Control-Allow-Credentials: true` to allowed origins; never together with `*`. */
  CORS_ALLOW_CREDENTIALS: flag(false),
  /** Notification streams one user may hold across all processes; a new one beyond closes their oldest. */
  MAX_STREAMS_PER_USER: integer(5, 1, 1000),
  /** Notification streams one process holds at most; past it, a new one is refused with 429. */
  MAX_STREAMS_PER_PROCESS: integer(1000, 1, 100_000),
  /** Uploads one user may have in flight across all processes; past it, 429. */
  MAX_UPLOADS_PER_USER: integer(3, 1, 1000),
  /** Uploads one process receives at once; past it, 429. */
  MAX_UPLOADS_PER_PROCESS: integer(32, 1, 10_000),
  /**
   * Open connections from one client address to one process (0 for no limit). Behind a trusted proxy the
   * sockets are the proxy's, so there it bounds the requests in flight of one forwarded address instead.
   */
  MAX_CONNECTIONS_PER_ADDRESS: integer(256, 0, 100_000),
});

export type Environment = z.infer<typeof environmentSchema>;

/** An S3-compatible bucket for user files (STORAGE_DRIVER=s3). */
export interface S3Storage {
  driver: "s3";
  bucket: string;
  region: string;
  /** Unset for AWS S3 itself. */
  endpoint: string | undefined;
  forcePathStyle: boolean;
  /** Unset: the AWS SDK's default credential chain. */
  credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  /** Put before every key: empty, or path segments ending in `/`. */
  prefix: string;
}

/** Where user files are kept: folders under the storage root, or a bucket. */
export type FileStorage = { driver: "local" } | S3Storage;

/** The parsed, typed and frozen configuration of one server process. */
export interface Config {
  env: Environment["NODE_ENV"];
  /** Which browser origins may call the API (`*`: any), and whether with credentials. */
  cors: { origins: "*" | readonly string[]; allowCredentials: boolean };
  http: {
    host: string;
    port: number;
    maxBodyBytes: number;
    trustProxy: boolean;
    keepAliveTimeoutMs: number;
    shutdownDelayMs: number;
    shutdownTimeoutMs: number;
  };
  database: {
    url: string | undefined;
    poolMax: number;
    /** Limits in milliseconds; 0 where allowed means none. */
    statementTimeoutMs: number;
    queryTimeoutMs: number;
    connectTimeoutMs: number;
    acquireTimeoutMs: number;
    keepAliveMs: number;
    idleInTransactionTimeoutMs: number;
    migrateOnBoot: boolean;
    readinessTimeoutMs: number;
  };
  storage: {
    /** The local root: the local driver's folders, uploads' temporary folder, the embedded database. */
    root: string;
    embeddedDatabaseDir: string;
    /** Where multer writes uploads while they arrive: always on local disk, whatever the driver. */
    uploadsTmpDir: string;
    /** Where user files are kept. */
    files: FileStorage;
  };
  auth: {
    jwtSecret: string;
    issuer: string;
    audience: string;
    accessTokenTtlSeconds: number;
    refreshTokenTtlSeconds: number;
    sessionMaxAgeSeconds: number;
    streamTicketTtlSeconds: number;
  };
  loginThrottle: { maxFailuresPerAccount: number; maxFailuresPerAddress: number; windowSeconds: number };
  notifications: { retentionDays: number; retentionIntervalSeconds: number; heartbeatSeconds: number };
  assignments: {
    /** IANA name; day challenges are dates in this zone. */
    schoolTimeZone: string;
    /** Per user, shared by every server process: `perWindow` within `windowSeconds`, and `perDay`. */
    submissionLimits: { perWindow: number; windowSeconds: number; perDay: number };
  };
  /** The judge slot of the server process itself. */
  judge: { inProcess: boolean; slotUid: number };
  /** What one user, one client address and one process may hold at once (OWASP API4). */
  limits: {
    streamsPerUser: number;
    streamsPerProcess: number;
    uploadsPerUser: number;
    uploadsPerProcess: number;
    /** 0: no limit. */
    connectionsPerAddress: number;
  };
  /** The first admin to create on an empty database, if configured. */
  initialAdmin: { email: string; password: string } | undefined;
  logLevel: Environment["LOG_LEVEL"];
}

/** Freezes `value` and every object in it: no part of the configuration may change after boot. */
function deepFreeze<T extends object>(value: T): Readonly<T> {
  for (const field of Object.values(value) as unknown[]) {
    if (typeof field === "object" && field !== null) deepFreeze(field);
  }
  return Object.freeze(value);
}

/** Raised when the environment is unusable; the message names every bad variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * The file storage the variables describe; the S3 ones are checked together only when the driver is s3.
 * @throws ConfigError naming the variable that is missing or set alone
 */
function fileStorageOf(env: Environment): FileStorage {
  if (env.STORAGE_DRIVER === "local") return { driver: "local" };
  if (!env.S3_BUCKET) throw new ConfigError("Invalid configuration:\n  S3_BUCKET: required when STORAGE_DRIVER=s3");
  if (Boolean(env.S3_ACCESS_KEY_ID) !== Boolean(env.S3_SECRET_ACCESS_KEY)) {
    throw new ConfigError("Invalid configuration:\n  S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY: set both or neither");
  }
  const prefix = env.S3_PREFIX ?? "";
  return {
    driver: "s3",
    bucket: env.S3_BUCKET,
    region: env.S3_REGION,
    endpoint: env.S3_ENDPOINT,
    forcePathStyle: env.S3_FORCE_PATH_STYLE,
    credentials:
      env.S3_ACCESS_KEY_ID && env.S3_SECRET_ACCESS_KEY
        ? { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY }
        : undefined,
    prefix: prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`,
  };
}

/**
 * Parses and checks the environment once. In production, development secrets stop the boot.
 * @param source - the variables to read; `process.env` at boot, a literal in tests
 * @param options.signsTokens - false for a process that signs and checks no token (a judge worker),
 *   which then needs no JWT_SECRET in production
 * @throws ConfigError naming each bad variable
 */
export function loadConfig(
  source: Record<string, string | undefined> = process.env,
  options: { signsTokens?: boolean } = {},
): Config {
  const parsed = environmentSchema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join(".")}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  const env = parsed.data;
  if (env.NODE_ENV === "production" && env.JWT_SECRET === DEVELOPMENT_JWT_SECRET && options.signsTokens !== false) {
    throw new ConfigError("Invalid configuration:\n  JWT_SECRET: must be set to a private value in production");
  }
  if (
    env.DATABASE_STATEMENT_TIMEOUT_MS > 0 &&
    env.DATABASE_QUERY_TIMEOUT_MS > 0 &&
    env.DATABASE_QUERY_TIMEOUT_MS <= env.DATABASE_STATEMENT_TIMEOUT_MS
  ) {
    // The server cancels a slow statement cleanly and the connection stays usable; the client's own
    // limit is for a database that does not answer at all, so it must not fire first.
    throw new ConfigError(
      "Invalid configuration:\n  DATABASE_QUERY_TIMEOUT_MS: must be longer than DATABASE_STATEMENT_TIMEOUT_MS",
    );
  }
  if (Boolean(env.INITIAL_ADMIN_EMAIL) !== Boolean(env.INITIAL_ADMIN_PASSWORD)) {
    throw new ConfigError("Invalid configuration:\n  INITIAL_ADMIN_EMAIL, INITIAL_ADMIN_PASSWORD: set both or neither");
  }
  // Browsers themselves refuse `*` with credentials; saying so at boot beats a page that fails mysteriously.
  if (env.CORS_ORIGINS === "*" && env.CORS_ALLOW_CREDENTIALS) {
    throw new ConfigError(
      "Invalid configuration:\n  CORS_ORIGINS, CORS_ALLOW_CREDENTIALS: * cannot be combined with credentials; list the origins",
    );
  }
  const files = fileStorageOf(env);
  const storageRoot = path.resolve(env.STORAGE_DIR);
  return deepFreeze({
    env: env.NODE_ENV,
    http: {
      host: env.HOST,
      port: env.PORT,
      maxBodyBytes: env.MAX_BODY_BYTES,
      trustProxy: env.TRUST_PROXY,
      keepAliveTimeoutMs: env.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      shutdownDelayMs: env.SHUTDOWN_DELAY_MS ?? (env.NODE_ENV === "production" ? 5000 : 0),
      shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    },
    cors: { origins: env.CORS_ORIGINS, allowCredentials: env.CORS_ALLOW_CREDENTIALS },
    database: {
      url: env.DATABASE_URL,
      poolMax: env.DATABASE_POOL_MAX,
      statementTimeoutMs: env.DATABASE_STATEMENT_TIMEOUT_MS,
      queryTimeoutMs: env.DATABASE_QUERY_TIMEOUT_MS,
      connectTimeoutMs: env.DATABASE_CONNECT_TIMEOUT_MS,
      acquireTimeoutMs: env.DATABASE_ACQUIRE_TIMEOUT_MS,
      keepAliveMs: env.DATABASE_KEEPALIVE_MS,
      idleInTransactionTimeoutMs: env.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
      migrateOnBoot: env.MIGRATE_ON_BOOT,
      readinessTimeoutMs: env.READINESS_TIMEOUT_MS,
    },
    storage: {
      root: storageRoot,
      embeddedDatabaseDir: path.join(storageRoot, "postgres"),
      uploadsTmpDir: path.join(storageRoot, "tmp"),
      files,
    },
    auth: {
      jwtSecret: env.JWT_SECRET,
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
      accessTokenTtlSeconds: env.ACCESS_TOKEN_TTL_SECONDS,
      refreshTokenTtlSeconds: env.REFRESH_TOKEN_TTL_SECONDS,
      sessionMaxAgeSeconds: env.SESSION_MAX_AGE_SECONDS,
      streamTicketTtlSeconds: env.STREAM_TICKET_TTL_SECONDS,
    },
    loginThrottle: {
      maxFailuresPerAccount: env.LOGIN_MAX_FAILURES_PER_ACCOUNT,
      maxFailuresPerAddress: env.LOGIN_MAX_FAILURES_PER_ADDRESS,
      windowSeconds: env.LOGIN_FAILURE_WINDOW_SECONDS,
    },
    notifications: {
      retentionDays: env.NOTIFICATION_RETENTION_DAYS,
      retentionIntervalSeconds: env.NOTIFICATION_RETENTION_INTERVAL_SECONDS,
      heartbeatSeconds: env.SSE_HEARTBEAT_SECONDS,
    },
    assignments: {
      schoolTimeZone: env.SCHOOL_TIME_ZONE,
      submissionLimits: {
        perWindow: env.SUBMISSIONS_PER_WINDOW,
        windowSeconds: env.SUBMISSION_WINDOW_SECONDS,
        perDay: env.SUBMISSIONS_PER_DAY,
      },
    },
    judge: { inProcess: env.JUDGE_IN_PROCESS, slotUid: env.JUDGE_SLOT_UID },
    limits: {
      streamsPerUser: env.MAX_STREAMS_PER_USER,
      streamsPerProcess: env.MAX_STREAMS_PER_PROCESS,
      uploadsPerUser: env.MAX_UPLOADS_PER_USER,
      uploadsPerProcess: env.MAX_UPLOADS_PER_PROCESS,
      connectionsPerAddress: env.MAX_CONNECTIONS_PER_ADDRESS,
    },
    initialAdmin:
      env.INITIAL_ADMIN_EMAIL && env.INITIAL_ADMIN_PASSWORD
        ? { email: env.INITIAL_ADMIN_EMAIL, password: env.INITIAL_ADMIN_PASSWORD }
        : undefined,
    logLevel: env.LOG_LEVEL,
  });
}
