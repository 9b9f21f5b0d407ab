import type { QueryInterface } from "sequelize";

/**
 * The students an audience reaches, found by a GIN index on each student's keys (everyone, their
 * group, their class) instead of computing the keys of every user: a contest's results list its whole
 * audience on every page, and a school has tens of thousands of students where an audience has a few
 * classes of them.
 */
export async function up({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.query(
    `CREATE INDEX users_student_viewer_keys_idx ON users USING gin (event_viewer_keys(group_id, learning_class))
       WHERE role = 'student';`,
  );
}

export async function down({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.query("DROP INDEX users_student_viewer_keys_idx;");
}
