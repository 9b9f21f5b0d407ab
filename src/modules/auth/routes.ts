import { Me, TokenPair } from "../../../generated/shtp/v1/auth.js";
import { OAuth2Error, OAuth2TokenResponseSchema } from "../../http/oauth2.js";
import { defineRoute, type QueryCredential } from "../../http/route.js";
import { presentMe, presentOAuth2Token, presentTokens } from "./presenter.js";
import { AuthLoginBody, AuthLogoutBody, AuthRefreshBody, AuthTokenForm, tokenGrants } from "./schema.js";
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

export const token = defineRoute({
  name: "issueToken",
  method: "post",
  path: "/auth/token",
  summary: "OAuth 2.0 token endpoint (RFC 6749): the password and refresh_token grants, form-encoded in, JSON out.",
  description:
    "The same sign-in and refresh as `/auth/login` and `/auth/refresh`: the throttle, single-use refresh tokens " +
    "and the end of a session whose used refresh token is replayed. `username` is the email. Takes " +
    "`application/x-www-form-urlencoded` only and answers JSON whatever Accept says (never protobuf). Errors are " +
    "RFC 6749 §5.2 `{error, error_description}`: 400 `invalid_request`, `invalid_grant` (wrong credentials, an " +
    "unknown, used or expired refresh token), `unsupported_grant_type`, `invalid_scope` (no scopes are defined); " +
    "a throttled sign-in is 429 `invalid_grant` with Retry-After. Clients are public: `client_id` is not required " +
    "and client credentials are not checked.",
  access: "public",
  oauth2: { request: AuthTokenForm, grants: tokenGrants, response: OAuth2TokenResponseSchema },
  // The session is written in its own transaction, after the password check and the throttle, and a
  // replayed refresh token's revocation must commit though the request fails: the services see to both.
  transactional: false,
  handler: async ({ body, services, address, db }) => {
    if (body.grantType === "unsupported")
      throw new OAuth2Error("unsupported_grant_type", "The grant types are `password` and `refresh_token`.");
    if (body.scope !== undefined)
      throw new OAuth2Error("invalid_scope", "This server defines no scopes; leave `scope` out.");
    const tokens =
      body.grantType === "password"
        ? await authService.login(db, services, { email: body.email, password: body.password, address })
        : await authService.refresh(db, services.config.auth, body.refreshToken);
    return presentOAuth2Token(tokens);
  },
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

/**
 * How a browser's EventSource, which cannot send an Authorization header, authenticates a stream: a
 * single-use ticket in the query string, from `POST /notifications/stream-tickets`.
 */
export const streamTicketCredential: QueryCredential = {
  scheme: "streamTicket",
  parameter: "ticket",
  issuedBy: "/notifications/stream-tickets",
  description:
    "A single-use ticket from `POST /notifications/stream-tickets`, bound to the session that minted it and valid " +
    "for `expiresIn` seconds, for clients that cannot send an Authorization header (EventSource). Never together " +
    "with the header.",
  authenticate: (db, ticket) => authService.authenticateStreamTicket(db, ticket),
};

export const authRoutes = [login, refresh, token, logout, getMe];
