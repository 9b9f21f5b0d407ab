import fs from "node:fs";
import path from "node:path";
import protobuf from "protobufjs";
import { protoDir } from "../config/paths.js";

export { protoDir };

/** A JSON Schema object, as OpenAPI 3.1 embeds it. */
export type JsonSchema = { [key: string]: unknown };

/** @returns every .proto file of the contract, relative to proto/ (`shtp/v1/error.proto`) */
export function listProtoFiles(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(path.join(protoDir, dir), { withFileTypes: true })) {
      const relative = path.posix.join(dir, entry.name);
      if (entry.isDirectory()) walk(relative);
      else if (entry.name.endsWith(".proto")) found.push(relative);
    }
  };
  walk("");
  return found.sort();
}

/**
 * Loads the contract with protobufjs reflection, comments included, so the OpenAPI schemas describe
 * exactly what the .proto files say.
 */
export function loadContract(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) =>
    target.startsWith("google/protobuf/") ? target : path.join(protoDir, target);
  root.loadSync(listProtoFiles(), { keepCase: false, alternateCommentMode: true });
  root.resolveAll();
  return root;
}

const scalarSchemas: Record<string, JsonSchema> = {
  double: { type: "number" },
  float: { type: "number" },
  int32: { type: "integer", format: "int32" },
  sint32: { type: "integer", format: "int32" },
  sfixed32: { type: "integer", format: "int32" },
  uint32: { type: "integer", format: "int32", minimum: 0 },
  fixed32: { type: "integer", format: "int32", minimum: 0 },
  int64: { type: "string", format: "int64", pattern: "^-?[0-9]+$" },
  sint64: { type: "string", format: "int64", pattern: "^-?[0-9]+$" },
  sfixed64: { type: "string", format: "int64", pattern: "^-?[0-9]+$" },
  uint64: { type: "string", format: "int64", pattern: "^[0-9]+$" },
  fixed64: { type: "string", format: "int64", pattern: "^[0-9]+$" },
  bool: { type: "boolean" },
  string: { type: "string" },
  bytes: { type: "string", contentEncoding: "base64" },
};

/** Well-known types have a ProtoJSON form of their own. */
const wellKnownSchemas: Record<string, JsonSchema> = {
  "google.protobuf.Timestamp": { type: "string", format: "date-time" },
  "google.protobuf.Empty": { type: "object", additionalProperties: false },
};

/** Builds OpenAPI component schemas of the ProtoJSON form of messages, following references. */
export class ProtoSchemaBuilder {
  readonly components: Record<string, JsonSchema> = {};

  constructor(private readonly root: protobuf.Root) {}

  /**
   * @param fullName - e.g. `shtp.v1.VersionInfo`
   * @returns a `$ref` to the message's schema, adding it (and what it uses) to `components`
   */
  refTo(fullName: string): JsonSchema {
    const known = wellKnownSchemas[fullName];
    if (known) return known;
    const name = componentName(fullName);
    if (!(name in this.components)) {
      const type = this.root.lookupType(fullName);
      this.components[name] = {};
      this.components[name] = this.messageSchema(type);
    }
    return { $ref: `#/components/schemas/${name}` };
  }

  private messageSchema(type: protobuf.Type): JsonSchema {
    const properties: Record<string, JsonSchema> = {};
    for (const field of type.fieldsArray) properties[field.name] = this.fieldSchema(field);
    const oneofs = type.oneofsArray.filter((oneof) => !oneof.name.startsWith("_"));
    const notes = oneofs.map(
      (oneof) => `At most one of ${oneof.oneof.map((name) => `\`${name}\``).join(", ")} is set.`,
    );
    return {
      type: "object",
      ...(description(type.comment, notes) ? { description: description(type.comment, notes) } : {}),
      properties,
      additionalProperties: false,
      "x-proto-message": type.fullName.replace(/^\./, ""),
    };
  }

  private fieldSchema(field: protobuf.Field): JsonSchema {
    const single = this.valueSchema(field);
    const schema: JsonSchema = field.map
      ? { type: "object", additionalProperties: single }
      : field.repeated
        ? { type: "array", items: single }
        : single;
    return field.comment ? { ...schema, description: field.comment } : schema;
  }

  private valueSchema(field: protobuf.Field): JsonSchema {
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Enum) {
      return { type: "string", enum: Object.keys(resolved.values).filter((name) => resolved.values[name] !== 0) };
    }
    if (resolved instanceof protobuf.Type) return this.refTo(resolved.fullName.replace(/^\./, ""));
    const scalar = scalarSchemas[field.type];
    if (!scalar) throw new Error(`No JSON Schema for proto type ${field.type}`);
    return scalar;
  }
}

/** `shtp.v1.VersionInfo` becomes `VersionInfo`; packages other than ours keep a prefix. */
export const componentName = (fullName: string): string =>
  fullName.startsWith("shtp.v1.") ? fullName.slice("shtp.v1.".length) : fullName.replace(/\./g, "_");

function description(comment: string | null, notes: string[]): string | undefined {
  const text = [comment ?? "", ...notes].filter(Boolean).join("\n\n");
  return text || undefined;
}
