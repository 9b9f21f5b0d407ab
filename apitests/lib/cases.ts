import fs from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { z } from "zod";

/** Who sends a case: the runner seeds one account per actor through the API itself. */
export const actors = ["anonymous", "admin", "teacher", "student", "otherStudent"] as const;
export type ActorName = (typeof actors)[number];
export const encodings = ["json", "protobuf"] as const;
export type EncodingName = (typeof encodings)[number];

const jsonValue: z.ZodType<unknown> = z.unknown();

const caseSchema = z.strictObject({
  /** What the case shows, stated as "who does what → status". */
  name: z.string().min(1),
  /** The OpenAPI operationId the case exercises. */
  op: z.string().min(1),
  actor: z.enum(actors).default("anonymous"),
  /** The path below /api/v1 with `{{variables}}` (captured earlier, seeded, or `run`). */
  path: z.string().startsWith("/"),
  query: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  /** Extra request headers (they win over the runner's own, such as Accept). */
  headers: z.record(z.string(), z.string()).optional(),
  /** The request message in its JSON form; the protobuf run encodes the same value. */
  body: jsonValue.optional(),
  /** Send this raw text as the body instead, with this Content-Type (malformed-body cases). */
  rawBody: z.strictObject({ contentType: z.string(), text: z.string() }).optional(),
  /** A multipart upload: the file part from apitests/fixtures/; `substitute` fills `{{variables}}` in a text file. */
  upload: z
    .strictObject({
      field: z.string(),
      file: z.string(),
      contentType: z.string().default("application/octet-stream"),
      substitute: z.boolean().default(false),
      /** The part that carries `body` beside the file: JSON in the JSON run, protobuf bytes in the protobuf run. */
      messagePart: z.string().optional(),
    })
    .optional(),
  expect: z.strictObject({
    status: z.number().int().min(100).max(599),
    /** The shtp.v1.Error code, for error statuses (a plain-JSON operation's `error`, as RFC 6749 §5.2 names it). */
    code: z.string().optional(),
    /** For downloads: the Content-Type of the file (a download's bytes are checked by its size only). */
    contentType: z.string().optional(),
    /** A partial match of the answer in JSON form: listed keys must match; `$absent` and `$any` are markers. */
    body: jsonValue.optional(),
  }),
  /** Variables to capture from the answer: name → dotted path (`items.0.id`). */
  capture: z.record(z.string(), z.string()).optional(),
  /** Restrict to some encodings (default both). */
  encodings: z.array(z.enum(encodings)).optional(),
});

export type ApiCase = z.infer<typeof caseSchema> & { file: string };

const fileSchema = z.strictObject({ resource: z.string(), cases: z.array(caseSchema).min(1) });

/**
 * Loads and checks every case file, in file-name order (cases inside a file run in order).
 * @param dir - apitests/cases
 */
export function loadCases(dir: string): ApiCase[] {
  return fs
    .readdirSync(dir)
    .filter((file) => /\.ya?ml$/.test(file))
    .sort()
    .flatMap((file) => {
      const parsed = fileSchema.safeParse(parse(fs.readFileSync(path.join(dir, file), "utf8")));
      if (!parsed.success) {
        throw new Error(
          `${file}: ${parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ")}`,
        );
      }
      return parsed.data.cases.map((apiCase) => ({ ...apiCase, file }));
    });
}
