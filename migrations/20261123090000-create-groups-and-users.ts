import type { QueryInterface } from "sequelize";

/** Study cohorts and the people in them; every user belongs to exactly one group. */
export async function up({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.transaction(async (transaction) => {
    await queryInterface.sequelize.query(
      `CREATE TABLE groups (
         id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
         name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
         created_at timestamptz NOT NULL DEFAULT now(),
         updated_at timestamptz NOT NULL DEFAULT now()
       );
       -- Names are compared case-insensitively, so "10A" and "10a" cannot both exist.
       CREATE UNIQUE INDEX groups_name_lower_key ON groups (lower(name));

       CREATE TABLE users (
         id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
         email text NOT NULL,
         nick_name text NOT NULL,
         first_name text NOT NULL,
         last_name text NOT NULL,
         role text NOT NULL CHECK (role IN ('student', 'teacher', 'admin')),
         -- RESTRICT: a group with members cannot be deleted (the API answers 409 first).
         group_id uuid NOT NULL REFERENCES groups (id) ON DELETE RESTRICT,
         learning_class text NOT NULL DEFAULT '',
         password_hash text NOT NULL,
         rating integer NOT NULL DEFAULT 0 CHECK (rating >= 0),
         about_text text NOT NULL DEFAULT '',
         social_links text[] NOT NULL DEFAULT '{}',
         tech_stack text[] NOT NULL DEFAULT '{}',
         avatar_file text,
         created_at timestamptz NOT NULL DEFAULT now(),
         updated_at timestamptz NOT NULL DEFAULT now()
       );
       -- Sign-in finds users by email, and an email is unique whatever its case.
       CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
       -- Profiles are addressed by nickname as well as by id.
       CREATE UNIQUE INDEX users_nick_name_lower_key ON users (lower(nick_name));
       -- Members of a group, and the 409 check before a group is deleted.
       CREATE INDEX users_group_id_idx ON users (group_id);`,
      { transaction },
    );
  });
}

export async function down({ context: queryInterface }: { context: QueryInterface }): Promise<void> {
  await queryInterface.sequelize.query("DROP TABLE users; DROP TABLE groups;");
}
