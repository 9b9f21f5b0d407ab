import fs from "node:fs";
import path from "node:path";
import protobuf from "protobufjs";
import { protoDir } from "../config/paths.js";

export { protoDir };

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

let loaded: protobuf.Root | undefined;

/**
 * The contract as protobufjs reflection, loaded once per process with the original field names (so
 * both ProtoJSON spellings can be derived) and the comments (so OpenAPI says what the .proto files say).
 * Never mutate it.
 */
export function contract(): protobuf.Root {
  if (loaded) return loaded;
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) =>
    target.startsWith("google/protobuf/") ? target : path.join(protoDir, target);
  root.loadSync(listProtoFiles(), { keepCase: true, alternateCommentMode: true });
  root.resolveAll();
  loaded = root;
  return root;
}

/**
 * @param fullName - e.g. `shtp.v1.CreateUserRequest`, as a ts-proto codec's `$type`
 * @returns the message's descriptor
 * @throws Error when the contract has no such message
 */
export const messageType = (fullName: string): protobuf.Type => contract().lookupType(fullName);

/**
 * The lowerCamelCase of a proto name, as protoc derives a JSON name and ts-proto a property name: an
 * underscore is dropped and the next letter capitalised.
 */
export const lowerCamelOf = (protoName: string): string =>
  protoName.replace(/_([a-z0-9])/g, (_match, letter: string) => letter.toUpperCase());

/** The ProtoJSON name of a field: its `json_name`, or the lowerCamelCase of its proto name. */
export function jsonNameOf(field: protobuf.Field): string {
  const explicit: unknown = field.options?.json_name;
  if (typeof explicit === "string") return explicit;
  return lowerCamelOf(field.name);
}

/** @returns the fully-qualified name without protobufjs's leading dot */
export const fullNameOf = (type: protobuf.ReflectionObject): string => type.fullName.replace(/^\./, "");

/**
 * @returns the real oneof a field belongs to, not the synthetic one protobufjs makes for proto3 `optional`
 */
export function realOneofOf(field: protobuf.Field): protobuf.OneOf | undefined {
  return field.partOf && !field.options?.proto3_optional ? field.partOf : undefined;
}

/**
 * Whether a field has explicit presence: proto3 `optional`, a message, or a oneof member. Such a field
 * is either set or not; the others (implicit presence) always hold a value, their default when absent.
 */
export function hasExplicitPresence(field: protobuf.Field): boolean {
  if (field.repeated || field.map) return false;
  return Boolean(field.partOf) || field.resolvedType instanceof protobuf.Type;
}
