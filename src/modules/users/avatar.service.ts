import type { Actor } from "../../auth/roles.js";
import { inTransaction, type Db } from "../../db/db.js";
import type { Services } from "../../services.js";
import type { UploadedFile } from "../../storage/files.js";
import { loadOwnAccount } from "./profile.service.js";
import { updateUser } from "./queries.js";
import type { User } from "./user.model.js";

/** The storage folder of avatars, the one public kind of stored file. */
export const AVATARS_FOLDER = "avatars";

/**
 * Replaces the caller's avatar. The new file is stored and recorded first, in a transaction of the
 * service's own; the old one is removed only after that has committed, and the new one is removed if
 * recording it fails.
 * @param db - the database, outside any transaction
 * @param services - the file store
 * @param file - the received image, already checked by content
 */
export async function replaceAvatar(
  db: Db,
  services: Pick<Services, "files">,
  actor: Actor,
  file: UploadedFile,
): Promise<User> {
  const stored = await services.files.put(AVATARS_FOLDER, file);
  let previous: string | null = null;
  let user: User;
  try {
    user = await inTransaction(db, async (tx) => {
      const row = await loadOwnAccount(tx, actor);
      previous = row.avatarFile;
      return updateUser(tx, row, { avatarFile: stored });
    });
  } catch (error) {
    await services.files.remove(AVATARS_FOLDER, stored);
    throw error;
  }
  await services.files.remove(AVATARS_FOLDER, previous);
  return user;
}
