import { z } from "zod";
import { RejectSubmissionRequest, SubmitSolutionRequest } from "../../../generated/shtp/v1/assignments.js";
import { chosenEnum, requiredText, uuidField } from "../../validation/fields.js";
import { pageQuery } from "../../validation/paging.js";
import { requestBody } from "../../validation/rules.js";
import { dayField } from "../challenges/schema.js";

/** The contract's limit on a source, in bytes (UTF-8); over it is 413, in both ways of sending. */
export const SOURCE_MAX_BYTES = 64 * 1024;

/** `source` is checked by the service: its size answers 413, not 400, and it may come as a file part. */
export const SubmitBody = requestBody(SubmitSolutionRequest, {
  taskId: uuidField("task"),
  contestId: uuidField("contest"),
  challengeDay: dayField,
  language: chosenEnum(),
});

export const RejectBody = requestBody(RejectSubmissionRequest, { reason: requiredText(1000) });

export const SubmissionListQuerySchema = z.strictObject({
  ...pageQuery,
  taskId: uuidField("task").optional(),
  contestId: uuidField("contest").optional(),
  userId: uuidField("user").optional(),
});
export type SubmissionListQuery = z.infer<typeof SubmissionListQuerySchema>;

export const SubmissionIdParamsSchema = z.strictObject({ id: uuidField("submission") });
