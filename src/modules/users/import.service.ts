import fs from "node:fs/promises";
import { isUtf8 } from "node:buffer";
// CsvError from the same entry point as parse: under require() (mocha, tsx's CJS hook) "csv-parse" and
// "csv-parse/sync" are separate bundles with a CsvError class each, and instanceof across them is false.
import { CsvError, parse } from "csv-parse/sync";
import type { z } from "zod";
import type { Actor } from "../../auth/roles.js";
import type { TransactionDb } from "../../db/db.js";
import { FailedPreconditionError, InvalidArgumentError, type FieldViolation } from "../../errors/index.js";
import { groupIdsByName } from "../groups/queries.js";
import { createAccounts } from "./accounts.service.js";
import { decideUserAction } from "./policy.js";
import { nickNamesStartingWith, takenEmails } from "./queries.js";
import { ImportRowSchema, importColumns, MAX_IMPORT_ROWS, reservedNickNames } from "./schema.js";
import type { User } from "./user.model.js";

/** What an import created, or would create on a dry run. */
export interface ImportResult {
  dryRun: boolean;
  users: Pick<User, "id" | "nickName" | "firstName" | "lastName" | "avatarFile">[];
}

/**
 * Imports users from a CSV file (RFC 4180, header row). All or nothing: every bad line is reported
 * at once and nothing is created unless every line is good.
 * @param actor - the caller (teachers may import students only)
 * @param file - the uploaded CSV's path
 * @param dryRun - validate only
 * @throws AppError invalid_argument for a file that is not CSV text, failed_precondition listing each bad line
 */
export async function importUsers(
  db: TransactionDb,
  actor: Actor,
  file: string,
  dryRun: boolean,
): Promise<ImportResult> {
  const rows = parseCsv(await fs.readFile(file));
  const violations: FieldViolation[] = [];
  const valid: (z.infer<typeof ImportRowSchema> & { line: number })[] = [];
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

  const groups = await groupIdsByName(
    db,
    valid.map((row) => row.groupName),
  );
  const taken = await takenEmails(
    db,
    valid.map((row) => row.email),
  );
  const seenEmails = new Map<string, number>();
  const ready: (z.infer<typeof ImportRowSchema> & { line: number; groupId: string })[] = [];
  for (const row of valid) {
    const groupId = groups.get(row.groupName);
    const firstLine = seenEmails.get(row.email);
    if (!groupId) violations.push(lineViolation(row.line, "groupName", `No group is named "${row.groupName}".`));
    if (taken.has(row.email)) violations.push(lineViolation(row.line, "email", "An account with this email exists."));
    if (firstLine !== undefined)
      violations.push(lineViolation(row.line, "email", `The same email is on line ${firstLine}.`));
    seenEmails.set(row.email, firstLine ?? row.line);
    if (groupId && !taken.has(row.email) && firstLine === undefined) ready.push({ ...row, groupId });
  }
  if (violations.length > 0) {
    throw FailedPreconditionError(`The file has ${violations.length} problem(s); nothing was imported.`, violations);
  }

  const withNickNames = await assignNickNames(db, ready);
  if (dryRun) return { dryRun, users: withNickNames.map((row) => ({ id: "", avatarFile: null, ...row })) };
  return { dryRun, users: await createAccounts(db, withNickNames) };
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
  db: TransactionDb,
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
