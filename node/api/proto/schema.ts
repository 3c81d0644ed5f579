// A small reflection model of the loaded .proto files: for every message its
// fields (name, JSON name, number, type, repeated, oneof membership) and for
// every enum its values. The JSON gateway codec walks this model.
//
// proto-loader keeps, for each type, the encoded FileDescriptorProtos of the
// files it loaded. Those are read here with a tiny protobuf wire reader
// rather than taken from proto-loader's decoded `type` objects, because the
// decoded form fills in defaults and so cannot tell "member of oneof #0" from
// "not in a oneof"; on the wire, oneof_index is present only for members.
import type { PackageDefinition } from '@grpc/proto-loader';

export type ScalarType =
  | 'double' | 'float' | 'int64' | 'uint64' | 'int32' | 'fixed64' | 'fixed32' | 'bool' | 'string'
  | 'bytes' | 'uint32' | 'sfixed32' | 'sfixed64' | 'sint32' | 'sint64';

export interface FieldSchema {
  /** The name in the .proto file (what the loader and the gateway use). */
  name: string;
  /** protobuf's lowerCamelCase JSON name (accepted on input). */
  jsonName: string;
  number: number;
  repeated: boolean;
  kind: 'scalar' | 'enum' | 'message';
  /** Set when kind is 'scalar'. */
  scalar?: ScalarType;
  /** Fully qualified type name without the leading dot, when kind is 'enum' or 'message'. */
  typeName?: string;
  /** Name of the oneof this field belongs to, if any. */
  oneof?: string;
}

export interface MessageSchema {
  fullName: string;
  fields: FieldSchema[];
  oneofs: string[];
  /** Lookup by proto name and by JSON name. */
  byName: Map<string, FieldSchema>;
}

export interface EnumSchema {
  fullName: string;
  byName: Map<string, number>;
  byNumber: Map<number, string>;
}

export interface Schema {
  messages: Map<string, MessageSchema>;
  enums: Map<string, EnumSchema>;
}

const SCALARS: Record<number, ScalarType> = {
  1: 'double', 2: 'float', 3: 'int64', 4: 'uint64', 5: 'int32', 6: 'fixed64', 7: 'fixed32', 8: 'bool',
  9: 'string', 12: 'bytes', 13: 'uint32', 15: 'sfixed32', 16: 'sfixed64', 17: 'sint32', 18: 'sint64',
};
const TYPE_MESSAGE = 11;
const TYPE_ENUM = 14;
const LABEL_REPEATED = 3;

/** One decoded wire field: varints as numbers, length-delimited as byte slices. */
type WireField = { no: number; varint?: number; bytes?: Uint8Array };

/** Splits an encoded message into its fields (only the wire types descriptors use). */
function readFields(buf: Uint8Array): WireField[] {
  const out: WireField[] = [];
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let mul = 1;
    for (;;) {
      if (pos >= buf.length) throw new Error('truncated descriptor');
      const b = buf[pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
  };
  while (pos < buf.length) {
    const key = varint();
    const no = Math.floor(key / 8);
    const wt = key % 8;
    if (wt === 0) out.push({ no, varint: varint() });
    else if (wt === 2) {
      const len = varint();
      out.push({ no, bytes: buf.subarray(pos, pos + len) });
      pos += len;
    } else if (wt === 1) pos += 8;
    else if (wt === 5) pos += 4;
    else throw new Error(`unexpected wire type ${wt} in descriptor`);
  }
  return out;
}

const utf8 = new TextDecoder();
const str = (f: WireField): string => utf8.decode(f.bytes);

/** protobuf's default JSON name: drop underscores, capitalise the letter after each. */
export function lowerCamelName(name: string): string {
  let out = '';
  let upper = false;
  for (const ch of name) {
    if (ch === '_') upper = true;
    else {
      out += upper ? ch.toUpperCase() : ch;
      upper = false;
    }
  }
  return out;
}

function readEnum(buf: Uint8Array, scope: string, schema: Schema): void {
  let name = '';
  const values: Array<[string, number]> = [];
  for (const f of readFields(buf)) {
    if (f.no === 1) name = str(f);
    else if (f.no === 2 && f.bytes) {
      let vName = '';
      let vNum = 0;
      for (const v of readFields(f.bytes)) {
        if (v.no === 1) vName = str(v);
        else if (v.no === 2) vNum = v.varint! > 0x7fffffff ? v.varint! - 2 ** 64 : v.varint!;
      }
      values.push([vName, vNum]);
    }
  }
  const fullName = scope ? `${scope}.${name}` : name;
  const e: EnumSchema = { fullName, byName: new Map(), byNumber: new Map() };
  for (const [n, v] of values) {
    e.byName.set(n, v);
    if (!e.byNumber.has(v)) e.byNumber.set(v, n);
  }
  schema.enums.set(fullName, e);
}

function readMessage(buf: Uint8Array, scope: string, schema: Schema): void {
  const parts = readFields(buf);
  const name = str(parts.find((f) => f.no === 1)!);
  const fullName = scope ? `${scope}.${name}` : name;
  const oneofs = parts.filter((f) => f.no === 8).map((f) => str(readFields(f.bytes!).find((x) => x.no === 1)!));
  const fields: FieldSchema[] = [];
  for (const f of parts) {
    if (f.no === 2) {
      let fname = '';
      let number = 0;
      let label = 1;
      let type = 0;
      let typeName = '';
      let oneofIndex: number | undefined;
      let jsonName = '';
      for (const x of readFields(f.bytes!)) {
        if (x.no === 1) fname = str(x);
        else if (x.no === 3) number = x.varint!;
        else if (x.no === 4) label = x.varint!;
        else if (x.no === 5) type = x.varint!;
        else if (x.no === 6) typeName = str(x).replace(/^\./, '');
        else if (x.no === 9) oneofIndex = x.varint!;
        else if (x.no === 10) jsonName = str(x);
      }
      const field: FieldSchema = {
        name: fname,
        jsonName: jsonName || lowerCamelName(fname),
        number,
        repeated: label === LABEL_REPEATED,
        kind: type === TYPE_MESSAGE ? 'message' : type === TYPE_ENUM ? 'enum' : 'scalar',
      };
      if (field.kind === 'scalar') {
        const scalar = SCALARS[type];
        if (!scalar) throw new Error(`${fullName}.${fname}: unsupported field type ${type}`);
        field.scalar = scalar;
      } else field.typeName = typeName;
      if (oneofIndex !== undefined) field.oneof = oneofs[oneofIndex];
      fields.push(field);
    } else if (f.no === 3) readMessage(f.bytes!, fullName, schema);
    else if (f.no === 4) readEnum(f.bytes!, fullName, schema);
  }
  const byName = new Map<string, FieldSchema>();
  for (const field of fields) {
    byName.set(field.name, field);
    if (!byName.has(field.jsonName)) byName.set(field.jsonName, field);
  }
  schema.messages.set(fullName, { fullName, fields, oneofs, byName });
}

/** Builds the reflection model of every file proto-loader loaded into this package definition. */
export function buildSchema(packageDefinition: PackageDefinition): Schema {
  const schema: Schema = { messages: new Map(), enums: new Map() };
  const seen = new Set<string>();
  for (const def of Object.values(packageDefinition)) {
    if (!('fileDescriptorProtos' in def)) continue;
    for (const file of def.fileDescriptorProtos as Buffer[]) {
      const parts = readFields(file);
      const fileName = str(parts.find((f) => f.no === 1)!);
      if (seen.has(fileName)) continue;
      seen.add(fileName);
      const pkg = parts.find((f) => f.no === 2);
      const scope = pkg ? str(pkg) : '';
      for (const f of parts) {
        if (f.no === 4) readMessage(f.bytes!, scope, schema);
        else if (f.no === 5) readEnum(f.bytes!, scope, schema);
      }
    }
  }
  resolveTypeNames(schema);
  return schema;
}

/**
 * Descriptors may name field types relative to the enclosing scope
 * ("CompareResult", "mvccpb.KeyValue"); this rewrites them as fully qualified
 * names, searching from the innermost scope outwards as protoc does.
 */
function resolveTypeNames(schema: Schema): void {
  for (const msg of schema.messages.values()) {
    for (const field of msg.fields) {
      if (field.kind === 'scalar' || !field.typeName) continue;
      const table: Map<string, unknown> = field.kind === 'message' ? schema.messages : schema.enums;
      if (table.has(field.typeName)) continue;
      let scope = msg.fullName;
      let resolved: string | undefined;
      for (;;) {
        const candidate = scope ? `${scope}.${field.typeName}` : field.typeName;
        if (table.has(candidate)) {
          resolved = candidate;
          break;
        }
        if (!scope) break;
        const dot = scope.lastIndexOf('.');
        scope = dot < 0 ? '' : scope.slice(0, dot);
      }
      if (!resolved) throw new Error(`${msg.fullName}.${field.name}: cannot resolve type ${field.typeName}`);
      field.typeName = resolved;
    }
  }
}
