import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { AppError } from "../errors/index.js";
import { testDatabase } from "../testing/database.js";
import { LoginThrottle } from "./login-throttle.js";

/** Each test signs in as accounts and from addresses of its own, so the shared table never mixes them. */
const freshEmail = () => `${randomUUID()}@example.test`;
const freshAddress = () => `2001:db8::${randomBytes(2).toString("hex")}:${randomBytes(2).toString("hex")}`;

async function refusal(attempt: Promise<void>): Promise<AppError> {
  try {
    await attempt;
  } catch (error) {
    assert.ok(error instanceof AppError, String(error));
    return error;
  }
  assert.fail("expected the sign-in to be refused");
}

describe("LoginThrottle (src/auth/login-throttle.ts), on the real throttle table", () => {
  const settings = { maxFailuresPerAccount: 2, maxFailuresPerAddress: 3, windowSeconds: 60 };
  const throttle = () => new LoginThrottle(testDatabase().database.sequelize, settings);

  it("refuses an account whose failures reached its limit, from any address, with Retry-After", async () => {
    const limiter = throttle();
    const email = freshEmail();
    await limiter.assertAllowed(email, freshAddress());
    await limiter.recordFailure(email, freshAddress());
    await limiter.assertAllowed(email, freshAddress());
    await limiter.recordFailure(` ${email.toUpperCase()} `, freshAddress());
    const error = await refusal(limiter.assertAllowed(email, freshAddress()));
    assert.equal(error.code, "rate_limited");
    assert.equal(error.status, 429);
    const retryAfter = Number(error.headers["Retry-After"]);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, String(retryAfter));
    await limiter.assertAllowed(freshEmail(), freshAddress());
  });

  it("refuses an address whose failures over many accounts reached its limit, for every account", async () => {
    const limiter = throttle();
    const address = freshAddress();
    for (let failure = 0; failure < settings.maxFailuresPerAddress; failure += 1) {
      await limiter.recordFailure(freshEmail(), address);
    }
    assert.equal((await refusal(limiter.assertAllowed(freshEmail(), address))).code, "rate_limited");
    await limiter.assertAllowed(freshEmail(), freshAddress());
  });

  it("keeps counting past the limit without failing, and a success clears the account but not the address", async () => {
    const limiter = throttle();
    const email = freshEmail();
    const address = freshAddress();
    for (let failure = 0; failure < settings.maxFailuresPerAddress + 2; failure += 1) {
      await limiter.recordFailure(email, address);
    }
    await limiter.recordSuccess(email.toUpperCase());
    await limiter.assertAllowed(email, freshAddress());
    assert.equal((await refusal(limiter.assertAllowed(email, address))).code, "rate_limited");
  });
});
