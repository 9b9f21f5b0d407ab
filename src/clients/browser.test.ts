import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { randomUUID } from "node:crypto";
import { build } from "esbuild";
import { chromium, type Browser, type Page } from "playwright-core";
import { createApi, type ShtpApi } from "../../generated/client/api.js";
import { MessageSeverity } from "../../generated/shtp/v1/notifications.js";
import { encodings, type Encoding } from "../testing/api.js";
import { onePixelPng } from "../testing/files.js";
import { startTestServer, type TestServer } from "../testing/server.js";
import type { PageApi } from "./browser/page-api.js";
import { accountWithPassword, hasFile, requireTools, streamOpened, type Account } from "./fixtures.js";

/** Debian's Chromium (`apt-get install chromium`), which `.ci/run` installs. */
const CHROMIUM = "/usr/bin/chromium";
/**
 * The machine has no internet: these keep Chromium from reaching out (and from waiting on refused
 * connections). Playwright adds --headless, --no-sandbox (root has no sandbox) and a fresh profile.
 */
const CHROMIUM_FLAGS = [
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/** The page's origin is allowed by CORS_ORIGINS; the other one is not. Both are loopback. */
const PAGE_HOST = "127.0.0.2";
const REFUSED_HOST = "127.0.0.3";

const HTML = `<!doctype html>
<html lang="en">
  <head><meta charset="utf-8"><title>ShTP client check</title></head>
  <body>
    <p id="status">Loading</p>
    <p id="me"></p>
    <img id="avatar" alt="avatar">
    <p id="achievement"></p>
    <p id="live"></p>
    <p id="error-detail" role="alert"></p>
    <script type="module" src="/page.js"></script>
  </body>
</html>`;

/** Serves the page and its bundle on one loopback address. */
async function servePage(host: string, bundle: string): Promise<{ origin: string; close: () => Promise<void> }> {
  const server = http.createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://page").pathname;
    if (path === "/") {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(HTML);
    } else if (path === "/page.js") {
      response.writeHead(200, { "content-type": "text/javascript; charset=utf-8" }).end(bundle);
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The page's script and the generated client, bundled as a web app's build would. */
async function bundlePage(): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL("./browser/page.ts", import.meta.url))],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "chrome120",
    write: false,
    logLevel: "silent",
  });
  const [output] = result.outputFiles;
  if (!output) throw new Error("esbuild wrote nothing.");
  return output.text;
}

/** Runs one step of the page in the browser; a step that throws there fails here, with its message. */
function step<K extends keyof PageApi>(page: Page, name: K, ...args: Parameters<PageApi[K]>): Promise<unknown> {
  return page.evaluate(
    ([stepName, stepArgs]) => {
      const api = (globalThis as unknown as { shtpPage: Record<string, (...values: unknown[]) => Promise<unknown>> })
        .shtpPage;
      const run = api[stepName];
      if (!run) throw new Error(`The page has no step ${stepName}.`);
      return run(...stepArgs);
    },
    [name, args] as [string, unknown[]],
  );
}

/** What the browser check's steps share within one encoding. */
interface Run {
  page: Page;
  account: Account;
  /** The API server, and a teacher signed in to it from Node. */
  server: TestServer;
  teacher: ShtpApi;
  achievementId?: string;
}

const png = onePixelPng([0, 128, 255, 255]);
const pngBase64 = png.toString("base64");

/** How soon a teacher's message must reach the page's EventSource. */
const LIVE_WITHIN_MS = 1000;

/** The steps, in order, each as a web app user would do it. */
const steps: { title: string; run: (run: Run, encoding: Encoding) => Promise<void> }[] = [
  {
    title: "signs in",
    async run({ page, account }, encoding) {
      assert.deepEqual(await step(page, "signIn", encoding, account.email, account.password), { signedIn: true });
      assert.equal(await page.textContent("#status"), `Signed in (${encoding})`);
    },
  },
  {
    title: "reads /auth/me",
    async run({ page, account }) {
      assert.deepEqual(await step(page, "readMe"), { id: account.id, email: account.email });
      assert.equal(await page.textContent("#me"), account.email);
    },
  },
  {
    title: "uploads an avatar from a File and shows it",
    async run({ page }) {
      const result = (await step(page, "uploadAvatar", pngBase64)) as { avatarUrl: string; shownWidth: number };
      assert.match(result.avatarUrl, /^\/storage\/avatars\/[A-Za-z0-9_-]+\.png$/);
      assert.equal(result.shownWidth, 1);
    },
  },
  {
    title: "submits an achievement with a PNG proof",
    async run(run, encoding) {
      const title = `Browser olympiad (${encoding})`;
      const result = (await step(run.page, "submitAchievement", title, pngBase64)) as { id: string; status: string };
      assert.deepEqual(result, { id: result.id, status: "ACHIEVEMENT_STATUS_PENDING", title });
      run.achievementId = result.id;
      assert.equal(await run.page.textContent("#achievement"), `${title}: ACHIEVEMENT_STATUS_PENDING`);
    },
  },
  {
    title: "downloads the proof with its file name (Content-Disposition is exposed)",
    async run({ page, achievementId }) {
      assert.ok(achievementId, "the achievement step ran");
      assert.deepEqual(await step(page, "downloadProof", achievementId), {
        fileName: `achievement-${achievementId}.png`,
        mediaType: "image/png",
        size: png.length,
      });
    },
  },
  {
    title: `receives a teacher's message through its EventSource, with a ticket, within ${LIVE_WITHIN_MS} ms`,
    async run({ page, account, server, teacher }, encoding) {
      const streams = server.services.notificationHub.streamCount;
      const received = step(page, "receiveOneMessage") as ReturnType<PageApi["receiveOneMessage"]>;
      await streamOpened(server, streams);
      const text = `Live in the browser (${encoding}) ${randomUUID()}`;
      // From before the teacher's request: the bound covers the send, the fan-out and the delivery.
      const sentAt = Date.now();
      await teacher.sendMessage({
        body: { text, severity: MessageSeverity.INFO, audience: { $case: "userId", value: account.id } },
      });
      const message = await received;
      const latency = message.receivedAt - sentAt;
      process.stdout.write(`      (${encoding}: the page received it ${latency} ms after the teacher sent it)\n`);
      assert.equal(message.text, text);
      assert.match(message.id, /^\d+$/);
      assert.equal(await page.textContent("#live"), text);
      assert.ok(latency < LIVE_WITHIN_MS, `delivered after ${latency} ms`);
      assert.equal(message.eventSourceUrls.length, 1, "one EventSource opened");
      const opened = new URL(message.eventSourceUrls[0] ?? "");
      assert.equal(opened.pathname, "/api/v1/notifications/stream");
      assert.ok(opened.searchParams.get("ticket"), "the EventSource carried a ticket");
      assert.equal(opened.searchParams.get("encoding"), encoding === "protobuf" ? "protobuf" : null);
    },
  },
  {
    title: "shows a server error's detail",
    async run({ page }) {
      const error = (await step(page, "showServerError")) as {
        status: number;
        code: string;
        detail: string;
        requestId: string;
        fields: string[];
      };
      assert.equal(error.status, 400);
      assert.equal(error.code, "invalid_argument");
      assert.deepEqual(error.fields, ["limit"]);
      assert.ok(error.requestId, "X-Request-Id is readable");
      assert.ok(error.detail.length > 0);
      assert.equal(await page.textContent("#error-detail"), error.detail);
    },
  },
];

describe("the generated client in a browser (Debian's Chromium, page on another origin)", function () {
  this.timeout(60_000);
  let browser: Browser | undefined;
  let api: TestServer | undefined;
  let pages: { origin: string; close: () => Promise<void> }[] = [];
  let allowed = "";
  let refused = "";

  before(async function () {
    requireTools(this, hasFile(CHROMIUM) ? [] : [`${CHROMIUM} (apt-get install chromium)`]);
    const bundle = await bundlePage();
    pages = [await servePage(PAGE_HOST, bundle), await servePage(REFUSED_HOST, bundle)];
    [allowed, refused] = pages.map((page) => page.origin) as [string, string];
    api = await startTestServer({ env: { CORS_ORIGINS: allowed } });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      chromiumSandbox: false,
      args: CHROMIUM_FLAGS,
    });
  });

  after(async () => {
    await browser?.close();
    await api?.close();
    await Promise.all(pages.map((page) => page.close()));
  });

  /** Opens the page from `origin`, pointed at the API, and collects what its console says. */
  async function openPage(origin: string): Promise<{ page: Page; console: string[] }> {
    assert.ok(browser && api);
    const context = await browser.newContext();
    const page = await context.newPage();
    const console: string[] = [];
    page.on("console", (message) => console.push(message.text()));
    page.on("pageerror", (error) => console.push(`page error: ${error.message}`));
    await page.goto(`${origin}/?api=${encodeURIComponent(api.url)}`);
    await page.waitForFunction(() => "shtpPage" in globalThis);
    return { page, console };
  }

  for (const encoding of encodings) {
    describe(`in ${encoding}`, () => {
      const run: Partial<Run> = {};
      before(async function () {
        if (!browser) this.skip();
        assert.ok(api);
        run.page = (await openPage(allowed)).page;
        run.account = await accountWithPassword("student");
        run.server = api;
        const teacher = await accountWithPassword("teacher");
        run.teacher = createApi({ baseUrl: api.url, encoding });
        await run.teacher.login({ body: { email: teacher.email, password: teacher.password } });
      });
      after(() => run.page?.context().close());
      for (const { title, run: body } of steps) {
        it(title, async () => {
          assert.ok(run.page && run.account && run.server && run.teacher, "the page is open");
          await body(run as Run, encoding);
        });
      }
    });
  }

  it("lets Swagger UI at /api/docs Authorize with email and password (OAuth2), then Try it out answers 200", async () => {
    assert.ok(browser && api);
    const account = await accountWithPassword("student");
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${api.url}/api/docs`);
      const operation = page.locator("#operations-auth-getMe");
      await operation.locator(".opblock-summary").first().click();
      await operation.getByRole("button", { name: "Try it out" }).click();
      /** Clicks Execute and returns the answer to the call, and the status Swagger UI shows. */
      const execute = async () => {
        const answer = page.waitForResponse((response) => new URL(response.url()).pathname === "/api/v1/auth/me");
        await operation.getByRole("button", { name: "Execute" }).click();
        const response = await answer;
        const shown = operation.locator(".live-responses-table tr.response .response-col_status");
        await shown.filter({ hasText: String(response.status()) }).waitFor();
        return response;
      };
      assert.equal((await execute()).status(), 401, "without Authorize the call is refused");

      await page.locator("button.authorize").first().click();
      const oauth2 = page.locator(".auth-container").filter({ hasText: "OAuth2, password" });
      await oauth2.locator("#oauth_username").fill(account.email);
      await oauth2.locator("#oauth_password").fill(account.password);
      const tokenAnswer = page.waitForResponse((response) => new URL(response.url()).pathname === "/api/v1/auth/token");
      await oauth2.getByRole("button", { name: "Apply given OAuth2 credentials" }).click();
      const token = await tokenAnswer;
      assert.equal(token.status(), 200, await token.text());
      const form = new URLSearchParams(token.request().postData() ?? "");
      assert.deepEqual([form.get("grant_type"), form.get("username")], ["password", account.email]);
      // Signed in, the scheme offers to log out instead of the credentials' fields.
      await oauth2.locator("button", { hasText: "Logout" }).waitFor();
      await oauth2.locator("button", { hasText: "Close" }).click();

      const me = await execute();
      assert.equal(me.status(), 200);
      assert.match(me.request().headers().authorization ?? "", /^Bearer ey/);
      assert.equal(((await me.json()) as { user?: { id?: string } }).user?.id, account.id);
      assert.match((await operation.locator(".live-responses-table").innerText()) ?? "", new RegExp(account.email));
    } finally {
      await context.close();
    }
  });

  it("is refused by the browser on an origin the API does not allow, before and after a preflight", async () => {
    const { page, console } = await openPage(refused);
    try {
      const account = await accountWithPassword("student");
      assert.deepEqual(await step(page, "tryFromOtherOrigin", account.email, account.password), {
        version: "refused by the browser",
        signIn: "refused by the browser",
      });
      const blocked = console.filter((line) => line.includes("blocked by CORS policy"));
      assert.ok(
        blocked.some((line) => line.includes(`from origin '${refused}'`)),
        `Chromium says why: ${console.join(" | ")}`,
      );
    } finally {
      await page.context().close();
    }
  });
});
