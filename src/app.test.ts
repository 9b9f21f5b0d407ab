import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Me } from "../generated/shtp/v1/auth.js";
import { buildApp } from "./app.js";
import { createLogger } from "./logging/logger.js";
import { testDatabase } from "./testing/database.js";
import { buildUser, tokenFor } from "./testing/factories.js";
import { rawRequest } from "./testing/http.js";
import { testConfig } from "./testing/server.js";

describe("buildApp (src/app.ts)", () => {
  it("builds services of its own over the database it is given when none are passed, and serves with them", async () => {
    const config = testConfig();
    const { database } = testDatabase();
    const app = buildApp({
      config,
      logger: createLogger("silent"),
      sequelize: database.sequelize,
      isReady: database.isReady,
    });
    const handle = app.callback();
    const server = http.createServer((request, response) => void handle(request, response));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const user = await buildUser({ role: "teacher" });
      // The session check reads the database through the services' own session cache.
      const response = await rawRequest(`http://127.0.0.1:${port}/api/v1/auth/me`, {
        headers: { authorization: `Bearer ${await tokenFor(user, config)}`, accept: "application/json" },
      });
      assert.equal(response.status, 200, response.body.toString("utf8"));
      const { user: me } = Me.fromJSON(JSON.parse(response.body.toString("utf8")));
      assert.ok(me, "the caller's user");
      assert.equal(me.id, user.id);
      assert.equal(me.email, user.email);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
