import type { JudgeStatus } from "../../../generated/shtp/v1/assignments.js";
import { presentStatus } from "../submissions/presenter.js";
import { presentLanguage } from "../tasks/presenter.js";
import type { JudgeStatusView } from "./service.js";

/** @returns the judge's status as admins read it */
export const presentJudgeStatus = (view: JudgeStatusView): JudgeStatus => ({
  submissions: view.queue.byStatus.map((entry) => ({ status: presentStatus(entry.status), count: entry.count })),
  oldestQueuedAt: view.queue.oldestQueuedAt ?? undefined,
  oldestQueuedAgeSeconds: view.queue.oldestQueuedAgeSeconds ?? 0,
  jobsWaiting: view.queue.jobsWaiting,
  jobsActive: view.queue.jobsActive,
  workers: view.workers.map((worker) => ({
    id: worker.id,
    host: worker.host,
    slots: worker.slots,
    runtimes: worker.runtimes.map((runtime) => ({
      language: presentLanguage(runtime.language),
      version: runtime.version,
    })),
    startedAt: worker.startedAt,
    lastHeartbeatAt: worker.lastHeartbeatAt,
  })),
});
