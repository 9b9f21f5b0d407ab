import type { Db, TransactionDb } from "../../db/db.js";
import { InvalidArgumentError, NotFoundError } from "../../errors/index.js";
import type { Banner, BannerSeverityName } from "./banner.model.js";
import { bannersNewestFirst, deleteBannerRow, findBannerForUpdate, insertBanner, updateBannerRow } from "./queries.js";

/** The most banners a list shows. */
const LIST_LIMIT = 100;

/**
 * Banners newest first (at most 100).
 * @param all - staff view: every banner, whatever its state; otherwise those to show now (active and
 *   inside their window)
 */
export const listBanners = (db: Db, all: boolean): Promise<Banner[]> =>
  bannersNewestFirst(db, { showingAt: all ? undefined : new Date(), limit: LIST_LIMIT });

/** The fields of a new banner. */
export interface NewBanner {
  text: string;
  severity: BannerSeverityName;
  active: boolean;
  startsAt?: Date;
  endsAt?: Date;
}

/** Creates a banner (the schema has checked its window). */
export const createBanner = (db: TransactionDb, input: NewBanner): Promise<Banner> =>
  insertBanner(db, {
    text: input.text,
    severity: input.severity,
    active: input.active,
    startsAt: input.startsAt ?? null,
    endsAt: input.endsAt ?? null,
  });

/** Changes to a banner; absent fields are left as they are, `clear…` removes a window end. */
export interface BannerChanges {
  text?: string;
  severity?: BannerSeverityName;
  active?: boolean;
  startsAt?: Date;
  endsAt?: Date;
  clearStartsAt: boolean;
  clearEndsAt: boolean;
}

/**
 * Updates a banner with presence semantics. The row stays locked until commit, so two updates cannot
 * each check the window against the other's old values.
 * @throws AppError not_found, invalid_argument when the resulting window ends before it starts
 */
export async function updateBanner(db: TransactionDb, id: string, changes: BannerChanges): Promise<Banner> {
  const banner = await findBannerForUpdate(db, id);
  if (!banner) throw NotFoundError("The banner");
  const startsAt = changes.clearStartsAt ? null : (changes.startsAt ?? banner.startsAt);
  const endsAt = changes.clearEndsAt ? null : (changes.endsAt ?? banner.endsAt);
  if (startsAt && endsAt && startsAt >= endsAt) {
    throw InvalidArgumentError("The banner's window ends before it starts.", [
      { field: "endsAt", description: "Must be after startsAt." },
    ]);
  }
  return updateBannerRow(db, banner, {
    ...(changes.text !== undefined ? { text: changes.text } : {}),
    ...(changes.severity !== undefined ? { severity: changes.severity } : {}),
    ...(changes.active !== undefined ? { active: changes.active } : {}),
    startsAt,
    endsAt,
  });
}

/** @throws AppError not_found */
export async function deleteBanner(db: TransactionDb, id: string): Promise<void> {
  if (!(await deleteBannerRow(db, id))) throw NotFoundError("The banner");
}
