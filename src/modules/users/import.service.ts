import fs from "node:fs/promises";
import { isUtf8 } from "node:buffer";
// CsvError from the same entry point as parse: under require() (mocha, tsx's CJS hook) "csv-parse" and
// "csv-parse/sync" are separate bundles with a CsvError class each, and instanceof across them is false.
import { CsvError, parse } from "csv-parse/sync";
import type { z } from "zod";
import type { Actor } from "../../auth/roles.js";
import { inTransaction, type Db } from "../../db/db.js";
import { FailedPreconditionError, InvalidArgumentError, type FieldViolation } from "../../errors/index.js";
import { groupIdsByName } from "../groups/queries.js";
import { hashAccounts, insertAccounts } from "./accounts.service.js";
import { decideUserAction } from "./policy.js";
import { nickNamesStartingWith, takenEmails } from "./queries.js";
import { ImportRowSchema, importColumns, MAX_IMPORT_ROWS, reservedNickNames } from "./schema.js";
import type { User } from "./user.model.js";

/** What an import created, or would create on a dry run. */
export interface ImportResult {
  dryRun: boolean;
  users: Pick<User, "id" | "nickName" | "firstName" | "lastName" | "avatarFile">[];
}

/** A line of the file that passed the row schema and the caller's permission. */
type ImportRow = z.infer<typeof ImportRowSchema> & { line: number };

/**
 * Imports users from a CSV file (RFC 4180, header row). All or nothing: every bad line is reported
 * at once and nothing is created unless every line is good.
 *
 * The passwords are hashed between two checks of the file against the database, outside any
 * transaction: a hash costs about 200 ms of a core, so a school's 2,000 students take minutes, and a
 * transaction left open that long would be ended by PostgreSQL (`idle_in_transaction_session_timeout`)
 * and hold its connection all the while. The first check spares the hashing when the file is refused;
 * the second, in the transaction that inserts, sees what others committed meanwhile (a group renamed,
 * an email or a nickname taken).
 * @param db - the database, outside a transaction
 * @param actor - the caller (teachers may import students only)
 * @param file - the uploaded CSV's path
 * @param dryRun - validate only
 * @throws AppError invalid_argument for a file that is not CSV text, failed_precondition listing each bad line
 */
export async function importUsers(db: Db, actor: Actor, file: string, dryRun: boolean): Promise<ImportResult> {
  const rows = parseCsv(await fs.readFile(file));
  const violations: FieldViolation[] = [];
  const valid: ImportRow[] = [];
  for (const { line, record } of rows) {
    const parsed = ImportRowSchema.safeParse(record);
    if (!parsed.success) {
      violations.push(...parsed.error.issues.map((issue) => lineViolation(line, issue.path.join("."), issue.message)));
      continue;
    }
    if (!decideUserAction(actor, "create", parsed.data).allowed) {
      violations.push(lineViolation(line, "role", "Teachers may import students only."));
      continue;
    }
    valid.push({ ...parsed.data, line });
  }

  const planned = await accountsToCreate(db, valid, violations);
  if (dryRun) return { dryRun, users: planned.map((row) => ({ id: "", avatarFile: null, ...row })) };
  const hashed = new Map((await hashAccounts(planned)).map((account) => [account.email, account] as const));
  const users = await inTransaction(db, async (tx) => {
    const accounts = await accountsToCreate(tx, valid, violations);
    // The lines are the same; their group's id and their nickname are as this second check found them.
    return insertAccounts(
      tx,
      accounts.map(({ email, groupId, nickName }) => {
        const account = hashed.get(email);
        if (!account) throw new Error(`${email} passed the second check but not the first.`);
        return { ...account, groupId, nickName };
      }),
    );
  });
  return { dryRun, users };
}

/**
 * Checks the valid lines against the database (their groups exist, their emails are free and not
 * repeated in the file) and gives each a nickname.
 * @param violations - the lines refused already, reported together with these
 * @throws AppError failed_precondition listing every bad line
 */
async function accountsToCreate(
  db: Db,
  valid: readonly ImportRow[],
  violations: readonly FieldViolation[],
): Promise<(ImportRow & { groupId: string; nickName: string })[]> {
  const problems = [...violations];
  const groups = await groupIdsByName(
    db,
    valid.map((row) => row.groupName),
  );
  const taken = await takenEmails(
    db,
    valid.map((row) => row.email),
  );
  const seenEmails = new Map<string, number>();
  const ready: (ImportRow & { groupId: string })[] = [];
  for (const row of valid) {
    const groupId = groups.get(row.groupName);
    const firstLine = seenEmails.get(row.email);
    if (!groupId) problems.push(lineViolation(row.line, "groupName", `No group is named "${row.groupName}".`));
    if (taken.has(row.email)) problems.push(lineViolation(row.line, "email", "An account with this email exists."));
    if (firstLine !== undefined)
      problems.push(lineViolation(row.line, "email", `The same email is on line ${firstLine}.`));
    seenEmails.set(row.email, firstLine ?? row.line);
    if (groupId && !taken.has(row.email) && firstLine === undefined) ready.push({ ...row, groupId });
  }
  if (problems.length > 0) {
    throw FailedPreconditionError(`The file has ${problems.length} problem(s); nothing was imported.`, problems);
  }
  return assignNickNames(db, ready);
}

const lineViolation = (line: number, column: string, description: string): FieldViolation => ({
  field: `lines.${line}${column ? `.${column}` : ""}`,
  description,
});

function parseCsv(bytes: Buffer): { line: number; record: Record<string, string> }[] {
  if (!isUtf8(bytes) || bytes.includes(0)) {
    throw InvalidArgumentError("The file must be UTF-8 CSV text.", [{ field: "file", description: "Not CSV text." }]);
  }
  let records: { record: Record<string, string>; info: { lines: number } }[];
  try {
    records = parse<{ record: Record<string, string>; info: { lines: number } }>(bytes, {
      bom: true,
      columns: (header: string[]) => {
        const names = header.map((name) => name.trim());
        const missing = importColumns.filter((column) => !names.includes(column));
        const unknown = names.filter((name) => !(importColumns as readonly string[]).includes(name));
        if (missing.length || unknown.length) {
          throw FailedPreconditionError("The header row does not match.", [
            lineViolation(
              1,
              "",
              `Expected the columns ${importColumns.join(",")}; missing: ${missing.join(",") || "none"}; unknown: ${unknown.join(",") || "none"}.`,
            ),
          ]);
        }
        return names;
      },
      skip_empty_lines: true,
      info: true,
    });
  } catch (error) {
    if (error instanceof CsvError) {
      throw FailedPreconditionError("The file is not valid CSV; nothing was imported.", [
        lineViolation(Number(error.lines ?? 0), "", error.message),
      ]);
    }
    throw error;
  }
  if (records.length === 0) throw FailedPreconditionError("The file has no rows.", [lineViolation(2, "", "No rows.")]);
  if (records.length > MAX_IMPORT_ROWS) {
    throw FailedPreconditionError(`At most ${MAX_IMPORT_ROWS} rows per import.`, [
      lineViolation(MAX_IMPORT_ROWS + 2, "", "Too many rows."),
    ]);
  }
  return records.map(({ record, info }) => ({ line: info.lines, record }));
}

/**
 * Nicknames are not in the file: each is made from the email's local part, with a number added when
 * that is taken already or by an earlier line.
 */
async function assignNickNames<Row extends { email: string }>(
  db: Db,
  rows: Row[],
): Promise<(Row & { nickName: string })[]> {
  // Emails are lowercased by the row schema, so the stems are too.
  const bases = rows.map((row) => {
    const local = (row.email.split("@")[0] ?? "").replace(/[^a-z0-9_.-]/g, "").slice(0, 24);
    return local.length >= 3 ? local : `${local}user`.slice(0, 24).padEnd(3, "0");
  });
  const taken = await nickNamesStartingWith(db, bases);
  return rows.map((row, index) => {
    const base = bases[index] ?? "user";
    let nickName = base;
    for (let suffix = 2; taken.has(nickName) || reservedNickNames.has(nickName); suffix++) {
      nickName = `${base}${suffix}`;
    }
    taken.add(nickName);
    return { ...row, nickName };
  });
}
