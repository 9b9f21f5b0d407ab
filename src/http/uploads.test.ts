import assert from "node:assert/strict";
import fs from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { routes } from "../modules/index.js";
import { describeResponse } from "../testing/api.js";
import { buildUser, tokenFor } from "../testing/factories.js";
import { filesUnder, multipart, onePixelPng } from "../testing/files.js";
import { rawRequest } from "../testing/http.js";
import { fillPath } from "../testing/security.js";
import { startTestServer, type TestServer } from "../testing/server.js";
import { API_PREFIX } from "./router.js";
import { waitFor } from "../testing/wait.js";

/**
 * Every upload route, from the route table: a multipart body cut short (a dropped connection, a broken
 * client) is a 400 in the client's encoding, and the process lives on to answer the next request. A
 * parser stream left without an error handler would instead take the whole server down.
 */
describe("upload routes and malformed multipart bodies", () => {
  let server: TestServer;
  let token: string;
  before(async () => {
    server = await startTestServer();
    token = await tokenFor(await buildUser({ role: "admin" }), server.config);
  });
  after(() => server.close());

  const uploadRoutes = routes.filter((route) => route.upload);

  it("covers every upload route of the table", () => {
    assert.ok(uploadRoutes.length >= 3, uploadRoutes.map((route) => route.name).join(", "));
  });

  for (const route of uploadRoutes) {
    it(`${route.method.toUpperCase()} ${route.path}: a truncated body → 400, and the server still answers`, async () => {
      const upload = route.upload!;
      const form = multipart([
        ...(upload.messagePart
          ? [{ name: upload.messagePart, contentType: "application/json", data: '{"title":"cut short"}' }]
          : []),
        { name: upload.field, filename: "file.png", contentType: "image/png", data: onePixelPng() },
      ]);
      const response = await rawRequest(`${server.url}${API_PREFIX}${fillPath(route).path}`, {
        method: route.method.toUpperCase(),
        headers: { authorization: `Bearer ${token}`, "content-type": form.contentType },
        body: form.body.subarray(0, form.body.length - 30),
      });
      assert.equal(response.status, 400, describeResponse(response));
      const alive = await rawRequest(`${server.url}${API_PREFIX}/version`);
      assert.equal(alive.status, 200);
    });
  }
});

/**
 * Uploads in flight are limited per user (across processes, through the lease registry) and per process,
 * and refused before a byte of the body is read: no temporary folder, no stored file.
 */
describe("limits on uploads in flight", function () {
  this.timeout(60_000);
  let storageDir: string;
  let server: TestServer;
  const pending = new Set<http.ClientRequest>();
  before(async () => {
    storageDir = await fs.mkdtemp(path.join(os.tmpdir(), "shtp-upload-limits-"));
  });
  afterEach(async () => {
    for (const request of pending) request.destroy();
    pending.clear();
    try {
      await waitFor(() => server.services.leases.count("upload") === 0);
    } finally {
      await server.close();
    }
  });
  after(() => fs.rm(storageDir, { recursive: true, force: true }));

  const avatarPath = `${API_PREFIX}/users/me/avatar`;
  const avatarForm = () =>
    multipart([{ name: "avatar", filename: "a.png", contentType: "image/png", data: onePixelPng() }]);

  /** Starts an avatar upload and sends only the start of its body, so it stays in flight until destroyed. */
  function startSlowUpload(token: string): http.ClientRequest {
    const form = avatarForm();
    const request = http.request(`${server.url}${avatarPath}`, {
      method: "PUT",
      agent: false,
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": form.contentType,
        "content-length": String(form.body.length),
      },
    });
    request.on("error", () => undefined);
    request.write(form.body.subarray(0, form.body.length - 40));
    pending.add(request);
    return request;
  }

  function upload(token: string) {
    const form = avatarForm();
    return rawRequest(`${server.url}${avatarPath}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": form.contentType, accept: "application/json" },
      body: form.body,
    });
  }

  const temporaryFolders = () => fs.readdir(server.config.storage.uploadsTmpDir).catch(() => []);

  it("answers a user's fourth upload in flight with 429 and Retry-After, leaving no file; another user's goes through", async () => {
    server = await startTestServer({ env: { STORAGE_DIR: storageDir } });
    const student = await tokenFor(await buildUser(), server.config);
    const other = await tokenFor(await buildUser(), server.config);
    for (let index = 0; index < 3; index++) startSlowUpload(student);
    await waitFor(() => server.services.leases.count("upload") === 3);
    await waitFor(async () => (await temporaryFolders()).length === 3);
    const storedBefore = await filesUnder(server.config.storage.root);

    const refused = await upload(student);
    assert.equal(refused.status, 429, describeResponse(refused));
    assert.match(String(refused.headers["retry-after"]), /^[1-9]\d*$/);
    const error = JSON.parse(refused.body.toString("utf8")) as { code: string; detail: string };
    assert.equal(error.code, "rate_limited");
    assert.match(error.detail, /3 uploads in progress/);
    assert.deepEqual(await filesUnder(server.config.storage.root), storedBefore, "the refused upload wrote nothing");
    assert.equal((await temporaryFolders()).length, 3);

    const accepted = await upload(other);
    assert.equal(accepted.status, 200, describeResponse(accepted));

    for (const request of pending) request.destroy();
    await waitFor(() => server.services.leases.count("upload") === 0);
    await waitFor(async () => (await temporaryFolders()).length === 0);
    assert.equal((await upload(student)).status, 200, "the user may upload again once theirs have ended");
  });

  it("frees the place and the folder of an upload whose client leaves before its body is read", async () => {
    server = await startTestServer({ env: { STORAGE_DIR: storageDir } });
    const token = await tokenFor(await buildUser(), server.config);
    // The client hangs up while its request waits for authentication or its lease, at varying moments.
    for (let round = 0; round < 20; round++) {
      const request = startSlowUpload(token);
      while (server.services.leases.count("upload") === 0) await new Promise((resolve) => setImmediate(resolve));
      if (round % 2) await new Promise((resolve) => setTimeout(resolve, round));
      request.destroy();
      await waitFor(() => server.services.leases.count("upload") === 0);
    }
    await waitFor(async () => (await temporaryFolders()).length === 0);
  });

  it("answers 429 past the process's limit of uploads in flight, whoever sends it", async () => {
    server = await startTestServer({ env: { STORAGE_DIR: storageDir, MAX_UPLOADS_PER_PROCESS: "1" } });
    const first = await tokenFor(await buildUser(), server.config);
    const second = await tokenFor(await buildUser(), server.config);
    startSlowUpload(first);
    await waitFor(() => server.services.leases.count("upload") === 1);
    const refused = await upload(second);
    assert.equal(refused.status, 429, describeResponse(refused));
    assert.match(String(refused.headers["retry-after"]), /^[1-9]\d*$/);
    const error = JSON.parse(refused.body.toString("utf8")) as { detail: string };
    assert.match(error.detail, /This server holds its limit of 1/);
  });
});
