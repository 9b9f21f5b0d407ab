import type { Module } from "../module.js";
import { proofNamesInUse, proofNamesOf } from "./queries.js";
import { achievementRoutes } from "./routes.js";
import { PROOFS_FOLDER } from "./service.js";

/** Achievements with their proofs, moderation and the export. */
export const achievementsModule: Module = {
  name: "achievements",
  routes: achievementRoutes,
  storedFolders: [{ folder: PROOFS_FOLDER, namesInUse: proofNamesInUse }],
  async onUserDeleted(db, userId, services) {
    // The rows go with the user (ON DELETE CASCADE); their files only once that has committed.
    const proofs = await proofNamesOf(db, userId);
    db.transaction.afterCommit(async () => {
      for (const proof of proofs) await services.files.remove(PROOFS_FOLDER, proof);
    });
  },
};
