import { Me, TokenPair } from "../../../generated/shtp/v1/auth.js";
import { presentMedalAwards } from "../medals/catalogue.js";
import { medalsOf } from "../medals/service.js";
import { unreadCountOf } from "../notifications/service.js";
import { defineRoute } from "../../http/route.js";
import { NotFoundError } from "../../errors/index.js";
import { presentUser } from "../users/presenter.js";
import { User } from "../users/user.model.js";
import { AuthLoginBody, AuthLogoutBody, AuthRefreshBody } from "./schema.js";
import * as authService from "./service.js";

const presentTokens = (tokens: authService.IssuedTokens): TokenPair => ({
  accessToken: tokens.accessToken,
  refreshToken: tokens.refreshToken,
  expiresIn: tokens.expiresIn,
  tokenType: "Bearer",
});

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
  handler: async ({ body, services, address }) =>
    presentTokens(await authService.login(services, { email: body.email, password: body.password, address })),
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
  handler: async ({ body, services }) => presentTokens(await authService.refresh(services, body.refreshToken)),
});

export const logout = defineRoute({
  name: "logout",
  method: "post",
  path: "/auth/logout",
  summary: "Ends the session of a refresh token; unknown tokens are ignored.",
  access: "public",
  body: AuthLogoutBody,
  handler: async ({ body, db }) => authService.logout(body.refreshToken, db.transaction),
});

export const getMe = defineRoute({
  name: "getMe",
  method: "get",
  path: "/auth/me",
  summary: "The signed-in user, their unread notification count and their medals.",
  access: "signedIn",
  response: Me,
  handler: async ({ actor, db }) => {
    const [user, unread, medals] = await Promise.all([
      User.findByPk(actor.id),
      unreadCountOf(db, actor.id),
      medalsOf(db, actor.id),
    ]);
    if (!user) throw NotFoundError("The user");
    return { user: presentUser(user), unreadNotifications: unread, medals: presentMedalAwards(medals) };
  },
});

export const authRoutes = [login, refresh, logout, getMe];
