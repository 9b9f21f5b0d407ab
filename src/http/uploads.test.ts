import assert from "node:assert/strict";
import { routes } from "../modules/index.js";
import { describeResponse } from "../testing/api.js";
import { buildUser, tokenFor } from "../testing/factories.js";
import { multipart, onePixelPng } from "../testing/files.js";
import { rawRequest } from "../testing/http.js";
import { fillPath } from "../testing/security.js";
import { startTestServer, type TestServer } from "../testing/server.js";
import { API_PREFIX } from "./router.js";

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
