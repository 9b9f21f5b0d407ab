import assert from "node:assert/strict";
import { AppError } from "../../errors/index.js";
import { rolledBack } from "../../testing/rolled-back.js";
import { createBanner, listBanners, updateBanner } from "./banners.service.js";

/** updateBanner (src/modules/notifications/banners.service.ts): the window after a change, in a transaction rolled back. */
describe("updateBanner (src/modules/notifications/banners.service.ts)", () => {
  const hour = 3_600_000;
  const noClearing = { clearStartsAt: false, clearEndsAt: false };

  it("changes the severity alone, and clears the start while keeping the end", async () => {
    await rolledBack(async (db) => {
      const now = Date.now();
      const banner = await createBanner(db, {
        text: "Maintenance tonight",
        severity: "info",
        active: true,
        startsAt: new Date(now - hour),
        endsAt: new Date(now + hour),
      });
      const raised = await updateBanner(db, banner.id, { ...noClearing, severity: "error" });
      assert.equal(raised.severity, "error");
      assert.equal(raised.text, "Maintenance tonight");
      const unstarted = await updateBanner(db, banner.id, { ...noClearing, clearStartsAt: true });
      assert.equal(unstarted.startsAt, null);
      assert.equal(unstarted.endsAt?.getTime(), now + hour);
      assert.equal(unstarted.severity, "error");
    });
  });

  it("refuses a new start at or after the stored end (400 on endsAt), leaving the banner as it was", async () => {
    await rolledBack(async (db) => {
      const now = Date.now();
      const end = new Date(now + hour);
      const banner = await createBanner(db, { text: "Exams", severity: "warning", active: true, endsAt: end });
      const error = await updateBanner(db, banner.id, { ...noClearing, startsAt: end }).catch(
        (caught: unknown) => caught,
      );
      assert.ok(error instanceof AppError, String(error));
      assert.equal(error.code, "invalid_argument");
      assert.deepEqual(
        error.fieldViolations.map((violation) => violation.field),
        ["endsAt"],
      );
      const unchanged = (await listBanners(db, true)).find((row) => row.id === banner.id);
      assert.equal(unchanged?.startsAt, null);
      assert.equal(unchanged?.endsAt?.getTime(), end.getTime());
    });
  });
});
