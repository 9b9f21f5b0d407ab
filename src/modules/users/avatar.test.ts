import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { Error as ErrorMessage } from "../../../generated/shtp/v1/error.js";
import { User as UserMessage } from "../../../generated/shtp/v1/users.js";
import { buildUser, tokenFor } from "../../testing/factories.js";
import { filesUnder, gifFile, jpegFile, multipart, onePixelPng, webpFile, type Part } from "../../testing/files.js";
import { rawRequest, type RawResponse } from "../../testing/http.js";
import { startTestServer, type TestServer } from "../../testing/server.js";
import { User } from "./user.model.js";
import { decodeAs } from "../../testing/api.js";

/**
 * PUT /users/me/avatar and GET /storage/avatars/<name> over real HTTP. Each
 * test has a server with a storage root of its own inside a scratch folder, so the tests can assert
 * exactly which files exist, there and around it.
 */

const PROTOBUF = "application/protobuf";
const JSON_TYPE = "application/json; charset=utf-8";
const MiB = 1024 * 1024;

const errorOf = (response: RawResponse): ErrorMessage => decodeAs(ErrorMessage, response);

const userOf = (response: RawResponse): UserMessage => decodeAs(UserMessage, response);

/** The entries directly in `folder`; none when it does not exist. */
const entriesOf = (folder: string) =>
  fs.readdir(folder).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  });

/** A GET with the path sent exactly as written (URL parsing would resolve `..` segments first). */
function getRawPath(server: TestServer, rawPath: string): Promise<{ status: number; body: Buffer }> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const request = http.get({ host: hostname, port, path: rawPath, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("error", reject);
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    request.on("error", reject);
  });
}

const avatarUrlPattern = (extension: string) => new RegExp(`^/storage/avatars/[A-Za-z0-9_-]{24}\\.${extension}$`);

describe("avatars: PUT /users/me/avatar and GET /storage/avatars/<name>", () => {
  let scratch: string;
  let storageDir: string;
  let avatarsDir: string;
  let tmpDir: string;
  let server: TestServer;

  beforeEach(async () => {
    scratch = await fs.mkdtemp(path.join(os.tmpdir(), "shtp-avatar-test-"));
    storageDir = path.join(scratch, "storage");
    avatarsDir = path.join(storageDir, "avatars");
    tmpDir = path.join(storageDir, "tmp");
    server = await startTestServer({ env: { STORAGE_DIR: storageDir } });
  });
  afterEach(async () => {
    await server.close();
    await fs.rm(scratch, { recursive: true, force: true });
  });

  /** Signs in a fresh user of `role`. */
  async function signedIn(role: "student" | "teacher" | "admin" = "student") {
    const user = await buildUser({ role });
    return { user, token: await tokenFor(user, server.config) };
  }

  /** Sends `parts` as the multipart body of PUT /users/me/avatar. */
  function putAvatar(parts: Part[], options: { token?: string; accept?: string } = {}): Promise<RawResponse> {
    const form = multipart(parts);
    const headers: Record<string, string> = { "content-type": form.contentType };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    if (options.accept !== undefined) headers.accept = options.accept;
    return rawRequest(`${server.url}/api/v1/users/me/avatar`, { method: "PUT", headers, body: form.body });
  }

  const avatarPart = (data: Buffer | string, filename = "me.png", contentType = "image/png"): Part => ({
    name: "avatar",
    filename,
    contentType,
    data,
  });

  /** Sends the same upload asking for JSON, then protobuf, and checks the refusal each time. */
  async function expectRefusal(parts: Part[], token: string | undefined, status: number, code: string) {
    const json = await putAvatar(parts, { token });
    assert.equal(json.status, status, json.body.toString("utf8"));
    assert.equal(json.headers["content-type"], JSON_TYPE);
    const jsonError = errorOf(json);
    assert.equal(jsonError.code, code);
    assert.ok(jsonError.detail.length > 0);

    const protobuf = await putAvatar(parts, { token, accept: PROTOBUF });
    assert.equal(protobuf.status, status);
    assert.equal(protobuf.headers["content-type"], PROTOBUF);
    assert.equal(ErrorMessage.decode(protobuf.body).code, code);
    return jsonError;
  }

  it("stores PNG, JPEG, GIF and WebP by content, serves them, and keeps exactly the latest file", async () => {
    const { user, token } = await signedIn();
    const uploads = [
      { data: onePixelPng(), extension: "png", type: "image/png", accept: undefined },
      { data: jpegFile(), extension: "jpg", type: "image/jpeg", accept: PROTOBUF },
      { data: gifFile(), extension: "gif", type: "image/gif", accept: undefined },
      { data: webpFile(), extension: "webp", type: "image/webp", accept: PROTOBUF },
    ];
    let previousUrl = "";
    for (const upload of uploads) {
      // The client's name and type say PNG every time: only the content decides.
      const response = await putAvatar([avatarPart(upload.data, "picture.png", "image/png")], {
        token,
        accept: upload.accept,
      });
      assert.equal(response.status, 200, response.body.toString("utf8"));
      assert.equal(response.headers["content-type"], upload.accept ?? JSON_TYPE);
      const body = userOf(response);
      assert.equal(body.id, user.id);
      assert.match(body.avatarUrl, avatarUrlPattern(upload.extension));
      const name = path.basename(body.avatarUrl);

      assert.deepEqual(await filesUnder(avatarsDir), [name], "exactly the new file is in avatars/");
      assert.deepEqual(await entriesOf(tmpDir), [], "nothing is left in tmp/");
      assert.equal((await User.findByPk(user.id))?.avatarFile, name);

      const served = await rawRequest(`${server.url}${body.avatarUrl}`);
      assert.equal(served.status, 200);
      assert.equal(served.headers["content-type"], upload.type);
      assert.match(String(served.headers["cache-control"]), /immutable/);
      assert.equal(served.headers["x-content-type-options"], "nosniff");
      assert.deepEqual(served.body, upload.data);

      if (previousUrl) {
        const old = await rawRequest(`${server.url}${previousUrl}`);
        assert.equal(old.status, 404, "the replaced avatar is gone");
        assert.equal(errorOf(old).code, "not_found");
      }
      previousUrl = body.avatarUrl;
    }
  });

  it("answers 415 to text named avatar.png and sent as image/png, and keeps the old avatar", async () => {
    const { user, token } = await signedIn();
    const first = await putAvatar([avatarPart(onePixelPng())], { token });
    assert.equal(first.status, 200);
    const kept = path.basename(userOf(first).avatarUrl);

    const error = await expectRefusal(
      [avatarPart("This is not a picture.\n", "avatar.png", "image/png")],
      token,
      415,
      "unsupported_media_type",
    );
    assert.deepEqual(
      error.fieldViolations.map((violation) => violation.field),
      ["avatar"],
    );
    assert.deepEqual(await filesUnder(avatarsDir), [kept], "no new file in avatars/");
    assert.deepEqual(await entriesOf(tmpDir), [], "nothing in tmp/");
    assert.equal((await User.findByPk(user.id))?.avatarFile, kept);
  });

  it("answers 413 to a PNG of 5 MiB and one byte, leaving no file anywhere", async () => {
    const { user, token } = await signedIn();
    const big = Buffer.alloc(5 * MiB + 1);
    onePixelPng().copy(big);
    await expectRefusal([avatarPart(big)], token, 413, "payload_too_large");
    assert.deepEqual(await filesUnder(storageDir), []);
    assert.deepEqual(await entriesOf(tmpDir), []);
    assert.equal((await User.findByPk(user.id))?.avatarFile, null);
  });

  it("accepts a PNG of exactly 5 MiB", async () => {
    const { token } = await signedIn();
    const largest = Buffer.alloc(5 * MiB);
    onePixelPng().copy(largest);
    const response = await putAvatar([avatarPart(largest)], { token });
    assert.equal(response.status, 200, response.body.toString("utf8"));
    const name = path.basename(userOf(response).avatarUrl);
    assert.deepEqual(await filesUnder(storageDir), [path.join("avatars", name)]);
    assert.equal((await fs.stat(path.join(avatarsDir, name))).size, 5 * MiB);
  });

  it("never lets a client file name become a path", async () => {
    const { token } = await signedIn();
    for (const filename of ["../../etc/passwd.png", "..\\x.png", "..\\..\\x.png", "/absolute/evil.png"]) {
      const response = await putAvatar([avatarPart(onePixelPng(), filename)], { token });
      assert.equal(response.status, 200, filename);
      const url = userOf(response).avatarUrl;
      assert.match(url, avatarUrlPattern("png"));
      const name = path.basename(url);
      // The name is ours: 24 random characters (which may end in "x", so compare whole names, not substrings).
      assert.doesNotMatch(name, /passwd|evil|\.\.|[\\/]/);
      assert.notEqual(name, path.basename(filename.replace(/\\/g, "/")));
      // Only the stored avatar exists anywhere under the scratch folder that holds the storage root.
      assert.deepEqual(await filesUnder(scratch), [path.join("storage", "avatars", name)], filename);
      assert.deepEqual(await entriesOf(tmpDir), [], filename);
    }
  });

  it("answers 415 to a body that is not multipart", async () => {
    const { token } = await signedIn();
    for (const accept of [undefined, PROTOBUF]) {
      const headers: Record<string, string> = { "content-type": "application/json", authorization: `Bearer ${token}` };
      if (accept) headers.accept = accept;
      const response = await rawRequest(`${server.url}/api/v1/users/me/avatar`, {
        method: "PUT",
        headers,
        body: JSON.stringify({ avatar: "iVBORw0KGgo=" }),
      });
      assert.equal(response.status, 415);
      assert.equal(response.headers["content-type"], accept ?? JSON_TYPE);
      assert.equal(errorOf(response).code, "unsupported_media_type");
    }
    assert.deepEqual(await filesUnder(storageDir), []);
    assert.deepEqual(await entriesOf(tmpDir), []);
  });

  it("answers 400 to a multipart body without the `avatar` file", async () => {
    const { token } = await signedIn();
    const empty = await expectRefusal([], token, 400, "invalid_argument");
    assert.deepEqual(
      empty.fieldViolations.map((violation) => violation.field),
      ["avatar"],
    );
    await expectRefusal([{ name: "avatar", data: "just text, no file" }], token, 400, "invalid_argument");
    await expectRefusal(
      [{ name: "picture", filename: "me.png", contentType: "image/png", data: onePixelPng() }],
      token,
      400,
      "invalid_argument",
    );
    assert.deepEqual(await filesUnder(storageDir), []);
    assert.deepEqual(await entriesOf(tmpDir), []);
  });

  it("answers 400 to an extra file field, storing neither file", async () => {
    const { user, token } = await signedIn();
    for (const extra of [
      { name: "extra", filename: "other.png", contentType: "image/png", data: onePixelPng([0, 255, 0, 255]) },
      { name: "avatar", filename: "second.png", contentType: "image/png", data: onePixelPng([0, 0, 255, 255]) },
    ]) {
      await expectRefusal([avatarPart(onePixelPng()), extra], token, 400, "invalid_argument");
      assert.deepEqual(await filesUnder(storageDir), [], extra.name);
      assert.deepEqual(await entriesOf(tmpDir), [], extra.name);
    }
    assert.equal((await User.findByPk(user.id))?.avatarFile, null);
  });

  it("answers 401 without a token and writes no file", async () => {
    await expectRefusal([avatarPart(onePixelPng())], undefined, 401, "unauthenticated");
    assert.deepEqual(await filesUnder(storageDir), []);
    assert.deepEqual(await entriesOf(tmpDir), []);
  });

  it("serves nothing but stored avatars: no traversal, no unknown names, no other folders", async () => {
    const { token } = await signedIn();
    const uploaded = await putAvatar([avatarPart(onePixelPng())], { token });
    assert.equal(uploaded.status, 200);
    const avatarUrl = userOf(uploaded).avatarUrl;

    // Files the public route must never reach, named as stored files are named.
    const hidden = `${randomBytes(18).toString("base64url")}.png`;
    await fs.mkdir(path.join(storageDir, "tmp"), { recursive: true });
    await fs.mkdir(path.join(storageDir, "proofs"), { recursive: true });
    await fs.writeFile(path.join(storageDir, "tmp", hidden), onePixelPng());
    await fs.writeFile(path.join(storageDir, "proofs", hidden), onePixelPng());
    await fs.writeFile(path.join(storageDir, "secret.png"), onePixelPng());

    const paths = [
      "/storage/avatars/../../package.json",
      "/storage/avatars/..%2f..%2fpackage.json",
      "/storage/avatars/%2e%2e%2f%2e%2e%2fpackage.json",
      "/storage/avatars/..%5c..%5cpackage.json",
      "/storage/avatars/../tmp/" + hidden,
      "/storage/avatars/..%2ftmp%2f" + hidden,
      "/storage/avatars/..%2fproofs%2f" + hidden,
      "/storage/avatars/..%2fsecret.png",
      "/storage/avatars/" + hidden,
      "/storage/avatars/" + `${randomBytes(18).toString("base64url")}.jpg`,
      "/storage/avatars/unknown.png",
      "/storage/avatars/",
      "/storage/avatars",
      "/storage/tmp/" + hidden,
      "/storage/proofs/" + hidden,
      "/storage/secret.png",
      "/storage/",
      `${avatarUrl}/..`,
      `${avatarUrl}%00.png`,
      avatarUrl.replace(/\.png$/, ".gif"),
    ];
    for (const rawPath of paths) {
      const response = await getRawPath(server, rawPath);
      assert.equal(response.status, 404, rawPath);
      assert.equal(ErrorMessage.fromJSON(JSON.parse(response.body.toString("utf8"))).code, "not_found", rawPath);
    }
    // The real avatar is still served, so the 404s above are not a broken route.
    assert.equal((await getRawPath(server, avatarUrl)).status, 200);
  });

  it("removes the avatar file when an admin deletes the user", async () => {
    const { user, token } = await signedIn();
    const uploaded = await putAvatar([avatarPart(onePixelPng())], { token });
    assert.equal(uploaded.status, 200);
    const avatarUrl = userOf(uploaded).avatarUrl;
    assert.equal((await filesUnder(avatarsDir)).length, 1);

    const admin = await signedIn("admin");
    const deleted = await rawRequest(`${server.url}/api/v1/users/${user.id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${admin.token}` },
    });
    assert.equal(deleted.status, 204, deleted.body.toString("utf8"));
    assert.equal(await User.findByPk(user.id), null);
    assert.deepEqual(await filesUnder(avatarsDir), []);
    assert.equal((await rawRequest(`${server.url}${avatarUrl}`)).status, 404);
  });
});
