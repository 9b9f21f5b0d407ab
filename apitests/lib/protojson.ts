import path from "node:path";
import protobuf from "protobufjs";

/**
 * An independent ProtoJSON ⇄ binary codec over protobufjs reflection, loaded from proto/ at run time.
 * The runner never uses the ts-proto code the server runs, so a bug there cannot hide itself here.
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const TIMESTAMP = ".google.protobuf.Timestamp";

export class ProtoCodec {
  private constructor(private readonly root: protobuf.Root) {}

  /**
   * Loads every .proto file under a directory.
   * @param protoDir - the proto/ folder
   * @param files - the files relative to it
   */
  static load(protoDir: string, files: string[]): ProtoCodec {
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) =>
      target.startsWith("google/protobuf/") ? target : path.join(protoDir, target);
    root.loadSync(files, { keepCase: false });
    root.resolveAll();
    return new ProtoCodec(root);
  }

  private type(name: string): protobuf.Type {
    return this.root.lookupType(name);
  }

  /**
   * Encodes the ProtoJSON form of a message.
   * @param typeName - e.g. `shtp.v1.LoginRequest`
   * @param json - the ProtoJSON object
   */
  encode(typeName: string, json: Json): Uint8Array {
    const type = this.type(typeName);
    const plain = this.fromProtoJson(type, json);
    const problem = type.verify(plain);
    if (problem) throw new Error(`${typeName}: ${problem}`);
    return type.encode(type.fromObject(plain)).finish();
  }

  /**
   * Decodes binary into canonical ProtoJSON: lowerCamelCase keys, defaults omitted, enum names,
   * 64-bit integers as strings, timestamps as RFC 3339 UTC.
   * @param typeName - the message expected
   * @param bytes - the body
   */
  decode(typeName: string, bytes: Uint8Array): Json {
    const type = this.type(typeName);
    const message = type.decode(bytes);
    const object = type.toObject(message, {
      longs: String,
      enums: String,
      bytes: String,
      defaults: false,
      arrays: false,
      oneofs: false,
    });
    return this.toProtoJson(type, object);
  }

  /**
   * Brings a server's JSON answer to the same canonical form, so the two encodings can be compared.
   * @param typeName - the message expected
   * @param json - the parsed JSON body
   */
  canonicalJson(typeName: string, json: Json): Json {
    return this.decode(typeName, this.encode(typeName, json));
  }

  private fromProtoJson(type: protobuf.Type, json: Json): Record<string, unknown> {
    if (json === null || typeof json !== "object" || Array.isArray(json))
      throw new Error(`${type.fullName}: expected an object`);
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(json)) {
      const field = type.fields[key];
      if (!field) throw new Error(`${type.fullName}: unknown field ${key}`);
      if (value === null) continue;
      const convert = (item: Json): unknown => this.valueFromProtoJson(field, item);
      out[key] = field.repeated && Array.isArray(value) ? value.map(convert) : convert(value);
    }
    return out;
  }

  private valueFromProtoJson(field: protobuf.Field, value: Json): unknown {
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type) {
      if (resolved.fullName === TIMESTAMP) {
        if (typeof value !== "string") throw new Error(`${field.fullName}: a timestamp must be a string`);
        const millis = Date.parse(value);
        if (!Number.isFinite(millis)) throw new Error(`${field.fullName}: not a timestamp: ${value}`);
        const fraction = /\.(\d+)/.exec(value)?.[1] ?? "";
        return { seconds: Math.floor(millis / 1000), nanos: Number(fraction.padEnd(9, "0").slice(0, 9)) };
      }
      return this.fromProtoJson(resolved, value);
    }
    // ProtoJSON writes enums by name; protobufjs verifies and encodes their numbers.
    if (resolved instanceof protobuf.Enum && typeof value === "string") {
      const number = Object.hasOwn(resolved.values, value) ? resolved.values[value] : undefined;
      if (number === undefined) throw new Error(`${field.fullName}: ${value} is not a ${resolved.fullName} value`);
      return number;
    }
    return value;
  }

  private toProtoJson(type: protobuf.Type, object: Record<string, unknown>): Json {
    const out: { [key: string]: Json } = {};
    for (const field of type.fieldsArray) {
      const value = object[field.name];
      if (value === undefined || value === null) continue;
      const convert = (item: unknown): Json => this.valueToProtoJson(field, item);
      if (field.repeated) {
        const items = (value as unknown[]).map(convert);
        if (items.length > 0) out[field.name] = items;
      } else {
        out[field.name] = convert(value);
      }
    }
    return out;
  }

  private valueToProtoJson(field: protobuf.Field, value: unknown): Json {
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type) {
      const message = value as Record<string, unknown>;
      if (resolved.fullName === TIMESTAMP) {
        const seconds = Number(message.seconds ?? 0);
        const nanos = Number(message.nanos ?? 0);
        return new Date(seconds * 1000 + Math.floor(nanos / 1e6)).toISOString();
      }
      return this.toProtoJson(resolved, message);
    }
    if (typeof value === "number" || typeof value === "string" || typeof value === "boolean") return value;
    throw new Error(`${field.fullName}: unexpected value`);
  }
}
