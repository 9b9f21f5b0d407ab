import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import Router from "@koa/router";
import Koa from "koa";
import { routes } from "../modules/index.js";
import { rawRequest } from "../testing/http.js";
import type { AppState } from "./context.js";
import { API_PREFIX, apiDispatcher } from "./router.js";

/**
 * The dispatcher's index must pick exactly the route `@koa/router` picks, and leave to the router what it
 * cannot match. The same layers are served twice, once through the router alone and once through the
 * dispatcher, and every request must get the same answer from both.
 */
describe("the API dispatcher", () => {
  const extraPaths = [
    // Registered before the parameter route it overlaps: the first registered wins in both.
    { method: "get", path: "/things/special", name: "special thing" },
    { method: "get", path: "/things/:id", name: "a thing" },
    // A first segment that is a parameter could match any path.
    { method: "delete", path: "/:anything/forever", name: "parameter first" },
  ];
  const table = [...routes.map(({ method, path, name }) => ({ method, path, name })), ...extraPaths];

  const routerOf = () => {
    const router = new Router<AppState>({ prefix: API_PREFIX });
    for (const route of table) {
      router.register(route.path, [route.method], (ctx) => {
        ctx.body = `${route.name} ${JSON.stringify(ctx.params)}`;
      });
    }
    return router;
  };

  const servers: http.Server[] = [];
  const listen = async (app: Koa<AppState>) => {
    const handle = app.callback();
    const server = http.createServer((request, response) => void handle(request, response));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  let viaRouter: string;
  let viaDispatcher: string;
  before(async () => {
    const plain = new Koa<AppState>();
    const router = routerOf();
    plain.use(router.routes()).use(router.allowedMethods());
    viaRouter = await listen(plain);
    const indexed = new Koa<AppState>();
    indexed.use(apiDispatcher(routerOf()));
    viaDispatcher = await listen(indexed);
  });
  after(() => Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve)))));

  const sameAnswer = async (method: string, path: string) => {
    const [expected, actual] = await Promise.all(
      [viaRouter, viaDispatcher].map((origin) => rawRequest(`${origin}${path}`, { method })),
    );
    assert.ok(expected && actual);
    const summary = (response: typeof expected) => ({
      status: response.status,
      allow: response.headers.allow,
      body: response.body.toString("utf8"),
    });
    assert.deepEqual(summary(actual), summary(expected), `${method} ${path}`);
    return summary(actual);
  };

  /** A request path for a route's pattern, with sample values (one needing percent-decoding) for parameters. */
  const sample = (path: string) =>
    `${API_PREFIX}${path.replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => `${name}%20x`)}`;

  it("runs the route the router runs for every declared route, with the same decoded parameters", async () => {
    for (const route of table) {
      const answer = await sameAnswer(route.method.toUpperCase(), sample(route.path));
      assert.equal(answer.status, 200, `${route.method} ${route.path}`);
      assert.ok(answer.body.startsWith(`${route.name} `), `${route.method} ${route.path}: ${answer.body}`);
    }
  });

  it("matches as the router does: case, a trailing slash, HEAD for GET, overlapping patterns", async () => {
    assert.equal((await sameAnswer("GET", `${API_PREFIX}/VERSION`)).status, 200);
    assert.equal((await sameAnswer("GET", `${API_PREFIX}/version/`)).status, 200);
    assert.equal((await sameAnswer("HEAD", `${API_PREFIX}/version`)).status, 200);
    assert.match((await sameAnswer("GET", `${API_PREFIX}/things/special`)).body, /^special thing/);
    assert.match((await sameAnswer("GET", `${API_PREFIX}/things/other`)).body, /^a thing \{"id":"other"\}/);
    assert.match((await sameAnswer("DELETE", `${API_PREFIX}/version/forever`)).body, /^parameter first/);
  });

  it("leaves unknown paths, other methods and OPTIONS to the router: 404, 405 with Allow, 200 with Allow", async () => {
    assert.equal((await sameAnswer("GET", `${API_PREFIX}/no-such-thing`)).status, 404);
    assert.equal((await sameAnswer("GET", API_PREFIX)).status, 404);
    assert.equal((await sameAnswer("GET", `${API_PREFIX}/`)).status, 404);
    assert.equal((await sameAnswer("GET", "/elsewhere/version")).status, 404);
    assert.equal((await sameAnswer("GET", `${API_PREFIX}/%76ersion`)).status, 404);
    const wrongMethod = await sameAnswer("PATCH", `${API_PREFIX}/version`);
    assert.equal(wrongMethod.status, 405);
    assert.match(wrongMethod.allow ?? "", /GET/);
    const options = await sameAnswer("OPTIONS", `${API_PREFIX}/version`);
    assert.equal(options.status, 200);
    assert.match(options.allow ?? "", /HEAD/);
  });
});
