import assert from "node:assert/strict";
import path from "node:path";
import { ConfigError, DEVELOPMENT_JWT_SECRET, loadConfig } from "./index.js";

const strongSecret = "a-private-production-secret-of-48-characters-xyz";

/**
 * Calls loadConfig expecting it to refuse `source`.
 * @returns the ConfigError it threw
 */
function refusal(source: Record<string, string>): ConfigError {
  try {
    loadConfig(source);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.equal(error.name, "ConfigError");
    return error;
  }
  assert.fail(`loadConfig accepted ${JSON.stringify(source)}`);
}

/** The variables a ConfigError message names, one per `  NAME: reason` line. */
const namedVariables = (error: ConfigError) =>
  [...error.message.matchAll(/^ {2}([A-Z0-9_, ]+):/gm)].flatMap((match) => (match[1] ?? "").split(", "));

describe("loadConfig (src/config/index.ts)", () => {
  it("gives every default for an empty environment", () => {
    const config = loadConfig({});
    assert.equal(config.env, "development");
    assert.deepEqual(config.http, {
      host: "127.0.0.1",
      port: 3000,
      maxBodyBytes: 1_048_576,
      trustProxy: false,
      keepAliveTimeoutMs: 5000,
      shutdownDelayMs: 0,
      shutdownTimeoutMs: 10_000,
    });
    assert.deepEqual(config.database, {
      url: undefined,
      poolMax: 10,
      statementTimeoutMs: 3000,
      queryTimeoutMs: 4000,
      connectTimeoutMs: 3000,
      acquireTimeoutMs: 4000,
      keepAliveMs: 10_000,
      idleInTransactionTimeoutMs: 15_000,
      migrateOnBoot: true,
      readinessTimeoutMs: 2000,
    });
    assert.equal(config.storage.root, path.resolve("storage"));
    assert.equal(config.storage.embeddedDatabaseDir, path.join(path.resolve("storage"), "postgres"));
    assert.deepEqual(config.storage.files, { driver: "local" });
    assert.equal(config.auth.jwtSecret, DEVELOPMENT_JWT_SECRET);
    assert.equal(config.auth.issuer, "shtp-api");
    assert.equal(config.auth.audience, "shtp-clients");
    assert.equal(config.auth.accessTokenTtlSeconds, 900);
    assert.equal(config.logLevel, "info");
  });

  it("parses numbers, flags, paths and an empty DATABASE_URL from the source", () => {
    const config = loadConfig({
      PORT: "0",
      HOST: "0.0.0.0",
      DATABASE_POOL_MAX: "3",
      TRUST_PROXY: "1",
      STORAGE_DIR: "/var/lib/shtp",
      LOG_LEVEL: "silent",
      DATABASE_URL: "",
    });
    assert.equal(config.http.port, 0);
    assert.equal(config.http.host, "0.0.0.0");
    assert.equal(config.database.poolMax, 3);
    assert.equal(config.http.trustProxy, true);
    assert.equal(config.storage.embeddedDatabaseDir, path.join("/var/lib/shtp", "postgres"));
    assert.equal(config.logLevel, "silent");
    assert.equal(config.database.url, undefined, "an empty DATABASE_URL means unset");
    assert.equal(loadConfig({ TRUST_PROXY: "false" }).http.trustProxy, false);
    assert.equal(loadConfig({ PORT: "65535" }).http.port, 65_535);
  });

  for (const port of ["abc", "70000", "-1", "80.5", "65536"]) {
    it(`refuses PORT=${port}, naming PORT`, () => {
      const error = refusal({ PORT: port });
      assert.match(error.message, /PORT/);
      assert.deepEqual(namedVariables(error), ["PORT"]);
    });
  }

  it("names every bad variable in one message", () => {
    const error = refusal({
      PORT: "abc",
      LOG_LEVEL: "loud",
      DATABASE_POOL_MAX: "0",
      TRUST_PROXY: "yes",
      NODE_ENV: "staging",
      DATABASE_URL: "mysql://root@localhost/shtp",
    });
    assert.match(error.message, /^Invalid configuration:\n/);
    assert.deepEqual(namedVariables(error).sort(), [
      "DATABASE_POOL_MAX",
      "DATABASE_URL",
      "LOG_LEVEL",
      "NODE_ENV",
      "PORT",
      "TRUST_PROXY",
    ]);
  });

  it("refuses a JWT_SECRET shorter than 32 characters, without echoing it", () => {
    const short = "s".repeat(31);
    const error = refusal({ JWT_SECRET: short });
    assert.deepEqual(namedVariables(error), ["JWT_SECRET"]);
    assert.match(error.message, /32/);
    assert.ok(!error.message.includes(short), "the message does not repeat the secret");
    assert.equal(loadConfig({ JWT_SECRET: "s".repeat(32) }).auth.jwtSecret, "s".repeat(32));
  });

  it("refuses production without a JWT_SECRET, or with the development one", () => {
    const sources: Record<string, string>[] = [
      { NODE_ENV: "production" },
      { NODE_ENV: "production", JWT_SECRET: DEVELOPMENT_JWT_SECRET },
    ];
    for (const source of sources) {
      const error = refusal(source);
      assert.match(error.message, /JWT_SECRET/);
      assert.deepEqual(namedVariables(error), ["JWT_SECRET"]);
    }
  });

  it("loads production with a private JWT_SECRET", () => {
    const config = loadConfig({ NODE_ENV: "production", JWT_SECRET: strongSecret });
    assert.equal(config.env, "production");
    assert.equal(config.auth.jwtSecret, strongSecret);
  });

  it("waits 5 s after SIGTERM in production and not at all elsewhere, unless SHUTDOWN_DELAY_MS says", () => {
    const production = { NODE_ENV: "production", JWT_SECRET: strongSecret };
    assert.equal(loadConfig(production).http.shutdownDelayMs, 5000);
    assert.equal(loadConfig({ NODE_ENV: "development" }).http.shutdownDelayMs, 0);
    assert.equal(loadConfig({ NODE_ENV: "test" }).http.shutdownDelayMs, 0);
    assert.equal(loadConfig({ ...production, SHUTDOWN_DELAY_MS: "0" }).http.shutdownDelayMs, 0);
    assert.equal(loadConfig({ NODE_ENV: "test", SHUTDOWN_DELAY_MS: "1500" }).http.shutdownDelayMs, 1500);
    assert.equal(loadConfig({ NODE_ENV: "test", SHUTDOWN_DELAY_MS: "" }).http.shutdownDelayMs, 0);
    for (const bad of ["-1", "soon", "600001"]) {
      assert.deepEqual(namedVariables(refusal({ SHUTDOWN_DELAY_MS: bad })), ["SHUTDOWN_DELAY_MS"], bad);
    }
  });

  it("parses the database limits, 0 turning off those that may be off, and the migration switch", () => {
    const config = loadConfig({
      DATABASE_STATEMENT_TIMEOUT_MS: "0",
      DATABASE_QUERY_TIMEOUT_MS: "0",
      DATABASE_CONNECT_TIMEOUT_MS: "1500",
      DATABASE_ACQUIRE_TIMEOUT_MS: "2500",
      DATABASE_KEEPALIVE_MS: "0",
      DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: "0",
      READINESS_TIMEOUT_MS: "500",
      MIGRATE_ON_BOOT: "false",
      HTTP_KEEP_ALIVE_TIMEOUT_MS: "65000",
    });
    assert.deepEqual(
      { ...config.database, url: undefined },
      {
        url: undefined,
        poolMax: 10,
        statementTimeoutMs: 0,
        queryTimeoutMs: 0,
        connectTimeoutMs: 1500,
        acquireTimeoutMs: 2500,
        keepAliveMs: 0,
        idleInTransactionTimeoutMs: 0,
        migrateOnBoot: false,
        readinessTimeoutMs: 500,
      },
    );
    assert.equal(config.http.keepAliveTimeoutMs, 65_000);
    const error = refusal({
      DATABASE_CONNECT_TIMEOUT_MS: "0",
      DATABASE_ACQUIRE_TIMEOUT_MS: "0",
      READINESS_TIMEOUT_MS: "0",
    });
    assert.deepEqual(namedVariables(error).sort(), [
      "DATABASE_ACQUIRE_TIMEOUT_MS",
      "DATABASE_CONNECT_TIMEOUT_MS",
      "READINESS_TIMEOUT_MS",
    ]);
  });

  it("refuses a client query timeout that would fire before the server's statement timeout", () => {
    for (const query of ["3000", "2000"]) {
      const error = refusal({ DATABASE_STATEMENT_TIMEOUT_MS: "3000", DATABASE_QUERY_TIMEOUT_MS: query });
      assert.deepEqual(namedVariables(error), ["DATABASE_QUERY_TIMEOUT_MS"], query);
    }
    assert.equal(
      loadConfig({ DATABASE_STATEMENT_TIMEOUT_MS: "0", DATABASE_QUERY_TIMEOUT_MS: "100" }).database.queryTimeoutMs,
      100,
    );
    assert.equal(
      loadConfig({ DATABASE_STATEMENT_TIMEOUT_MS: "500", DATABASE_QUERY_TIMEOUT_MS: "0" }).database.queryTimeoutMs,
      0,
    );
  });

  it("accepts postgres:// and postgresql:// DATABASE_URLs only", () => {
    for (const url of ["postgres://shtp:secret@db.internal:5432/shtp", "postgresql://localhost/shtp"]) {
      assert.equal(loadConfig({ DATABASE_URL: url }).database.url, url);
    }
    for (const url of ["mysql://root@localhost/shtp", "http://localhost:5432/shtp", "postgres", "not a url"]) {
      const error = refusal({ DATABASE_URL: url });
      assert.deepEqual(namedVariables(error), ["DATABASE_URL"], url);
    }
  });

  describe("file storage (STORAGE_DRIVER and S3_*)", () => {
    const bucket = { STORAGE_DRIVER: "s3", S3_BUCKET: "shtp-files" };

    it("reads the bucket, its endpoint and credentials, and ends the key prefix with a slash", () => {
      const config = loadConfig({
        ...bucket,
        STORAGE_DIR: "/var/lib/shtp",
        S3_REGION: "eu-central-1",
        S3_ENDPOINT: "https://s3.school.example:9000",
        S3_FORCE_PATH_STYLE: "true",
        S3_ACCESS_KEY_ID: "AKIAEXAMPLE",
        S3_SECRET_ACCESS_KEY: "secret-key-example",
        S3_PREFIX: "schools/north",
      });
      assert.deepEqual(config.storage.files, {
        driver: "s3",
        bucket: "shtp-files",
        region: "eu-central-1",
        endpoint: "https://s3.school.example:9000",
        forcePathStyle: true,
        credentials: { accessKeyId: "AKIAEXAMPLE", secretAccessKey: "secret-key-example" },
        prefix: "schools/north/",
      });
      assert.equal(config.storage.uploadsTmpDir, path.join("/var/lib/shtp", "tmp"), "uploads arrive on local disk");
    });

    it("defaults to AWS itself: us-east-1, virtual-host style, the SDK's credential chain, no prefix", () => {
      assert.deepEqual(loadConfig(bucket).storage.files, {
        driver: "s3",
        bucket: "shtp-files",
        region: "us-east-1",
        endpoint: undefined,
        forcePathStyle: false,
        credentials: undefined,
        prefix: "",
      });
      const prefixed = loadConfig({ ...bucket, S3_PREFIX: "shtp/" }).storage.files;
      assert.equal(prefixed.driver === "s3" && prefixed.prefix, "shtp/");
    });

    it("ignores the S3 variables for the local driver", () => {
      assert.deepEqual(loadConfig({ S3_ACCESS_KEY_ID: "only-the-id" }).storage.files, { driver: "local" });
    });

    it("refuses an s3 driver without a bucket, and a key id without its secret, naming them", () => {
      assert.deepEqual(namedVariables(refusal({ STORAGE_DRIVER: "s3" })), ["S3_BUCKET"]);
      assert.deepEqual(namedVariables(refusal({ STORAGE_DRIVER: "s3", S3_BUCKET: "" })), ["S3_BUCKET"]);
      const halves: Record<string, string>[] = [
        { S3_ACCESS_KEY_ID: "AKIAEXAMPLE" },
        { S3_SECRET_ACCESS_KEY: "secret-key-example" },
      ];
      for (const half of halves) {
        const error = refusal({ ...bucket, ...half });
        assert.deepEqual(namedVariables(error), ["S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"]);
        assert.ok(!error.message.includes("secret-key-example"), "the message does not repeat the secret");
      }
    });

    it("refuses a bad driver, bucket name, region, endpoint, flag or prefix, naming each", () => {
      const error = refusal({
        STORAGE_DRIVER: "gcs",
        S3_BUCKET: "Not_A_Bucket",
        S3_REGION: "EU Central",
        S3_ENDPOINT: "ftp://files.school.example",
        S3_FORCE_PATH_STYLE: "yes",
        S3_PREFIX: "/absolute",
      });
      assert.deepEqual(namedVariables(error).sort(), [
        "S3_BUCKET",
        "S3_ENDPOINT",
        "S3_FORCE_PATH_STYLE",
        "S3_PREFIX",
        "S3_REGION",
        "STORAGE_DRIVER",
      ]);
      for (const prefix of ["a//b", "../other", "a/./b", "with space", "trailing//"]) {
        assert.deepEqual(namedVariables(refusal({ ...bucket, S3_PREFIX: prefix })), ["S3_PREFIX"], prefix);
      }
    });
  });

  it("returns a configuration frozen at every level", () => {
    const config = loadConfig({});
    assert.ok(Object.isFrozen(config));
    for (const [key, value] of Object.entries(config)) {
      if (typeof value === "object" && value !== null) assert.ok(Object.isFrozen(value), `config.${key} is frozen`);
    }
    assert.throws(() => {
      config.logLevel = "debug";
    }, TypeError);
    assert.throws(() => {
      config.http.port = 1;
    }, TypeError);
    assert.throws(() => {
      config.auth.jwtSecret = "replaced";
    }, TypeError);
    assert.equal(config.http.port, 3000);
    assert.equal(config.auth.jwtSecret, DEVELOPMENT_JWT_SECRET);
  });
  it("allows no CORS origin by default, and parses a list of origins or *", () => {
    assert.deepEqual(loadConfig({}).cors, { origins: [], allowCredentials: false });
    assert.deepEqual(loadConfig({ CORS_ORIGINS: "" }).cors.origins, []);
    assert.deepEqual(
      loadConfig({
        CORS_ORIGINS: " http://localhost:5173 ,https://app.school.example,http://[::1]:8080,http://localhost:5173",
      }).cors.origins,
      ["http://localhost:5173", "https://app.school.example", "http://[::1]:8080"],
    );
    assert.deepEqual(loadConfig({ CORS_ORIGINS: "*" }).cors, { origins: "*", allowCredentials: false });
    assert.equal(
      loadConfig({ CORS_ORIGINS: "https://app.school.example", CORS_ALLOW_CREDENTIALS: "true" }).cors.allowCredentials,
      true,
    );
  });

  it("refuses CORS origins a browser never sends, saying how to write them", () => {
    for (const [value, hint] of [
      ["http://localhost:5173/", '"http://localhost:5173"'],
      ["https://App.School.example", '"https://app.school.example"'],
      ["https://app.school.example:443", '"https://app.school.example"'],
      ["https://app.school.example/web", '"https://app.school.example"'],
      ["localhost:5173", "is not an origin"],
      ["ftp://files.example", "is not an origin"],
      ["*, http://localhost:5173", "is not an origin"],
    ] as const) {
      const error = refusal({ CORS_ORIGINS: value });
      assert.deepEqual(namedVariables(error), ["CORS_ORIGINS"], value);
      assert.ok(error.message.includes(hint), error.message);
    }
  });

  it("reads an IANA SCHOOL_TIME_ZONE and refuses a name the runtime does not know, saying what it wants", () => {
    assert.equal(
      loadConfig({ SCHOOL_TIME_ZONE: "Asia/Yekaterinburg" }).assignments.schoolTimeZone,
      "Asia/Yekaterinburg",
    );
    const error = refusal({ SCHOOL_TIME_ZONE: "Mars/Olympus_Mons" });
    assert.deepEqual(namedVariables(error), ["SCHOOL_TIME_ZONE"]);
    assert.match(error.message, /must be an IANA time zone such as Europe\/Moscow/);
  });

  it("takes the first admin from INITIAL_ADMIN_EMAIL and INITIAL_ADMIN_PASSWORD together, and refuses either alone", () => {
    assert.deepEqual(
      loadConfig({ INITIAL_ADMIN_EMAIL: "head@school.example", INITIAL_ADMIN_PASSWORD: "long-enough-pass" })
        .initialAdmin,
      { email: "head@school.example", password: "long-enough-pass" },
    );
    assert.equal(loadConfig({}).initialAdmin, undefined);
    const halves: Record<string, string>[] = [
      { INITIAL_ADMIN_EMAIL: "head@school.example" },
      { INITIAL_ADMIN_PASSWORD: "long-enough-pass" },
    ];
    for (const half of halves) {
      const error = refusal(half);
      assert.deepEqual(namedVariables(error), ["INITIAL_ADMIN_EMAIL", "INITIAL_ADMIN_PASSWORD"]);
      assert.ok(!error.message.includes("long-enough-pass"), "the message does not repeat the password");
    }
  });

  it("refuses a first admin the account rules would refuse at boot, naming the variable, not the password", () => {
    const email = "head@school.example";
    const tooLong = "p".repeat(257);
    const password = refusal({ INITIAL_ADMIN_EMAIL: email, INITIAL_ADMIN_PASSWORD: tooLong });
    assert.deepEqual(namedVariables(password), ["INITIAL_ADMIN_PASSWORD"]);
    assert.ok(!password.message.includes(tooLong), "the message does not repeat the password");
    const longEmail = `${"a".repeat(64)}@${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(63)}.example`;
    const address = refusal({ INITIAL_ADMIN_EMAIL: longEmail, INITIAL_ADMIN_PASSWORD: "long-enough-pass" });
    assert.deepEqual(namedVariables(address), ["INITIAL_ADMIN_EMAIL"]);
    // The longest of each that an account takes is still a first admin.
    assert.deepEqual(loadConfig({ INITIAL_ADMIN_EMAIL: email, INITIAL_ADMIN_PASSWORD: "p".repeat(256) }).initialAdmin, {
      email,
      password: "p".repeat(256),
    });
  });

  it("refuses CORS_ORIGINS=* together with credentials", () => {
    const error = refusal({ CORS_ORIGINS: "*", CORS_ALLOW_CREDENTIALS: "true" });
    assert.deepEqual(namedVariables(error), ["CORS_ORIGINS", "CORS_ALLOW_CREDENTIALS"]);
    assert.match(error.message, /cannot be combined with credentials/);
  });

  it("runs the server's own judge slot as uid 60000 unless told otherwise, and refuses a system uid", () => {
    assert.deepEqual(loadConfig({}).judge, { inProcess: true, slotUid: 60_000 });
    assert.deepEqual(loadConfig({ JUDGE_IN_PROCESS: "false", JUDGE_SLOT_UID: "61000" }).judge, {
      inProcess: false,
      slotUid: 61_000,
    });
    assert.throws(() => loadConfig({ JUDGE_SLOT_UID: "0" }), /JUDGE_SLOT_UID/);
  });

  it("gives the limits on what one user, address and process hold, and parses them; 0 turns only the address limit off", () => {
    assert.deepEqual(loadConfig({}).limits, {
      streamsPerUser: 5,
      streamsPerProcess: 1000,
      uploadsPerUser: 3,
      uploadsPerProcess: 32,
      connectionsPerAddress: 256,
    });
    assert.deepEqual(
      loadConfig({
        MAX_STREAMS_PER_USER: "2",
        MAX_STREAMS_PER_PROCESS: "50",
        MAX_UPLOADS_PER_USER: "1",
        MAX_UPLOADS_PER_PROCESS: "4",
        MAX_CONNECTIONS_PER_ADDRESS: "0",
      }).limits,
      { streamsPerUser: 2, streamsPerProcess: 50, uploadsPerUser: 1, uploadsPerProcess: 4, connectionsPerAddress: 0 },
    );
    const refused = refusal({
      MAX_STREAMS_PER_USER: "0",
      MAX_STREAMS_PER_PROCESS: "0",
      MAX_UPLOADS_PER_USER: "0",
      MAX_UPLOADS_PER_PROCESS: "many",
      MAX_CONNECTIONS_PER_ADDRESS: "-1",
    });
    assert.deepEqual(namedVariables(refused).sort(), [
      "MAX_CONNECTIONS_PER_ADDRESS",
      "MAX_STREAMS_PER_PROCESS",
      "MAX_STREAMS_PER_USER",
      "MAX_UPLOADS_PER_PROCESS",
      "MAX_UPLOADS_PER_USER",
    ]);
  });
});
