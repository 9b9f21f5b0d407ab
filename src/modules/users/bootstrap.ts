import type { z } from "zod";
import type { RoleName } from "../../auth/roles.js";
import type { Config } from "../../config/index.js";
import { inTransaction, type Db, type TransactionDb } from "../../db/db.js";
import type { Logger } from "../../logging/logger.js";
import { groupIdsByName } from "../groups/queries.js";
import { createGroup } from "../groups/service.js";
import { createAccounts } from "./accounts.service.js";
import { countUsers, lockAccountBootstrap, takenEmails } from "./queries.js";
import { NewAccountSchema } from "./schema.js";
import type { User } from "./user.model.js";

/** The demo accounts `npm start` creates on an empty embedded database; the README lists them. */
export const demoAccounts: readonly {
  email: string;
  password: string;
  role: RoleName;
  firstName: string;
  lastName: string;
  nickName: string;
  learningClass: string;
}[] = [
  {
    email: "admin@demo.shtp.local",
    password: "demo-admin-pass",
    role: "admin",
    firstName: "Ada",
    lastName: "Admin",
    nickName: "demo_admin",
    learningClass: "",
  },
  {
    email: "teacher@demo.shtp.local",
    password: "demo-teacher-pass",
    role: "teacher",
    firstName: "Tom",
    lastName: "Teacher",
    nickName: "demo_teacher",
    learningClass: "",
  },
  {
    email: "student1@demo.shtp.local",
    password: "demo-student-pass",
    role: "student",
    firstName: "Sasha",
    lastName: "Student",
    nickName: "demo_student1",
    learningClass: "10A",
  },
  {
    email: "student2@demo.shtp.local",
    password: "demo-student-pass",
    role: "student",
    firstName: "Sam",
    lastName: "Scholar",
    nickName: "demo_student2",
    learningClass: "10B",
  },
];
export const DEMO_GROUP_NAME = "Demo group";
/** The group of the initial admin, and of admins the create-admin command makes unless told otherwise. */
export const STAFF_GROUP_NAME = "Staff";

/** What bootstrap did, for the boot log and tests. */
export type BootstrapOutcome = "not-empty" | "initial-admin" | "demo-data" | "nothing-configured";

/**
 * Fills an empty database: INITIAL_ADMIN_EMAIL/PASSWORD create the first admin in any mode; without
 * them, an embedded database outside production gets the demo accounts. Production never gets demo
 * data. Processes booting together take turns (an advisory lock), so only one fills it.
 * @param options.embedded - whether this process runs its own PostgreSQL
 */
export async function bootstrapUsers(
  db: Db,
  config: Config,
  logger: Logger,
  options: { embedded: boolean },
): Promise<BootstrapOutcome> {
  const outcome = await inTransaction(db, async (tx): Promise<BootstrapOutcome> => {
    await lockAccountBootstrap(tx);
    if ((await countUsers(tx)) > 0) return "not-empty";
    if (config.initialAdmin) {
      await createAccountsInGroup(tx, STAFF_GROUP_NAME, [
        {
          email: config.initialAdmin.email,
          password: config.initialAdmin.password,
          role: "admin",
          firstName: "Initial",
          lastName: "Admin",
          nickName: "admin",
          learningClass: "",
        },
      ]);
      return "initial-admin";
    }
    if (!options.embedded || config.env === "production") return "nothing-configured";
    await createAccountsInGroup(tx, DEMO_GROUP_NAME, demoAccounts);
    return "demo-data";
  });
  if (outcome === "initial-admin") logger.info({ email: config.initialAdmin?.email }, "created the initial admin");
  if (outcome === "demo-data")
    logger.warn({ accounts: demoAccounts.map((account) => account.email) }, "created demo accounts (see README)");
  if (outcome === "nothing-configured")
    logger.warn("the database has no users; set INITIAL_ADMIN_EMAIL and INITIAL_ADMIN_PASSWORD");
  return outcome;
}

/**
 * The demo accounts this database holds, for the boot banner: a database filled on an earlier run
 * still has them (with the passwords of the list, unless someone changed them).
 */
export async function demoAccountsIn(db: Db): Promise<(typeof demoAccounts)[number][]> {
  const present = await takenEmails(
    db,
    demoAccounts.map((account) => account.email),
  );
  return demoAccounts.filter((account) => present.has(account.email));
}

/**
 * Creates accounts that reach no request schema (the initial admin, the demo accounts, the
 * create-admin command) in the group of that name, which is made when no group has it in any case.
 * Each account goes through NewAccountSchema first, so it is stored in the form a staff request
 * would give it (email trimmed and lowercased, names trimmed).
 * @param groupName - the group to put them in
 * @param accounts - their fields and passwords
 * @throws ZodError for an account that breaks the account rules
 */
export async function createAccountsInGroup(
  db: TransactionDb,
  groupName: string,
  accounts: readonly z.input<typeof NewAccountSchema>[],
): Promise<User[]> {
  const groupId = (await groupIdsByName(db, [groupName])).get(groupName) ?? (await createGroup(db, groupName)).id;
  return createAccounts(
    db,
    accounts.map((account) => ({ ...NewAccountSchema.parse(account), groupId })),
  );
}
