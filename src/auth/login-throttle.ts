import { createHash } from "node:crypto";
import { RateLimiterPostgres, type RateLimiterRes } from "rate-limiter-flexible";
import type { Sequelize } from "sequelize";
import type { Config } from "../config/index.js";
import { AppError } from "../errors/index.js";

/**
 * Counts failed sign-ins per account and per client address in PostgreSQL (rate-limiter-flexible's
 * store, table `login_throttle`), so every server process on one database enforces the same limit.
 */
export class LoginThrottle {
  private readonly byAccount: RateLimiterPostgres;
  private readonly byAddress: RateLimiterPostgres;

  constructor(
    sequelize: Sequelize,
    private readonly settings: Config["loginThrottle"],
  ) {
    const common = {
      storeClient: sequelize,
      storeType: "sequelize",
      tableName: "login_throttle",
      // The migration creates the table; the library must not try at run time.
      tableCreated: true,
      clearExpiredByTimeout: true,
      duration: settings.windowSeconds,
    };
    this.byAccount = new RateLimiterPostgres({
      ...common,
      keyPrefix: "account",
      points: settings.maxFailuresPerAccount,
    });
    this.byAddress = new RateLimiterPostgres({
      ...common,
      keyPrefix: "address",
      points: settings.maxFailuresPerAddress,
    });
  }

  /**
   * @param email - the account tried (any case)
   * @param address - the client address
   * @throws AppError rate_limited with Retry-After when either limit is spent
   */
  async assertAllowed(email: string, address: string): Promise<void> {
    const [account, client] = await Promise.all([this.byAccount.get(accountKey(email)), this.byAddress.get(address)]);
    const blocked = [
      account && account.consumedPoints >= this.settings.maxFailuresPerAccount ? account : undefined,
      client && client.consumedPoints >= this.settings.maxFailuresPerAddress ? client : undefined,
    ].filter((result): result is RateLimiterRes => result !== undefined);
    if (blocked.length === 0) return;
    const retryAfter = Math.max(1, Math.ceil(Math.max(...blocked.map((result) => result.msBeforeNext)) / 1000));
    throw new AppError("rate_limited", "Too many failed sign-ins; try again later.", {
      headers: { "Retry-After": String(retryAfter) },
    });
  }

  /** Counts one failure against the account and the address. */
  async recordFailure(email: string, address: string): Promise<void> {
    // consume() rejects once the limit is passed; the count is what matters here, not the verdict.
    await Promise.all([
      this.byAccount.consume(accountKey(email)).catch(() => undefined),
      this.byAddress.consume(address).catch(() => undefined),
    ]);
  }

  /** A successful sign-in clears the account's failures (not the address's: one good password must not unlock guessing). */
  async recordSuccess(email: string): Promise<void> {
    await this.byAccount.delete(accountKey(email));
  }
}

/** Emails are keyed by digest: the throttle table holds no addresses of people. */
const accountKey = (email: string) => createHash("sha256").update(email.trim().toLowerCase()).digest("hex");
