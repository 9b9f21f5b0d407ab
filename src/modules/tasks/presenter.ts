import { Checker, Language, type Task, type TaskTest } from "../../../generated/shtp/v1/assignments.js";
import { storedNameOf } from "../../contract/enums.js";
import type { CheckerName, LanguageName, TaskTestRow, TaskWithTests } from "./queries.js";

const protoLanguages: Record<LanguageName, Language> = { python: Language.PYTHON, cpp: Language.CPP };
const protoCheckers: Record<CheckerName, Checker> = { lines: Checker.LINES, tokens: Checker.TOKENS };

/** @returns the proto value of a stored language */
export const presentLanguage = (language: LanguageName): Language => protoLanguages[language];

/** @returns the stored name of a validated proto language */
export const languageFromProto = (language: Language): LanguageName => storedNameOf(protoLanguages, language);

/** @returns the stored name of a proto checker; UNSPECIFIED (unset) means LINES */
export const checkerFromProto = (checker: Checker): CheckerName =>
  checker === Checker.UNSPECIFIED ? "lines" : storedNameOf(protoCheckers, checker);

const presentTest = (test: TaskTestRow): TaskTest => ({
  ordinal: test.ordinal,
  input: test.input,
  output: test.output,
  demo: test.demo,
});

/**
 * A task with the tests its reader was given: the service loads all of them for staff, the demo
 * ones for anyone else, none for lists, so this never decides what is hidden.
 * @param task - a loaded task
 */
export function presentTask(task: TaskWithTests): Task {
  return {
    id: task.id,
    title: task.title,
    statement: task.statement,
    timeLimitMs: task.timeLimitMs,
    memoryLimitMb: task.memoryLimitMb,
    languages: task.languages.map(presentLanguage),
    checker: protoCheckers[task.checker],
    tests: task.tests.map(presentTest),
    testCount: task.testCount,
    testsVersion: task.testsVersion,
    authorId: task.authorId ?? "",
    createdAt: task.createdAt,
    updatedAt: task.updatedAt,
  };
}
