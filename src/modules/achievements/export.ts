import path from "node:path";
import { PassThrough } from "node:stream";
import yazl from "yazl";
import type { Db } from "../../db/db.js";
import type { Download } from "../../storage/files.js";
import type { FileStore } from "../../storage/store.js";
import { listOwnAchievements, PROOFS_FOLDER, type AchievementRow } from "./service.js";

const PAGE_SIZE = 100;

/** A file name made from a title: letters, digits, dashes; never a path. */
const slugOf = (title: string) =>
  title
    .normalize("NFKC")
    .replace(/[^\p{L}\p{N}]+/gu, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 60) || "achievement";

function summaryLine(row: AchievementRow, entry: string | undefined): string {
  return [
    `${row.title}`,
    `  kind: ${row.kind}, points: ${row.points ?? 0}, accepted: ${row.moderatedAt?.toISOString() ?? ""}`,
    `  submitted: ${row.createdAt.toISOString()}`,
    ...(row.description ? [`  ${row.description.replace(/\s*\n\s*/g, " ")}`] : []),
    `  proof: ${entry ?? "(file missing from storage)"}`,
    "",
  ].join("\n");
}

/**
 * The caller's accepted achievements as a ZIP: each proof file, and `summary.txt` describing them.
 * The archive is written as the client reads it: rows come a page at a time and files are streamed
 * from storage by the zip writer one at a time, so neither the archive nor the files are held in memory.
 * @param files - where proofs are stored
 * @param userId - whose (always the caller)
 */
export async function exportAccepted(db: Db, files: FileStore, userId: string): Promise<Download> {
  const zip = new yazl.ZipFile();
  // A file removed between the listing and its turn in the archive makes the zip writer emit an error: it
  // must end this download (the client sees a broken transfer), never go unhandled and end the process.
  zip.on("error", (error: Error) => zip.outputStream.emit("error", error));
  const summary: string[] = [];
  let cursor: string | undefined;
  let count = 0;
  let total = 0;
  do {
    const page = await listOwnAchievements(db, userId, { status: "accepted", limit: PAGE_SIZE, cursor });
    for (const row of page.items) {
      count += 1;
      total += row.points ?? 0;
      // A file lost from storage must not break the archive half-way through the download.
      const present = await files.exists(PROOFS_FOLDER, row.proofFile);
      const entry = `proofs/${String(count).padStart(3, "0")}-${slugOf(row.title)}${path.extname(row.proofFile)}`;
      const proofFile = row.proofFile;
      // Opened only when its turn comes, so one archive holds one file open at a time. Proofs are
      // PDF/PNG/JPEG, compressed already: storing them saves CPU for nothing lost.
      if (present) {
        zip.addReadStreamLazy(entry, { compress: false }, (done) => {
          // yazl wants a stream even with an error; the error alone ends the archive.
          const failed = (error: unknown) => done(error, new PassThrough());
          files
            .read(PROOFS_FOLDER, proofFile)
            .then(
              (stored) => (stored ? done(null, stored.body) : failed(new Error(`The proof ${proofFile} is gone.`))),
              failed,
            );
        });
      }
      summary.push(summaryLine(row, present ? entry : undefined));
    }
    cursor = page.nextCursor || undefined;
  } while (cursor);
  const header = `Accepted achievements: ${count}, points in all: ${total}\nExported: ${new Date().toISOString()}\n\n`;
  zip.addBuffer(Buffer.from(header + summary.join("\n")), "summary.txt");
  zip.end();
  return { body: zip.outputStream, mediaType: "application/zip", fileName: "achievements.zip" };
}
