import type { Middleware, ParameterizedContext } from "koa";
import type { Actor } from "../auth/roles.js";
import type { Media } from "./media.js";

/** What our middleware keeps on `ctx.state`, typed so nothing reads it as `any`. */
export interface AppState {
  requestId: string;
  /** Set by negotiation; errors are rendered in it once known. */
  responseMedia?: Media;
  /** Set by an OAuth 2.0 endpoint: its errors are RFC 6749 §5.2 JSON rather than shtp.v1.Error. */
  errorStyle?: "oauth2";
  /** Set by authentication for signed-in callers. */
  actor?: Actor;
}

export type AppContext = ParameterizedContext<AppState>;
export type AppMiddleware = Middleware<AppState>;
