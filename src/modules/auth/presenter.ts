import type { Me as MeMessage, TokenPair } from "../../../generated/shtp/v1/auth.js";
import type { OAuth2TokenResponse } from "../../http/oauth2.js";
import { presentMedalAwards } from "../medals/presenter.js";
import { presentUser } from "../users/presenter.js";
import type { IssuedTokens, Me } from "./service.js";

/**
 * A token pair as sign-in and refresh answer it.
 * @param tokens - what the service issued
 */
export const presentTokens = (tokens: IssuedTokens): TokenPair => ({
  accessToken: tokens.accessToken,
  refreshToken: tokens.refreshToken,
  expiresIn: tokens.expiresIn,
  tokenType: "Bearer",
});

/**
 * A token pair as the OAuth 2.0 token endpoint answers it (RFC 6749 §5.1).
 * @param tokens - what the service issued
 */
export const presentOAuth2Token = (tokens: IssuedTokens): OAuth2TokenResponse => ({
  access_token: tokens.accessToken,
  token_type: "Bearer",
  expires_in: tokens.expiresIn,
  refresh_token: tokens.refreshToken,
});

/**
 * The signed-in user as `/auth/me` shows them: their own view of the account, the unread count and
 * the medals, each presented by the module that owns it.
 * @param me - the user, the count and the medals
 */
export const presentMe = (me: Me): MeMessage => ({
  user: presentUser(me.user),
  unreadNotifications: me.unreadNotifications,
  medals: presentMedalAwards(me.medals),
});
