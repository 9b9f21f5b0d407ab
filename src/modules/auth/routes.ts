import { Me, TokenPair } from "../../../generated/shtp/v1/auth.js";
import { defineRoute } from "../../http/route.js";
import { presentMe, presentTokens } from "./presenter.js";
import { AuthLoginBody, AuthLogoutBody, AuthRefreshBody } from "./schema.js";
import * as authService from "./service.js";

export const login = defineRoute({
  name: "login",
  method: "post",
  path: "/auth/login",
  summary: "Signs in with email and password.",
  description:
    "Wrong email and wrong password answer the same 401. Repeated failures per account or per address answer 429 with Retry-After.",
  access: "public",
  body: AuthLoginBody,
  response: TokenPair,
  errors: ["unauthenticated", "rate_limited"],
  // The session is written in its own transaction, after the password check and the throttle.
  transactional: false,
  handler: async ({ body, services, address, db }) =>
    presentTokens(await authService.login(db, services, { email: body.email, password: body.password, address })),
});

export const refresh = defineRoute({
  name: "refreshTokens",
  method: "post",
  path: "/auth/refresh",
  summary: "Trades a refresh token for a new pair; replaying a used one ends its session.",
  access: "public",
  body: AuthRefreshBody,
  response: TokenPair,
  errors: ["unauthenticated"],
  // A replay must revoke the session even though the request fails, so the service commits that itself.
  transactional: false,
  handler: async ({ body, services, db }) =>
    presentTokens(await authService.refresh(db, services.config.auth, body.refreshToken)),
});

export const logout = defineRoute({
  name: "logout",
  method: "post",
  path: "/auth/logout",
  summary: "Ends the session of a refresh token; unknown tokens are ignored.",
  access: "public",
  body: AuthLogoutBody,
  handler: async ({ body, db }) => authService.logout(db, body.refreshToken),
});

export const getMe = defineRoute({
  name: "getMe",
  method: "get",
  path: "/auth/me",
  summary: "The signed-in user, their unread notification count and their medals.",
  access: "signedIn",
  response: Me,
  handler: async ({ actor, db }) => presentMe(await authService.me(db, actor.id)),
});

export const authRoutes = [login, refresh, logout, getMe];
