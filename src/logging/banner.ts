import path from "node:path";

/** A demo account as the banner shows it. */
export interface DemoAccountHint {
  email: string;
  password: string;
  role: string;
}

/** Who can sign in, as the boot found it. */
export type SignInHint =
  | { kind: "demo"; createdNow: boolean; accounts: readonly DemoAccountHint[] }
  | { kind: "initial-admin"; email: string }
  | { kind: "no-users" }
  | { kind: "existing-users" };

/** What a newcomer needs to know once the server is up. */
export interface BootFacts {
  version: string;
  env: string;
  /** The server's base URL, such as http://127.0.0.1:3000. */
  url: string;
  database: { embedded: true; dataDir: string } | { embedded: false; url: string };
  signIn: SignInHint;
  /** The judge's state in a few words; the server passes it ("1 in-process slot (uid 60000)", or why none runs). */
  judge: string;
}

/**
 * A connection URL without its password, to show where the data is without showing the secret.
 * @param url - a postgres:// URL
 */
export function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = "";
    return parsed.toString();
  } catch {
    return "(an unparsable URL)";
  }
}

/**
 * The few lines printed after boot in development on a terminal: where to point a browser, where the
 * docs are, which database is in use, how to sign in, and whether a judge runs.
 * @param facts - what the boot found
 * @param cwd - the folder paths are shown relative to
 */
export function formatBanner(facts: BootFacts, cwd = process.cwd()): string {
  const database = facts.database.embedded
    ? `embedded PostgreSQL, data in ${shortPath(facts.database.dataDir, cwd)}`
    : withoutPassword(facts.database.url);
  const lines = [
    "",
    `  ShTP API ${facts.version} is ready (${facts.env})`,
    "",
    `  Docs      ${facts.url}/api/docs`,
    `  API       ${facts.url}/api/v1`,
    `  Database  ${database}`,
    `  Judge     ${facts.judge}`,
    ...signInLines(facts.signIn),
    "  Stop      Ctrl-C",
    "",
  ];
  return `${lines.join("\n")}\n`;
}

/** A path inside `cwd` relative to it (storage/postgres), any other as it is. */
function shortPath(target: string, cwd: string): string {
  const relative = path.relative(cwd, target);
  return relative && !relative.startsWith("..") && !path.isAbsolute(relative) ? relative : target;
}

function signInLines(hint: SignInHint): string[] {
  switch (hint.kind) {
    case "demo": {
      const emailWidth = Math.max(...hint.accounts.map((account) => account.email.length));
      const passwordWidth = Math.max(...hint.accounts.map((account) => account.password.length));
      return [
        `  Sign in   POST /api/v1/auth/login, or "Authorize" in the docs, with a demo account${
          hint.createdNow ? " (created just now)" : ""
        }:`,
        ...hint.accounts.map(
          (account) =>
            `              ${account.email.padEnd(emailWidth)}  ${account.password.padEnd(passwordWidth)}  ${account.role}`,
        ),
      ];
    }
    case "initial-admin":
      return [`  Sign in   as ${hint.email}, created just now with INITIAL_ADMIN_PASSWORD`];
    case "no-users":
      return ["  Sign in   nobody can yet: set INITIAL_ADMIN_EMAIL and INITIAL_ADMIN_PASSWORD, then restart"];
    case "existing-users":
      return ["  Sign in   with an account of this database (it has no demo accounts)"];
  }
}
