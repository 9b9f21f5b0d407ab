import assert from "node:assert/strict";
import { DatabaseError } from "sequelize";
import { countStatements } from "../testing/api.js";
import { testDatabase } from "../testing/database.js";
import { buildUser } from "../testing/factories.js";
import { testConfig } from "../testing/server.js";
import { inTransaction, select, selectPrepared } from "./db.js";
import { createSequelize } from "./sequelize.js";

describe("selectPrepared (named prepared statements for hot reads)", () => {
  const db = () => ({ sequelize: testDatabase().database.sequelize });

  it("answers what select answers, leaving quoted text and casts alone and numbering repeated names once", async () => {
    const sql = `SELECT :a::text AS a, ':not_a_parameter' AS quoted, "u".id::text AS "id:text", :a::int + :b AS sum
                   FROM users "u" WHERE "u".id = CAST(:id AS uuid)`;
    const user = await buildUser();
    const replacements = { a: "2", b: 3, id: user.id };
    const expected = await select(db(), sql, replacements);
    assert.deepEqual(expected, [{ a: "2", quoted: ":not_a_parameter", "id:text": user.id, sum: 5 }]);
    // Twice: the second run uses the statement the connection has prepared already.
    assert.deepEqual(await selectPrepared(db(), sql, replacements), expected);
    assert.deepEqual(await selectPrepared(db(), sql, replacements), expected);
  });

  it("is counted as a statement, as Sequelize's queries are", async () => {
    const { statements } = await countStatements(() => selectPrepared(db(), "SELECT 1 AS one"));
    assert.equal(statements, 1);
  });

  it("raises a failing statement as Sequelize's DatabaseError, with the SQLSTATE, and keeps serving", async () => {
    await assert.rejects(selectPrepared(db(), "SELECT 1 / :zero AS x", { zero: 0 }), (error: unknown) => {
      assert.ok(error instanceof DatabaseError);
      assert.equal((error.parent as { code?: string }).code, "22012");
      return true;
    });
    assert.deepEqual(await selectPrepared(db(), "SELECT :n::int AS n", { n: 7 }), [{ n: 7 }]);
  });

  it("runs inside the caller's transaction when there is one", async () => {
    const user = await buildUser();
    await inTransaction(db(), async (tx) => {
      await tx.sequelize.query("UPDATE users SET first_name = 'Uncommitted' WHERE id = :id", {
        replacements: { id: user.id },
        transaction: tx.transaction,
      });
      const [row] = await selectPrepared<{ firstName: string }>(
        tx,
        `SELECT first_name AS "firstName" FROM users WHERE id = :id`,
        { id: user.id },
      );
      assert.equal(row?.firstName, "Uncommitted");
    });
  });

  it("sends a replacement that is undefined or not given at all as NULL", async () => {
    const rows = await selectPrepared<{ given: number; unset: string | null; absent: string | null }>(
      db(),
      "SELECT :given::int AS given, :unset::text AS unset, :absent::text AS absent",
      { given: 1, unset: undefined },
    );
    assert.deepEqual(rows, [{ given: 1, unset: null, absent: null }]);
  });

  it("refuses an array value, which only Sequelize's replacements expand", async () => {
    await assert.rejects(selectPrepared(db(), "SELECT :ids AS ids", { ids: ["a"] }), /scalar values/);
  });

  it("gives up on a read with no answer after queryTimeoutMs and discards its connection", async () => {
    const sequelize = createSequelize(testDatabase().database.url, {
      ...testConfig().database,
      poolMax: 1,
      statementTimeoutMs: 0,
      queryTimeoutMs: 500,
    });
    try {
      const slow = { sequelize };
      const [before] = await selectPrepared<{ pid: number }>(slow, "SELECT pg_backend_pid() AS pid");
      await assert.rejects(selectPrepared(slow, "SELECT pg_sleep(:seconds)", { seconds: 3 }), (error: unknown) => {
        assert.ok(!(error instanceof DatabaseError), "no answer is not a statement the database refused");
        assert.match(String(error), /Query read timeout/);
        return true;
      });
      const [after] = await selectPrepared<{ pid: number }>(slow, "SELECT pg_backend_pid() AS pid");
      assert.notEqual(after?.pid, before?.pid, "the next read runs on a new connection");
    } finally {
      await sequelize.close();
    }
  });
});
