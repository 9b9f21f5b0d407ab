import assert from "node:assert/strict";
import fs from "node:fs/promises";
import { z } from "zod";
import { VersionInfo } from "../../generated/shtp/v1/meta.js";
import { defineRoute, type Route } from "../http/route.js";
import { routes } from "../modules/index.js";
import { renderClient } from "./gen-client.js";

const refreshRoute = routes.find((route) => route.path === "/auth/refresh");

/** A GET route answering VersionInfo with the given query schema. */
const routeWithQuery = (query: z.ZodType): Route =>
  defineRoute({
    name: "probeQuery",
    method: "get",
    path: "/probe/:slug",
    summary: "A route of this test only.",
    access: "public",
    query,
    response: VersionInfo,
    handler: async () => ({ name: "", version: "", apiVersion: "" }),
  });

describe("the client generator (src/tools/gen-client.ts)", () => {
  it("renders the same files as generated/client holds, the same way every time", async () => {
    const first = await renderClient();
    const second = await renderClient();
    assert.deepEqual([...first.keys()].sort(), ["api.ts", "error-codes.ts", "runtime.ts"]);
    for (const [name, text] of first) {
      assert.equal(second.get(name), text, name);
      assert.equal(await fs.readFile(new URL(`../../generated/client/${name}`, import.meta.url), "utf8"), text, name);
    }
  });

  it("types query fields from the zod schema: flags as booleans, enums as unions, instants as Date | string", async () => {
    assert.ok(refreshRoute);
    const probe = routeWithQuery(
      z.strictObject({
        limit: z.coerce.number().int().min(1).max(100).default(20),
        unread: z.enum(["true", "false"]).optional(),
        status: z.enum(["STATUS_OPEN", "STATUS_CLOSED"]),
        from: z.iso.datetime({ offset: true }).optional(),
        tags: z.array(z.string()).optional(),
      }),
    );
    const api = (await renderClient([refreshRoute, probe])).get("api.ts") ?? "";
    assert.match(api, /readonly limit\?: number;/);
    assert.match(api, /readonly unread\?: boolean;/);
    assert.match(api, /readonly status: "STATUS_OPEN" \| "STATUS_CLOSED";/);
    assert.match(api, /readonly from\?: Date \| string;/);
    assert.match(api, /readonly tags\?: readonly string\[\];/);
    assert.match(api, /params: \{ readonly slug: string \}/);
    // A required query field makes the input itself required (no `= {}`).
    assert.match(api, /probeQuery: \(\s*input: \{/);
    assert.doesNotMatch(api, /probeQuery: \([^)]*\} = \{\}/);
  });

  it("refuses a query field it cannot type, naming the route and the field", async () => {
    assert.ok(refreshRoute);
    const probe = routeWithQuery(z.strictObject({ filter: z.object({ a: z.string() }) }));
    await assert.rejects(() => renderClient([refreshRoute, probe]), /probeQuery\.query\.filter has a shape/);
  });

  it("types the OAuth 2.0 token endpoint by its grants' forms, answering the token JSON", async () => {
    const token = routes.find((route) => route.oauth2);
    assert.ok(refreshRoute && token);
    const api = (await renderClient([refreshRoute, token])).get("api.ts") ?? "";
    assert.match(
      api,
      /\{ readonly grant_type: "password" \} & \{[^}]*readonly username: string;[^}]*readonly password: string;/,
    );
    assert.match(api, /\{ readonly grant_type: "refresh_token" \} & \{[^}]*readonly refresh_token: string;/);
    assert.match(
      api,
      /issueToken: \(input: \{ body: IssueTokenForm \}, options\?: CallOptions\): Promise<OAuth2Token> =>\s+core\.token\(/,
    );
    assert.match(api, /@throws OAuth2TokenError invalid_request, invalid_grant/);
  });

  it("types a stream's stored and live events, and refuses a ticket it cannot fetch or a resume it cannot send", async () => {
    const stream = routes.find((route) => route.events && route.queryCredential);
    const issuer = routes.find((route) => route.path === stream?.queryCredential?.issuedBy);
    assert.ok(refreshRoute && stream && issuer);
    const api = (await renderClient([refreshRoute, issuer, stream])).get("api.ts") ?? "";
    assert.match(api, /StoredEvent<"shtp\.v1\.Notification", notificationsPb\.Notification>/);
    assert.match(api, /LiveEvent<"shtp\.v1\.SubmissionProgress", assignmentsPb\.SubmissionProgress>/);
    assert.match(api, /ticket: \{ parameter: "ticket", issue: createStreamTicketOperation \}/);
    // The runtime fills the encoding and the last event id itself.
    assert.doesNotMatch(api, /readonly lastEventId\?: string/);

    await assert.rejects(() => renderClient([refreshRoute, stream]), /issued by POST \/notifications\/stream-tickets/);
    const noResume: Route = { ...stream, query: z.strictObject({ encoding: z.enum(["json", "protobuf"]).optional() }) };
    await assert.rejects(() => renderClient([refreshRoute, issuer, noResume]), /must take `lastEventId`/);
  });

  it("refuses a route table without the refresh operation the client renews sessions through", async () => {
    await assert.rejects(() => renderClient([]), /POST \/auth\/refresh/);
  });
});
