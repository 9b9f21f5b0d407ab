import { z } from "zod";
import {
  CreateTaskRequest,
  type Language,
  UpdateTaskRequest,
  type TaskTestInput,
} from "../../../generated/shtp/v1/assignments.js";
import { chosenEnum, requiredText, uuidField } from "../../validation/fields.js";
import { pageQuery } from "../../validation/paging.js";
import { each, requestBody, type Report } from "../../validation/rules.js";

const MiB = 1024 * 1024;
/** The contract's limits on tests: per field, per task, and how many. */
export const TEST_FIELD_MAX_BYTES = 8 * MiB;
export const TASK_TESTS_MAX_BYTES = 64 * MiB;
export const TASK_TESTS_MAX = 100;
/**
 * The largest task request: its tests at their limit plus room for the rest (JSON escaping of the
 * tests counts too, so the largest test sets travel best as protobuf).
 */
export const TASK_BODY_MAX_BYTES = TASK_TESTS_MAX_BYTES + 8 * MiB;

const bytesOf = (text: string) => Buffer.byteLength(text, "utf8");

const title = requiredText(200);
const statement = z.string().max(100_000);
const timeLimitMs = z.number().int().min(100).max(10_000);
const memoryLimitMb = z.number().int().min(16).max(1024);
const testField = z.string().refine((text) => bytesOf(text) <= TEST_FIELD_MAX_BYTES, "At most 8 MiB.");
const tests = each({ input: testField, output: testField }, { max: TASK_TESTS_MAX });
const languages = each(chosenEnum(), { max: 2 });

/** Cross-field rules of a language list: at least one, each once. */
function checkLanguages(values: readonly Language[], field: string, report: Report): void {
  if (values.length === 0) report(field, "At least one language.");
  else if (new Set(values).size !== values.length) report(field, "Each language once.");
}

/** The 64 MiB of a whole task's tests. */
function checkTestsTotal(values: readonly TaskTestInput[], field: string, report: Report): void {
  const total = values.reduce((sum, test) => sum + bytesOf(test.input) + bytesOf(test.output), 0);
  if (total > TASK_TESTS_MAX_BYTES) report(field, "At most 64 MiB of tests in all.");
}

export const TaskCreateBody = requestBody(
  CreateTaskRequest,
  { title, statement, timeLimitMs, memoryLimitMb, languages, tests },
  (task, report) => {
    checkLanguages(task.languages, "languages", report);
    checkTestsTotal(task.tests, "tests", report);
  },
);

export const TaskUpdateBody = requestBody(
  UpdateTaskRequest,
  {
    title,
    statement,
    timeLimitMs,
    memoryLimitMb,
    languages: { items: languages },
    checker: chosenEnum(),
    tests: { items: tests },
  },
  (task, report) => {
    if (task.languages) checkLanguages(task.languages.items, "languages.items", report);
    if (task.tests) checkTestsTotal(task.tests.items, "tests.items", report);
  },
);

export const TaskListQuerySchema = z.strictObject({ ...pageQuery, query: z.string().trim().max(200).optional() });
export type TaskListQuery = z.infer<typeof TaskListQuerySchema>;

export const TaskIdParamsSchema = z.strictObject({ id: uuidField("task") });
