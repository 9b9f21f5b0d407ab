import type { Sequelize, Transaction } from "sequelize";
import { hashPassword } from "../../auth/passwords.js";
import type { RoleName } from "../../auth/roles.js";
import type { Config } from "../../config/index.js";
import type { Logger } from "../../logging/logger.js";
import { Group } from "../groups/group.model.js";
import { User } from "./user.model.js";

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
const STAFF_GROUP_NAME = "Staff";

/** Any fixed number: serialises the "is the database empty?" check of processes booting together. */
const BOOTSTRAP_LOCK_KEY = 746_102_312;

/** What bootstrap did, for the boot log and tests. */
export type BootstrapOutcome = "not-empty" | "initial-admin" | "demo-data" | "nothing-configured";

/**
 * Fills an empty database: INITIAL_ADMIN_EMAIL/PASSWORD create the first admin in any mode; without
 * them, an embedded database outside production gets the demo accounts. Production never gets demo data.
 * @param options.embedded - whether this process runs its own PostgreSQL
 */
export async function bootstrapUsers(
  sequelize: Sequelize,
  config: Config,
  logger: Logger,
  options: { embedded: boolean },
): Promise<BootstrapOutcome> {
  const outcome = await sequelize.transaction(async (transaction) => {
    await sequelize.query("SELECT pg_advisory_xact_lock(:key)", {
      replacements: { key: BOOTSTRAP_LOCK_KEY },
      transaction,
    });
    if ((await User.count({ transaction })) > 0) return "not-empty";
    if (config.initialAdmin) {
      const group = await findOrCreateGroup(STAFF_GROUP_NAME, transaction);
      await createAccount(
        {
          email: config.initialAdmin.email,
          password: config.initialAdmin.password,
          role: "admin",
          firstName: "Initial",
          lastName: "Admin",
          nickName: "admin",
          learningClass: "",
        },
        group.id,
        transaction,
      );
      return "initial-admin";
    }
    if (!options.embedded || config.env === "production") return "nothing-configured";
    const group = await findOrCreateGroup(DEMO_GROUP_NAME, transaction);
    for (const account of demoAccounts) await createAccount(account, group.id, transaction);
    return "demo-data";
  });
  if (outcome === "initial-admin") logger.info({ email: config.initialAdmin?.email }, "created the initial admin");
  if (outcome === "demo-data")
    logger.warn({ accounts: demoAccounts.map((account) => account.email) }, "created demo accounts (see README)");
  if (outcome === "nothing-configured")
    logger.warn("the database has no users; set INITIAL_ADMIN_EMAIL and INITIAL_ADMIN_PASSWORD");
  return outcome;
}

async function findOrCreateGroup(name: string, transaction: Transaction): Promise<Group> {
  const existing = await Group.findOne({ where: { name }, transaction });
  return existing ?? Group.create({ name }, { transaction });
}

/**
 * Creates one account with a hashed password.
 * @param account - the account's fields and password
 * @param groupId - its group
 */
export async function createAccount(
  account: {
    email: string;
    password: string;
    role: RoleName;
    firstName: string;
    lastName: string;
    nickName: string;
    learningClass: string;
  },
  groupId: string,
  transaction?: Transaction,
): Promise<User> {
  return User.create(
    {
      email: account.email.trim().toLowerCase(),
      nickName: account.nickName,
      firstName: account.firstName,
      lastName: account.lastName,
      role: account.role,
      groupId,
      learningClass: account.learningClass,
      passwordHash: await hashPassword(account.password),
    },
    { transaction },
  );
}

export { STAFF_GROUP_NAME };
