import assert from "node:assert/strict";
import pg from "pg";
import { QueryTypes } from "sequelize";
import { testDatabase } from "../testing/database.js";
import { generalParser, parseTimestamptz } from "./timestamps.js";

/** The instant a parser gave, as milliseconds, or what else it gave (null, ±Infinity). */
const instantOf = (value: unknown) => (value instanceof Date ? value.getTime() : value);

describe("parseTimestamptz (the fast timestamptz parser)", () => {
  it("agrees with pg's own parser on every text form PostgreSQL writes, in any session zone", async () => {
    const client = new pg.Client({
      connectionString: testDatabase().database.url,
      types: { getTypeParser: () => String },
    });
    await client.connect();
    try {
      let compared = 0;
      // Zones with whole-hour, half-hour, quarter-hour, negative and historic seconds-precision offsets.
      for (const zone of ["UTC", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Europe/Amsterdam"]) {
        await client.query(`SET TimeZone = '${zone}'`);
        const { rows } = await client.query<{ text: string; epochMs: string }>(
          `SELECT ts::text AS text, floor(extract(epoch FROM ts) * 1000)::bigint::text AS "epochMs"
             FROM (SELECT '1900-01-01 00:00:00Z'::timestamptz + n * interval '37 days 5 hours 3 minutes 7.123457 seconds' AS ts
                     FROM generate_series(0, 1500) AS n
                   UNION ALL
                   SELECT unnest(ARRAY['1937-07-01 00:00:00Z', '2026-11-30 12:00:00.1Z', '2026-11-30 12:00:00.12Z',
                     '2026-11-30 12:00:00.000001Z', '2026-11-30 12:00:00.999999Z', '9999-12-31 23:59:59.999999Z',
                     '0100-03-01 00:00:00Z']::timestamptz[])) AS samples`,
        );
        for (const row of rows) {
          const fast = parseTimestamptz(row.text);
          assert.equal(instantOf(fast), Number(row.epochMs), `${zone}: ${row.text}`);
          assert.equal(instantOf(fast), instantOf(generalParser(row.text)), `${zone}: ${row.text}`);
          compared++;
        }
      }
      assert.ok(compared > 7000);
    } finally {
      await client.end();
    }
  });

  it("hands the forms it does not read to pg's parser: BC, early and far years, infinity", () => {
    for (const text of [
      "0044-03-15 12:00:00+00 BC",
      "0099-06-01 00:00:00+00",
      "0001-01-01 00:00:00+00",
      "12345-01-01 00:00:00+00",
      "infinity",
      "-infinity",
      // Not as PostgreSQL writes a timestamptz: whatever pg's parser makes of them, the fast one agrees.
      "2026-11-30T12:00:00+00",
      "2026-11-30 12:00:00.+00",
      "2026-11-30 12:00:00.1234567+00",
      "2026-11-30 12:00:00+00 trailing",
      "2026-11-30 12:00:00",
      "2026-11-30 12:00:00*05",
      "2026-1a-30 12:00:00+00",
      "2026-11-30 12:00:00+0",
    ]) {
      assert.deepEqual(instantOf(parseTimestamptz(text)), instantOf(generalParser(text)), text);
    }
    assert.equal(parseTimestamptz("infinity"), Infinity);
    // Date.UTC would read year 99 as 1999; pg's parser keeps the year.
    assert.equal(instantOf(parseTimestamptz("0099-06-01 00:00:00+00")), new Date("0099-06-01T00:00:00Z").getTime());
  });

  it("is what the process's pg clients parse timestamptz columns with", async () => {
    assert.equal(pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ, "text"), parseTimestamptz);
    const [row] = await testDatabase().database.sequelize.query<{ at: Date }>(
      "SELECT '2026-11-30 12:34:56.789654+05:30'::timestamptz AS at",
      { type: QueryTypes.SELECT },
    );
    assert.ok(row?.at instanceof Date);
    assert.equal(row.at.toISOString(), "2026-11-30T07:04:56.789Z");
  });
});
