/**
 * Shared by the client checks (Node, browser, Java): accounts that can really sign in, and the rule for
 * a check whose tool (Chromium, a JDK) is missing from the machine.
 */
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import { hashPassword } from "../auth/passwords.js";
import type { RoleName } from "../auth/roles.js";
import { buildUser } from "../testing/factories.js";
import type { TestServer } from "../testing/server.js";

/** The password of every account made here. */
export const FIXTURE_PASSWORD = "client-check-password-1";

/** A user the checks sign in as. */
export interface Account {
  id: string;
  email: string;
  password: string;
}

/**
 * Creates a user with a real password hash, so it can sign in through `POST /auth/login`.
 * @param role - its role
 */
export async function accountWithPassword(role: RoleName = "student"): Promise<Account> {
  const email = `client-${role}-${randomUUID().slice(0, 8)}@example.test`;
  const user = await buildUser({ role, email });
  await user.update({ passwordHash: await hashPassword(FIXTURE_PASSWORD) });
  return { id: user.id, email, password: FIXTURE_PASSWORD };
}

/**
 * Waits until the server holds more than `before` notification streams, so a message sent next is one
 * the new stream must deliver live.
 * @param server - the test server
 * @param before - the count before the stream was opened
 */
export async function streamOpened(server: TestServer, before: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (server.services.notificationHub.streamCount <= before) {
    if (Date.now() > deadline) throw new Error("The notification stream did not open within 10 s.");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** @returns whether `command` is on PATH and runs */
export function hasCommand(command: string, versionFlag = "--version"): boolean {
  const result = spawnSync(command, [versionFlag], { stdio: "ignore" });
  return result.status === 0;
}

/** @returns whether a file is present */
export const hasFile = (file: string): boolean => fs.existsSync(file);

/**
 * Stops a suite whose tools are missing. In CI (`CI=true`) that is a failure, since `.ci/run` installs
 * them; elsewhere the suite is skipped, which mocha reports as pending, never as passed.
 * @param context - the suite's `before` hook context
 * @param missing - what is missing, each with how to install it
 */
export function requireTools(context: Mocha.Context, missing: readonly string[]): void {
  if (missing.length === 0) return;
  const message = `missing ${missing.join("; ")}`;
  if (process.env.CI === "true" || process.env.CI === "1") {
    throw new Error(`${message} (CI installs these in .ci/run, so this check must run there)`);
  }
  process.stderr.write(`\n  SKIPPED, not passed: ${context.test?.parent?.fullTitle() ?? "suite"}: ${message}\n`);
  context.skip();
}
