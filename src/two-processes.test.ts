import assert from "node:assert/strict";
import { createScratchDatabase } from "./testing/database.js";
import { filesUnder, jpegFile, onePixelPng } from "./testing/files.js";
import { rawRequest } from "./testing/http.js";
import {
  childEnv,
  cleanUpProcesses,
  listeningUrl,
  makeStorageDir,
  exitWithin,
  pollUntilOk,
  runTs,
  spawnProcess,
  type Spawned,
} from "./testing/processes.js";
import { createTestStorage, type TestStorage } from "./testing/storage.js";
import { call, downloadProof, putAvatar, submitAchievement } from "./testing/user-files.js";

/**
 * Two API processes as a deployment runs them behind a load balancer: the compiled server, twice, on
 * one PostgreSQL and one S3 bucket, each with a local folder of its own (only uploads' temporary files
 * go there). Whatever a client does through one process, the other sees at once: the files; and the end
 * of a session or a changed role within 100 ms, though each process caches the session check.
 */

const ADMIN = { email: "admin@two-processes.test", password: "two-processes-admin-password" };
const STUDENT = { email: "student@two-processes.test", password: "two-processes-student-password" };

interface Tokens {
  accessToken: string;
  refreshToken: string;
}

const postJson = (url: string, body: unknown, token?: string) =>
  rawRequest(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });

async function signIn(url: string, account: { email: string; password: string }): Promise<Tokens> {
  const response = await postJson(`${url}/api/v1/auth/login`, account);
  assert.equal(response.status, 200, response.body.toString("utf8"));
  return JSON.parse(response.body.toString("utf8")) as Tokens;
}

describe("two API processes on one database and one bucket", function () {
  this.timeout(120_000);
  let scratch: { url: string; drop: () => Promise<void> };
  let storage: TestStorage;
  let localDirs: string[];
  let a: string;
  let b: string;
  let groupId: string;

  before(async function () {
    this.timeout(120_000);
    // The build as `npm run build` runs it (in a process of its own: its module awaits at the top level).
    const build = runTs("src/tools/build.ts", [], process.env);
    assert.deepEqual(await exitWithin(build, 90_000), { code: 0, signal: null }, build.stderr());
    scratch = await createScratchDatabase();
    storage = await createTestStorage("s3");
    localDirs = [await makeStorageDir(), await makeStorageDir()];
    const processes: Spawned[] = localDirs.map((dir) =>
      spawnProcess(
        process.execPath,
        ["dist/server.js"],
        childEnv({
          ...storage.env,
          NODE_ENV: "test",
          DATABASE_URL: scratch.url,
          STORAGE_DIR: dir,
          INITIAL_ADMIN_EMAIL: ADMIN.email,
          INITIAL_ADMIN_PASSWORD: ADMIN.password,
        }),
      ),
    );
    // Booted together, as a deployment starts them: migrations and the first admin happen once.
    const urls = await Promise.all(
      processes.map(async (spawned) => {
        const url = await listeningUrl(spawned);
        await pollUntilOk(spawned, `${url}/readyz`);
        return url;
      }),
    );
    [a, b] = urls as [string, string];
    const admin = await signIn(a, ADMIN);
    const group = await postJson(`${a}/api/v1/groups`, { name: "Two processes" }, admin.accessToken);
    assert.equal(group.status, 201, group.body.toString("utf8"));
    groupId = (JSON.parse(group.body.toString("utf8")) as { id: string }).id;
    await createStudent(admin, STUDENT, "two-processes");
  });
  after(async function () {
    this.timeout(60_000);
    await cleanUpProcesses();
    await scratch?.drop();
    await storage?.dispose();
  });

  it("serves through B an avatar uploaded through A", async () => {
    const student = await signIn(a, STUDENT);
    const avatar = onePixelPng([200, 100, 0, 255]);
    const uploaded = await putAvatar(a, student.accessToken, avatar);
    assert.equal(uploaded.response.status, 200, uploaded.response.body.toString("utf8"));

    const served = await rawRequest(`${b}${uploaded.avatarUrl}`);
    assert.equal(served.status, 200);
    assert.equal(served.headers["content-type"], "image/png");
    assert.deepEqual(served.body, avatar);
    // Replaced through B: A serves the new one and no longer the old one.
    const replaced = await putAvatar(b, student.accessToken, jpegFile());
    assert.equal(replaced.response.status, 200);
    assert.equal((await rawRequest(`${a}${replaced.avatarUrl}`)).status, 200);
    assert.equal((await rawRequest(`${a}${uploaded.avatarUrl}`)).status, 404);
  });

  it("downloads through B a proof submitted through A", async () => {
    const student = await signIn(a, STUDENT);
    const admin = await signIn(b, ADMIN);
    const proof = jpegFile();
    const { response, id } = await submitAchievement(a, student.accessToken, proof);
    assert.equal(response.status, 201, response.body.toString("utf8"));

    for (const token of [student.accessToken, admin.accessToken]) {
      const downloaded = await downloadProof(b, token, id);
      assert.equal(downloaded.status, 200, downloaded.body.toString("utf8"));
      assert.equal(downloaded.headers["content-type"], "image/jpeg");
      assert.deepEqual(downloaded.body, proof);
    }
    // Neither process kept a file of its own: the bucket holds them, the temporary folders are empty.
    for (const dir of localDirs) assert.deepEqual(await filesUnder(dir), [], dir);
    assert.ok((await storage.storedFiles()).some((file) => file.startsWith("proofs")));
  });

  /**
   * Polls B until it refuses the token (or, with `until`, until its answer satisfies it), and fails
   * unless that happens within 100 ms of the change on A: B's session cache hears of the change on its
   * LISTEN connection.
   */
  async function expectOnBWithin100ms(
    token: string,
    path = "/auth/me",
    until: (status: number) => boolean = (status) => status === 401,
  ): Promise<void> {
    const changed = Date.now();
    let status = 0;
    while (!until(status)) {
      status = (await call(b, token, "GET", path)).status;
      if (!until(status)) assert.ok(Date.now() - changed < 100, `B still answers ${status} to ${path} after 100 ms`);
    }
  }

  /** B has checked (and cached) the token's session. */
  async function warmOnB(token: string, path = "/auth/me", status = 200): Promise<void> {
    for (let i = 0; i < 3; i++) assert.equal((await call(b, token, "GET", path)).status, status, "B takes A's session");
  }

  /**
   * Creates a student account through A, as staff would.
   * @returns its id
   */
  async function createStudent(
    admin: Tokens,
    account: { email: string; password: string },
    nickName: string,
  ): Promise<string> {
    const created = await postJson(
      `${a}/api/v1/users`,
      {
        ...account,
        nickName,
        firstName: "Ada",
        lastName: "Student",
        role: "ROLE_STUDENT",
        groupId,
        learningClass: "10A",
      },
      admin.accessToken,
    );
    assert.equal(created.status, 201, created.body.toString("utf8"));
    return (JSON.parse(created.body.toString("utf8")) as { id: string }).id;
  }

  let accounts = 0;
  /** A new student account, signed in through A. */
  async function newStudent(admin: Tokens): Promise<{ id: string; email: string; password: string; tokens: Tokens }> {
    accounts += 1;
    const account = { email: `student${accounts}@two-processes.test`, password: `two-processes-pass-${accounts}` };
    const id = await createStudent(admin, account, `two_processes_${accounts}`);
    return { id, ...account, tokens: await signIn(a, account) };
  }

  it("refuses on B, within 100 ms, the tokens of a session logged out on A", async () => {
    const session = await signIn(a, STUDENT);
    await warmOnB(session.accessToken);

    const logout = await postJson(`${a}/api/v1/auth/logout`, { refreshToken: session.refreshToken });
    assert.equal(logout.status, 204, logout.body.toString("utf8"));

    await expectOnBWithin100ms(session.accessToken);
    const me = await call(b, session.accessToken, "GET", "/auth/me");
    assert.equal((JSON.parse(me.body.toString("utf8")) as { code: string }).code, "unauthenticated");
    const refresh = await postJson(`${b}/api/v1/auth/refresh`, { refreshToken: session.refreshToken });
    assert.equal(refresh.status, 401, "the refresh token is refused");
  });

  it("refuses on B, within 100 ms, a session ended on A because a refresh token was used twice", async () => {
    const first = await signIn(a, STUDENT);
    const rotated = await postJson(`${a}/api/v1/auth/refresh`, { refreshToken: first.refreshToken });
    assert.equal(rotated.status, 200);
    const second = JSON.parse(rotated.body.toString("utf8")) as Tokens;
    await warmOnB(second.accessToken);
    const replayed = await postJson(`${a}/api/v1/auth/refresh`, { refreshToken: first.refreshToken });
    assert.equal(replayed.status, 401);
    await expectOnBWithin100ms(second.accessToken);
  });

  it("refuses on B, within 100 ms, the other sessions of a user who changed their password on A", async () => {
    const admin = await signIn(a, ADMIN);
    const student = await newStudent(admin);
    const other = await signIn(a, { email: student.email, password: student.password });
    await warmOnB(other.accessToken);
    await warmOnB(student.tokens.accessToken);
    const changed = await postJson(
      `${a}/api/v1/users/me/password`,
      { currentPassword: student.password, newPassword: `${student.password}-new` },
      student.tokens.accessToken,
    );
    assert.equal(changed.status, 204, changed.body.toString("utf8"));
    await expectOnBWithin100ms(other.accessToken);
    assert.equal((await call(b, student.tokens.accessToken, "GET", "/auth/me")).status, 200, "the changer's stays");
  });

  it("refuses on B, within 100 ms, the sessions of a user whose password staff reset on A", async () => {
    const admin = await signIn(a, ADMIN);
    const student = await newStudent(admin);
    await warmOnB(student.tokens.accessToken);
    const reset = await postJson(
      `${a}/api/v1/users/${student.id}/password`,
      { newPassword: "a-new-password-set-by-staff" },
      admin.accessToken,
    );
    assert.equal(reset.status, 204, reset.body.toString("utf8"));
    await expectOnBWithin100ms(student.tokens.accessToken);
  });

  it("applies on B, within 100 ms, a role changed on A", async () => {
    const admin = await signIn(a, ADMIN);
    const student = await newStudent(admin);
    const queue = "/achievements/queue";
    await warmOnB(student.tokens.accessToken, queue, 403);
    const promoted = await rawRequest(`${a}/api/v1/users/${student.id}`, {
      method: "PATCH",
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        authorization: `Bearer ${admin.accessToken}`,
      },
      body: JSON.stringify({ role: "ROLE_TEACHER" }),
    });
    assert.equal(promoted.status, 200, promoted.body.toString("utf8"));
    await expectOnBWithin100ms(student.tokens.accessToken, queue, (status) => status === 200);
  });

  it("refuses on B, within 100 ms, the sessions of a user deleted on A", async () => {
    const admin = await signIn(a, ADMIN);
    const student = await newStudent(admin);
    await warmOnB(student.tokens.accessToken);
    const deleted = await call(a, admin.accessToken, "DELETE", `/users/${student.id}`);
    assert.equal(deleted.status, 204, deleted.body.toString("utf8"));
    await expectOnBWithin100ms(student.tokens.accessToken);
  });
});
