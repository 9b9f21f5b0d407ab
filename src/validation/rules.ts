import protobuf from "protobufjs";
import { z } from "zod";
import { fullNameOf, jsonNameOf, lowerCamelOf, messageType, realOneofOf } from "../contract/descriptors.js";
import { InvalidArgumentError, type FieldViolation } from "../errors/index.js";
import { violationsOf } from "../errors/zod.js";
import type { MessageCodec } from "../http/messages.js";
import { assertParsable, parseProtoJson, type JsonObject } from "./protojson.js";

/**
 * Business rules of request messages, keyed by field. The shape of a message (which fields, of which
 * types) comes from the contract (protojson.ts); a module's schema adds only what the proto cannot say:
 * lengths, formats, ranges, required fields and cross-field rules. A rule runs on the typed message
 * ts-proto hands to the handler, so a `title` rule sees a string and a `startsAt` rule a Date, and what
 * it returns (trimmed, lowercased) replaces the value. Violations name the field in lowerCamelCase.
 *
 * - A zod schema checks a field's value. A field with implicit presence always has one (its default
 *   when absent, so `z.string().min(1)` also refuses a missing string); a field with explicit presence
 *   (`optional`, a message, a oneof member) is checked only when set.
 * - `required(rule?)` refuses an unset explicit-presence field, or an unset oneof (keyed by the oneof's
 *   name; the violation names its first member, a field the client can send).
 * - `each(rule, { max })` checks a repeated field: its length, then each item.
 * - A plain object of rules checks the fields of a nested message, when it is set.
 */

/** What a field may be held to. */
export type Rule = z.ZodType | RequiredRule | EachRule | NestedRules;

/** The rules of a nested message's fields. */
export interface NestedRules {
  readonly [field: string]: Rule;
}

/** Made by `required`; exported so OpenAPI can describe it. */
export class RequiredRule {
  constructor(
    readonly rule: Rule | undefined,
    readonly message: string,
  ) {}
}

/** Made by `each`; exported so OpenAPI can describe it. */
export class EachRule {
  constructor(
    readonly rule: Rule | undefined,
    readonly max: number | undefined,
  ) {}
}

/**
 * @param rule - what a set value must also meet
 * @param message - the violation's description when unset
 * @returns a rule refusing an unset field (or oneof)
 */
export const required = (rule?: Rule, message = "Required."): Rule => new RequiredRule(rule, message);

/**
 * @param rule - what every item must meet
 * @param options.max - the most items allowed
 * @returns a rule for a repeated field
 */
export const each = (rule?: Rule, options: { max?: number } = {}): Rule => new EachRule(rule, options.max);

/** Reports a cross-field violation: the field to blame (a dotted lowerCamelCase path) and why. */
export type Report = (field: string, description: string) => void;

/** The names a ts-proto oneof union (`oneof=unions-value`) uses for its members. */
type OneofMembers<T> = {
  [K in keyof T]-?: NonNullable<T[K]> extends { $case: infer Case extends string; value: unknown } ? Case : never;
}[keyof T];

/** Rules keyed by the message's fields (lowerCamelCase), its oneof members or its oneofs. */
export type FieldRules<T> = { readonly [K in Extract<keyof T, string> | OneofMembers<T>]?: Rule };

/** A request message as a route declares it: the ts-proto codec and the rules beyond the proto's shape. */
export interface RequestBody<T> {
  readonly message: MessageCodec<T>;
  readonly fields: FieldRules<T>;
  /** Cross-field rules, run once every field rule holds (a method, so any body fits `RequestBody<unknown>`). */
  refine?(message: T, report: Report): void;
}

/**
 * Declares a request message and its business rules.
 * @param message - the generated codec
 * @param fields - rules keyed by field
 * @param refine - cross-field rules, run once every field rule holds
 */
export function requestBody<T>(
  message: MessageCodec<T>,
  fields: FieldRules<T> = {},
  refine?: (message: T, report: Report) => void,
): RequestBody<T> {
  return { message, fields, refine };
}

/** A compiled request body: ProtoJSON in, the typed and checked message out. */
export type RequestParser<T> = (json: JsonObject) => T;

/**
 * Checks a request body's rules against the contract and prepares its parser. Run when the router is
 * built, so a rule that names a field the message lacks stops the boot.
 * @throws Error naming the message and the unknown field
 */
export function compileRequestBody<T>(body: RequestBody<T>): RequestParser<T> {
  const type = messageType(body.message.$type);
  assertParsable(type);
  assertRulesMatch(type, body.fields as NestedRules, fullNameOf(type));
  return (json) => {
    const parsed = parseProtoJson(type, json);
    if (!parsed.ok) throw InvalidArgumentError("Some fields are invalid.", parsed.violations);
    // Safe: the canonical form is exactly what fromJSON converts without guessing.
    const message = body.message.fromJSON(parsed.value);
    const violations: FieldViolation[] = [];
    applyRules(type, message as Record<string, unknown>, body.fields as NestedRules, "", violations);
    if (violations.length === 0 && body.refine) {
      body.refine(message, (field, description) => violations.push({ field, description }));
    }
    if (violations.length > 0) throw InvalidArgumentError("Some fields are invalid.", violations);
    return message;
  };
}

/** Where a rule's key leads: a field, or a whole oneof. */
type Target = { field: protobuf.Field; oneof?: undefined } | { field?: undefined; oneof: protobuf.OneOf };

function targetsOf(type: protobuf.Type): Map<string, Target> {
  const targets = new Map<string, Target>();
  for (const field of type.fieldsArray) targets.set(jsonNameOf(field), { field });
  for (const oneof of type.oneofsArray) {
    if (oneof.fieldsArray.some((field) => realOneofOf(field))) targets.set(lowerCamelOf(oneof.name), { oneof });
  }
  return targets;
}

function assertRulesMatch(type: protobuf.Type, rules: NestedRules, where: string): void {
  const targets = targetsOf(type);
  for (const [key, rule] of Object.entries(rules)) {
    const target = targets.get(key);
    if (!target) {
      throw new Error(`${where}: a rule names "${key}", which ${fullNameOf(type)} does not have.`);
    }
    const nested = innermost(rule);
    if (isNested(nested)) {
      const resolved = target.field?.resolvedType;
      if (!(resolved instanceof protobuf.Type)) {
        throw new Error(`${where}.${key}: nested rules need a message field.`);
      }
      assertRulesMatch(resolved, nested, `${where}.${key}`);
    }
    if (listRule(rule) && !target.field?.repeated) {
      throw new Error(`${where}.${key}: \`each\` needs a repeated field.`);
    }
  }
}

/** Whether a rule checks a list (`each`, under `required` or not). */
const listRule = (rule: Rule | undefined): boolean =>
  rule instanceof EachRule || (rule instanceof RequiredRule && listRule(rule.rule));

/** The rule that finally checks a value, under `required` and `each`. */
function innermost(rule: Rule | undefined): Rule | undefined {
  return rule instanceof RequiredRule || rule instanceof EachRule ? innermost(rule.rule) : rule;
}

/** @returns whether a rule holds the rules of a nested message's fields */
export const isNested = (rule: Rule | undefined): rule is NestedRules =>
  rule !== undefined && !(rule instanceof z.ZodType) && !(rule instanceof RequiredRule) && !(rule instanceof EachRule);

const join = (path: string, key: string | number) => (path ? `${path}.${key}` : String(key));

function applyRules(
  type: protobuf.Type,
  message: Record<string, unknown>,
  rules: NestedRules,
  path: string,
  violations: FieldViolation[],
): void {
  const targets = targetsOf(type);
  for (const [key, rule] of Object.entries(rules)) {
    const target = targets.get(key);
    if (!target) continue;
    if (target.oneof) {
      // An unset oneof is blamed on its first member: a field a client can name in either encoding.
      const [first] = target.oneof.fieldsArray;
      if (message[key] === undefined && first) applyRule(rule, undefined, join(path, jsonNameOf(first)), violations);
      continue;
    }
    const fieldPath = join(path, key);
    const oneof = realOneofOf(target.field);
    if (oneof) {
      const holder = message[lowerCamelOf(oneof.name)] as { $case: string; value: unknown } | undefined;
      const value = holder?.$case === key ? holder.value : undefined;
      const checked = applyRule(rule, value, fieldPath, violations, target.field);
      if (holder && holder.$case === key) holder.value = checked;
      continue;
    }
    message[key] = applyRule(rule, message[key], fieldPath, violations, target.field);
  }
}

function applyRule(
  rule: Rule | undefined,
  value: unknown,
  path: string,
  violations: FieldViolation[],
  field?: protobuf.Field,
): unknown {
  if (rule === undefined) return value;
  if (rule instanceof z.ZodType) {
    if (value === undefined) return value;
    const checked = rule.safeParse(value);
    if (checked.success) return checked.data;
    violations.push(...violationsOf(checked.error, path));
    return value;
  }
  if (rule instanceof RequiredRule) {
    if (value === undefined) {
      violations.push({ field: path, description: rule.message });
      return value;
    }
    return applyRule(rule.rule, value, path, violations, field);
  }
  if (rule instanceof EachRule) {
    const items: unknown[] = Array.isArray(value) ? value : [];
    if (rule.max !== undefined && items.length > rule.max) {
      violations.push({ field: path, description: `At most ${rule.max} items.` });
      return value;
    }
    return items.map((item, index) => applyRule(rule.rule, item, join(path, index), violations, field));
  }
  if (value === undefined) return value;
  const resolved = field?.resolvedType;
  if (resolved instanceof protobuf.Type) {
    applyRules(resolved, value as Record<string, unknown>, rule, path, violations);
  }
  return value;
}
