import { Op, type Transaction } from "sequelize";
import { BannerSeverity, type Banner as BannerMessage } from "../../../generated/shtp/v1/notifications.js";
import { InvalidArgumentError, NotFoundError } from "../../errors/index.js";
import { storedNameOf } from "../../contract/enums.js";
import { Banner, type BannerSeverityName } from "./banner.model.js";

const severities: Record<BannerSeverityName, BannerSeverity> = {
  success: BannerSeverity.SUCCESS,
  info: BannerSeverity.INFO,
  warning: BannerSeverity.WARNING,
  error: BannerSeverity.ERROR,
};

/** @returns our name of a validated proto severity */
export const severityName = (severity: BannerSeverity): BannerSeverityName => storedNameOf(severities, severity);

/** A banner field by field, as the wire shows it. */
export function presentBanner(banner: Banner): BannerMessage {
  return {
    id: banner.id,
    text: banner.text,
    severity: severities[banner.severity],
    active: banner.active,
    startsAt: banner.startsAt ?? undefined,
    endsAt: banner.endsAt ?? undefined,
    createdAt: banner.createdAt,
    updatedAt: banner.updatedAt,
  };
}

/**
 * Banners to show now: active and inside their window. Newest first.
 * @param all - staff view: every banner, whatever its state
 */
export async function listBanners(all: boolean): Promise<Banner[]> {
  const now = new Date();
  return Banner.findAll({
    where: all
      ? {}
      : {
          active: true,
          [Op.and]: [
            { [Op.or]: [{ startsAt: null }, { startsAt: { [Op.lte]: now } }] },
            { [Op.or]: [{ endsAt: null }, { endsAt: { [Op.gt]: now } }] },
          ],
        },
    order: [
      ["createdAt", "DESC"],
      ["id", "DESC"],
    ],
    limit: 100,
  });
}

/** The fields of a new banner. */
export interface NewBanner {
  text: string;
  severity: BannerSeverityName;
  active: boolean;
  startsAt?: Date;
  endsAt?: Date;
}

/** Creates a banner (the schema has checked its window). */
export async function createBanner(input: NewBanner, transaction: Transaction): Promise<Banner> {
  return Banner.create(
    { ...input, text: input.text.trim(), startsAt: input.startsAt ?? null, endsAt: input.endsAt ?? null },
    { transaction },
  );
}

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
 * Updates a banner with presence semantics.
 * @throws AppError not_found, invalid_argument when the resulting window ends before it starts
 */
export async function updateBanner(id: string, changes: BannerChanges, transaction: Transaction): Promise<Banner> {
  const banner = await Banner.findByPk(id, { lock: transaction.LOCK.UPDATE, transaction });
  if (!banner) throw NotFoundError("The banner");
  const startsAt = changes.clearStartsAt ? null : (changes.startsAt ?? banner.startsAt);
  const endsAt = changes.clearEndsAt ? null : (changes.endsAt ?? banner.endsAt);
  if (startsAt && endsAt && startsAt >= endsAt) {
    throw InvalidArgumentError("The banner's window ends before it starts.", [
      { field: "endsAt", description: "Must be after startsAt." },
    ]);
  }
  return banner.update(
    {
      ...(changes.text !== undefined ? { text: changes.text.trim() } : {}),
      ...(changes.severity !== undefined ? { severity: changes.severity } : {}),
      ...(changes.active !== undefined ? { active: changes.active } : {}),
      startsAt,
      endsAt,
    },
    { transaction },
  );
}

/** @throws AppError not_found */
export async function deleteBanner(id: string, transaction: Transaction): Promise<void> {
  const deleted = await Banner.destroy({ where: { id }, transaction });
  if (deleted === 0) throw NotFoundError("The banner");
}
