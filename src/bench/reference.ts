/**
 * The two reference servers every figure is divided by, each in a child process of its own like the app:
 * - `koa`: a bare Koa app answering a static body of the size of `GET /api/v1/version` (the framework's floor
 *   without our middleware);
 * - `floor`: raw node:http and a pg pool running the notifications page's SQL for the heavy user and writing the
 *   same ProtoJSON the API writes (the cost of the work itself, without routing, auth, validation or negotiation);
 *   with a `sessionId`, it first runs the API's session check, the one database round trip every signed-in API
 *   request adds (so the API can be compared with like work too).
 * Usage (by run.ts only): `node --import tsx src/bench/reference.ts '<ReferenceSpec as JSON>'`.
 */
import http from "node:http";
import Koa from "koa";
import pg from "pg";
import { ListNotificationsResponse } from "../../generated/shtp/v1/notifications.js";
import { sessionCheckSql } from "../auth/authenticate.js";
import { presentNotification } from "../modules/notifications/presenter.js";
import { notificationColumns, type NotificationRow } from "../modules/notifications/queries.js";
import { pageOf } from "../validation/paging.js";
import type { ReferenceReady, ReferenceSpec } from "./protocol.js";

/**
 * listNotifications' statement (notificationsBefore in src/modules/notifications/queries.ts) for a first page without filters, built
 * from the same column list, with bind parameters where Sequelize inlines replacements.
 */
export const floorSql = `SELECT ${notificationColumns}
       FROM notifications n
      WHERE n.user_id = $1
      ORDER BY n.seq DESC
      LIMIT $2`;

function koaServer(text: string): http.Server {
  // A Buffer, as the app's encoder hands Koa, so both take the same write path and differ by middleware only.
  const body = Buffer.from(text);
  const app = new Koa();
  app.use((ctx) => {
    ctx.type = "application/json";
    ctx.body = body;
  });
  const handle = app.callback();
  return http.createServer((request, response) => void handle(request, response));
}

/** The API's session check with bind parameters. */
const sessionSql = sessionCheckSql.replace(":userId", "$1").replace(":sessionId", "$2");

function floorServer(spec: Extract<ReferenceSpec, { kind: "floor" }>): http.Server {
  const pool = new pg.Pool({ connectionString: spec.databaseUrl, max: spec.poolMax });
  const { sessionId } = spec;
  // The floor with the session check: one more round trip, exactly the one every signed-in API request makes.
  const checkSession = async () => {
    if (sessionId && (await pool.query(sessionSql, [spec.userId, sessionId])).rowCount !== 1) {
      throw new Error("the session check found no session");
    }
  };
  return http.createServer((_request, response) => {
    checkSession()
      .then(() => pool.query<NotificationRow>(floorSql, [spec.userId, spec.limit + 1]))
      .then(({ rows }) => {
        const page = pageOf(rows, spec.limit, (row) => [row.seq]);
        const json = ListNotificationsResponse.toJSON({
          items: page.items.map(presentNotification),
          nextCursor: page.nextCursor,
        });
        const body = JSON.stringify(json);
        response.writeHead(200, {
          "content-type": "application/json; charset=utf-8",
          "content-length": Buffer.byteLength(body),
        });
        response.end(body);
      })
      .catch((error: unknown) => {
        response.writeHead(500).end(String(error));
      });
  });
}

const spec = JSON.parse(process.argv[2] ?? "{}") as ReferenceSpec;
const server = spec.kind === "koa" ? koaServer(spec.body) : floorServer(spec);
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  const ready: ReferenceReady = { kind: "listening", port: typeof address === "object" && address ? address.port : 0 };
  process.send?.(ready);
});
process.on("disconnect", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
