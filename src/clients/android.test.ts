import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createApi } from "../../generated/client/api.js";
import { MessageSeverity } from "../../generated/shtp/v1/notifications.js";
import { listProtoFiles, protoDir } from "../contract/descriptors.js";
import { startTestServer, type TestServer } from "../testing/server.js";
import { accountWithPassword, hasCommand, hasFile, requireTools, type Account } from "./fixtures.js";

const run = promisify(execFile);

/** Debian's protobuf Java runtime (libprotobuf-java); it holds the lite runtime the Android app links. */
const PROTOBUF_JAR = "/usr/share/java/protobuf.jar";
/** google/protobuf/timestamp.proto and the other well-known types (libprotobuf-dev). */
const WELL_KNOWN_TYPES = "/usr/include";
const CHECK_SOURCE = fileURLToPath(new URL("./android/ShtpAndroidCheck.java", import.meta.url));

/**
 * Runs a tool, failing with what it printed when it fails.
 * @returns its standard output
 */
async function tool(command: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await run(command, args, { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(" ")} failed:\n${stderr ?? ""}${stdout ?? ""}`, { cause: error });
  }
}

async function javaFilesUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith(".java"))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
}

describe("the Android-shaped Java client (protoc --java_out=lite, java.net.http, Debian's protobuf-java)", function () {
  // javac over ~40,000 generated lines takes 10-30 s on two busy cores.
  this.timeout(180_000);
  let work = "";
  let server: TestServer | undefined;
  let student: Account;
  const texts = [`First message ${randomUUID()}`, `Second message ${randomUUID()}`];

  before(async function () {
    requireTools(this, [
      ...(hasCommand("protoc") ? [] : ["protoc (apt-get install protobuf-compiler)"]),
      ...(hasFile(`${WELL_KNOWN_TYPES}/google/protobuf/timestamp.proto`)
        ? []
        : ["the well-known .proto files (apt-get install libprotobuf-dev)"]),
      ...(hasFile(PROTOBUF_JAR) ? [] : [`${PROTOBUF_JAR} (apt-get install libprotobuf-java)`]),
      ...(hasCommand("javac", "-version") && hasCommand("java", "-version")
        ? []
        : ["javac and java (apt-get install default-jdk-headless)"]),
    ]);
    work = await fs.mkdtemp(path.join(os.tmpdir(), "shtp-android-"));
    server = await startTestServer();
    student = await accountWithPassword("student");
    const teacher = await accountWithPassword("teacher");
    const staff = createApi({ baseUrl: server.url, encoding: "protobuf" });
    await staff.login({ body: { email: teacher.email, password: teacher.password } });
    for (const text of texts) {
      await staff.sendMessage({
        body: { text, severity: MessageSeverity.INFO, audience: { $case: "userId", value: student.id } },
      });
    }
  });

  after(async () => {
    await server?.close();
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  it("generates the Java classes of proto/ with protoc, as the Android build does (lite)", async () => {
    await fs.mkdir(path.join(work, "generated"));
    await tool("protoc", [
      `--proto_path=${protoDir}`,
      `--proto_path=${WELL_KNOWN_TYPES}`,
      `--java_out=lite:${path.join(work, "generated")}`,
      ...listProtoFiles(),
    ]);
    const files = (await javaFilesUnder(path.join(work, "generated"))).map((file) => path.basename(file));
    for (const expected of ["Auth.java", "ErrorOuterClass.java", "Notifications.java", "Users.java"]) {
      assert.ok(files.includes(expected), `${expected} in ${files.join(", ")}`);
    }
  });

  it("compiles them and the check program against Debian's protobuf runtime with the JDK", async () => {
    await tool("javac", [
      "-nowarn",
      "-encoding",
      "UTF-8",
      "-d",
      path.join(work, "classes"),
      "-cp",
      PROTOBUF_JAR,
      ...(await javaFilesUnder(path.join(work, "generated"))),
      CHECK_SOURCE,
    ]);
    assert.ok(hasFile(path.join(work, "classes", "ShtpAndroidCheck.class")));
  });

  it("signs in over protobuf, reads /auth/me and a page of notifications, and decodes an Error", async () => {
    assert.ok(server);
    const output = await tool("java", [
      "-cp",
      [path.join(work, "classes"), PROTOBUF_JAR].join(path.delimiter),
      "ShtpAndroidCheck",
      server.url,
      student.email,
      student.password,
    ]);
    const read = new Map(
      output
        .trim()
        .split("\n")
        .map((line) => {
          const equals = line.indexOf("=");
          return [line.slice(0, equals), line.slice(equals + 1)] as const;
        }),
    );
    const expected: Record<string, string> = {
      "login.tokenType": "Bearer",
      "login.expiresIn": String(server.config.auth.accessTokenTtlSeconds),
      "login.hasRefreshToken": "true",
      "me.id": student.id,
      "me.email": student.email,
      "me.role": "ROLE_STUDENT",
      "me.unreadNotifications": "2",
      "notifications.count": "2",
      "notifications.0.type": "NOTIFICATION_TYPE_MESSAGE",
      "notifications.0.read": "false",
      "notifications.0.text": texts[1] ?? "",
      "notifications.1.type": "NOTIFICATION_TYPE_MESSAGE",
      "notifications.1.text": texts[0] ?? "",
      "error.code": "invalid_argument",
      "error.fields": "email,password",
      "error.requestIdMatchesHeader": "true",
    };
    for (const [key, value] of Object.entries(expected)) assert.equal(read.get(key), value, `${key} in:\n${output}`);
    assert.ok(read.get("error.detail"), "the error has a detail");
  });
});
