import { RateLimiterPostgres, RateLimiterRes } from "rate-limiter-flexible";
import type { Sequelize } from "sequelize";
import type { Config } from "../../config/index.js";
import { AppError } from "../../errors/index.js";

const DAY_SECONDS = 24 * 60 * 60;

/**
 * The per-user submission limits (a short window and a day), counted in PostgreSQL by
 * rate-limiter-flexible as the sign-in throttle is (table `submission_throttle`): each count is one
 * atomic upsert, so every server process on the database enforces the same limits, also under
 * concurrent requests.
 */
export class SubmissionThrottle {
  private readonly perWindow: RateLimiterPostgres;
  private readonly perDay: RateLimiterPostgres;

  constructor(sequelize: Sequelize, limits: Config["assignments"]["submissionLimits"]) {
    const common = {
      storeClient: sequelize,
      storeType: "sequelize",
      tableName: "submission_throttle",
      // The migration creates the table; the library must not try at run time.
      tableCreated: true,
      clearExpiredByTimeout: true,
    };
    this.perWindow = new RateLimiterPostgres({
      ...common,
      keyPrefix: "window",
      points: limits.perWindow,
      duration: limits.windowSeconds,
    });
    this.perDay = new RateLimiterPostgres({
      ...common,
      keyPrefix: "day",
      points: limits.perDay,
      duration: DAY_SECONDS,
    });
  }

  /**
   * Counts one submission of the user against both limits; the day is only counted once the window
   * allowed it, so refused bursts do not use up the day.
   * @throws AppError rate_limited with Retry-After (seconds) when either limit is spent
   */
  async consume(userId: string): Promise<void> {
    try {
      await this.perWindow.consume(userId);
      await this.perDay.consume(userId);
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
      const retryAfter = Math.max(1, Math.ceil(error.msBeforeNext / 1000));
      throw new AppError("rate_limited", `Too many submissions; try again in ${retryAfter} s.`, {
        headers: { "Retry-After": String(retryAfter) },
      });
    }
  }
}
