import { fromBinary } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import {
  type DescriptorProto,
  type EnumDescriptorProto,
  type FieldDescriptorProto,
  FileDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";

/** Lookup tables over a FileDescriptorSet whose files are kept as their original bytes. */
export interface DescriptorIndex {
  /** File name -> the FileDescriptorProto exactly as it appears in the set. */
  readonly files: ReadonlyMap<string, Buffer>;
  /** File name -> names of the files it imports. */
  readonly dependencies: ReadonlyMap<string, readonly string[]>;
  /** Fully-qualified symbol (no leading dot) -> name of the file defining it. */
  readonly symbols: ReadonlyMap<string, string>;
  /** Fully-qualified message names, the only valid subjects of extension queries. */
  readonly messages: ReadonlySet<string>;
  /** Extended message -> extension number -> name of the file declaring the extension. */
  readonly extensions: ReadonlyMap<string, ReadonlyMap<number, string>>;
}

const fileField = 1;

/**
 * Indexes a FileDescriptorSet (a buf image is wire-compatible with one). Each file is sliced out of the set
 * without re-encoding: a decode/encode round trip could reorder fields or drop the unknown ones.
 */
export function indexDescriptorSet(set: Uint8Array): DescriptorIndex {
  const files = new Map<string, Buffer>();
  const dependencies = new Map<string, readonly string[]>();
  const symbols = new Map<string, string>();
  const messages = new Set<string>();
  const extensions = new Map<string, Map<number, string>>();

  const addExtensions = (scope: string, fields: readonly FieldDescriptorProto[], file: string) => {
    for (const field of fields) {
      symbols.set(join(scope, field.name), file);
      const extendee = field.extendee.replace(/^\./, "");
      let numbers = extensions.get(extendee);
      if (numbers === undefined) {
        numbers = new Map();
        extensions.set(extendee, numbers);
      }
      numbers.set(field.number, file);
    }
  };
  const addEnums = (scope: string, enums: readonly EnumDescriptorProto[], file: string) => {
    for (const enumType of enums) {
      const name = join(scope, enumType.name);
      symbols.set(name, file);
      // Enum values are scoped as siblings of their enum, as in protobuf name resolution.
      for (const value of enumType.value) symbols.set(join(scope, value.name), file);
    }
  };
  const addMessages = (scope: string, types: readonly DescriptorProto[], file: string) => {
    for (const type of types) {
      const name = join(scope, type.name);
      symbols.set(name, file);
      messages.add(name);
      for (const field of type.field) symbols.set(join(name, field.name), file);
      for (const oneof of type.oneofDecl) symbols.set(join(name, oneof.name), file);
      addMessages(name, type.nestedType, file);
      addEnums(name, type.enumType, file);
      addExtensions(name, type.extension, file);
    }
  };

  const reader = new BinaryReader(set);
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    if (fieldNo !== fileField || wireType !== WireType.LengthDelimited) {
      reader.skip(wireType, fieldNo);
      continue;
    }
    const raw = reader.bytes();
    const file = fromBinary(FileDescriptorProtoSchema, raw);
    if (files.has(file.name)) throw new Error(`descriptor set holds ${file.name} twice`);
    files.set(file.name, Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength));
    dependencies.set(file.name, file.dependency);
    addMessages(file.package, file.messageType, file.name);
    addEnums(file.package, file.enumType, file.name);
    addExtensions(file.package, file.extension, file.name);
    for (const service of file.service) {
      const name = join(file.package, service.name);
      symbols.set(name, file.name);
      for (const method of service.method) symbols.set(join(name, method.name), file.name);
    }
  }

  // A set built without its imports would let clients list services they can never resolve: fail at startup.
  for (const [name, deps] of dependencies) {
    const missing = deps.find((dep) => !files.has(dep));
    if (missing !== undefined) throw new Error(`descriptor set lacks ${missing}, imported by ${name}`);
  }
  return { files, dependencies, symbols, messages, extensions };
}

/** The file followed by every file it imports, directly or not, each once. */
export function withDependencies(index: DescriptorIndex, fileName: string): Buffer[] {
  const seen = new Set<string>();
  const out: Buffer[] = [];
  const visit = (name: string) => {
    const bytes = index.files.get(name);
    if (seen.has(name) || bytes === undefined) return;
    seen.add(name);
    out.push(bytes);
    for (const dep of index.dependencies.get(name) ?? []) visit(dep);
  };
  visit(fileName);
  return out;
}

function join(scope: string, name: string): string {
  return scope === "" ? name : `${scope}.${name}`;
}
