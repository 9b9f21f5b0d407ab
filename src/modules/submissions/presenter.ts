import {
  JudgingStage,
  SubmissionStatus,
  Verdict,
  type Submission,
  type SubmissionProgress,
  type SubmissionSource,
} from "../../../generated/shtp/v1/assignments.js";
import { presentLanguage } from "../tasks/presenter.js";
import type { LanguageName } from "../tasks/service.js";
import { presentUserSummary } from "../users/presenter.js";
import type { Progress, StatusName, SubmissionRow, VerdictName } from "./service.js";

const protoStatuses: Record<StatusName, SubmissionStatus> = {
  queued: SubmissionStatus.QUEUED,
  judging: SubmissionStatus.JUDGING,
  finished: SubmissionStatus.FINISHED,
  failed: SubmissionStatus.FAILED,
};

const protoVerdicts: Record<VerdictName, Verdict> = {
  accepted: Verdict.ACCEPTED,
  wrong_answer: Verdict.WRONG_ANSWER,
  time_limit: Verdict.TIME_LIMIT,
  memory_limit: Verdict.MEMORY_LIMIT,
  output_limit: Verdict.OUTPUT_LIMIT,
  runtime_error: Verdict.RUNTIME_ERROR,
  compile_error: Verdict.COMPILE_ERROR,
};

/** @returns the proto value of a stored status */
export const presentStatus = (status: StatusName): SubmissionStatus => protoStatuses[status];

/** @returns the proto value of a stored verdict; none is UNSPECIFIED (left out on the wire) */
export const presentVerdict = (verdict: VerdictName | null): Verdict =>
  verdict === null ? Verdict.UNSPECIFIED : protoVerdicts[verdict];

/**
 * A submission as its owner and staff see it: per-test results carry ordinal, verdict, time and
 * memory only, because nothing else about a test is ever stored with a submission.
 * @param row - from a read or a list (lists carry no per-test results)
 */
export function presentSubmission(row: SubmissionRow): Submission {
  return {
    id: row.id,
    user: presentUserSummary({
      id: row.userId,
      nickName: row.nickName,
      firstName: row.firstName,
      lastName: row.lastName,
      avatarFile: row.avatarFile,
    }),
    taskId: row.taskId,
    taskTitle: row.taskTitle,
    contestId: row.contestId ?? "",
    challengeDay: row.challengeDay ?? "",
    language: presentLanguage(row.language),
    status: presentStatus(row.status),
    verdict: presentVerdict(row.verdict),
    failedTest: row.failedTest ?? 0,
    passedTests: row.passedTests,
    totalTests: row.totalTests,
    maxTimeMs: row.maxTimeMs,
    maxMemoryKb: row.maxMemoryKb,
    compileLog: row.compileLog,
    tests: row.tests.map((test) => ({
      ordinal: test.ordinal,
      verdict: presentVerdict(test.verdict),
      timeMs: test.timeMs,
      memoryKb: test.memoryKb,
    })),
    attempts: row.attempts,
    testsVersion: row.testsVersion ?? 0,
    createdAt: row.createdAt,
    finishedAt: row.finishedAt ?? undefined,
    rejection:
      row.rejectedAt && row.rejectionReason
        ? { byId: row.rejectedBy ?? "", at: row.rejectedAt, reason: row.rejectionReason }
        : undefined,
  };
}

/** @returns a source as its owner and staff read it */
export const presentSource = (id: string, source: { language: LanguageName; source: string }): SubmissionSource => ({
  submissionId: id,
  language: presentLanguage(source.language),
  source: source.source,
});

const protoStages: Record<Progress["stage"], JudgingStage> = {
  compiling: JudgingStage.COMPILING,
  testing: JudgingStage.TESTING,
};

/** @returns a progress event as the submitter's live stream carries it */
export const presentProgress = (progress: Progress): SubmissionProgress => ({
  submissionId: progress.submissionId,
  stage: protoStages[progress.stage],
  test: progress.test,
  totalTests: progress.totalTests,
});
