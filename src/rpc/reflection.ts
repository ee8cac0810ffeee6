// gRPC server reflection, v1 and v1alpha, from the descriptors compiled into the generated code: `buf curl` and
// `grpcurl` need no schema. Answers for every service the server exposes, resolves symbols down to methods and
// fields, and returns each file with its transitive dependencies.
import { create, createRegistry, toBinary, type DescFile, type Registry } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ServiceImpl } from "@connectrpc/connect";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";

type Request = v1.ServerReflectionRequest | v1alpha.ServerReflectionRequest;


/** Reflection over `files` (and their imports), listing `serviceNames`. */
export function reflectionServices(files: readonly DescFile[], serviceNames: readonly string[]) {
  const byName = new Map<string, DescFile>();
  const addFile = (f: DescFile) => {
    if (byName.has(f.proto.name)) return;
    byName.set(f.proto.name, f);
    f.dependencies.forEach(addFile);
  };
  files.forEach(addFile);
  const index: Index = { registry: createRegistry(...byName.values()), files: byName };
  const answer = (req: Request) => respond(index, serviceNames, req);
  const v1Impl: ServiceImpl<typeof v1.ServerReflection> = {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) yield create(v1.ServerReflectionResponseSchema, answer(req) as never);
    },
  };
  const v1alphaImpl: ServiceImpl<typeof v1alpha.ServerReflection> = {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) yield create(v1alpha.ServerReflectionResponseSchema, answer(req) as never);
    },
  };
  return { v1: v1Impl, v1alpha: v1alphaImpl };
}

interface Index {
  registry: Registry;
  files: Map<string, DescFile>;
}

function respond({ registry, files: byName }: Index, serviceNames: readonly string[], req: Request) {
  const base = { validHost: req.host, originalRequest: req };
  const files = (file: DescFile | undefined, what: string) =>
    file
      ? { ...base, messageResponse: { case: "fileDescriptorResponse", value: { fileDescriptorProto: withDependencies(file) } } }
      : error(base, Code.NotFound, `${what} not found`);
  const request = req.messageRequest;
  switch (request.case) {
    case "listServices":
      return {
        ...base,
        messageResponse: { case: "listServicesResponse", value: { service: serviceNames.map((name) => ({ name })) } },
      };
    case "fileByFilename":
      return files(byName.get(request.value), `file "${request.value}"`);
    case "fileContainingSymbol":
      return files(fileOfSymbol(registry, request.value), `symbol "${request.value}"`);
    case "fileContainingExtension":
      return files(
        registry.getExtensionFor(registry.getMessage(request.value.containingType)!, request.value.extensionNumber)?.file,
        `extension ${request.value.extensionNumber} of "${request.value.containingType}"`,
      );
    case "allExtensionNumbersOfType": {
      const message = registry.getMessage(request.value);
      if (!message) return error(base, Code.NotFound, `type "${request.value}" not found`);
      const numbers = [...registry].flatMap((d) => (d.kind === "extension" && d.extendee.typeName === message.typeName ? [d.number] : []));
      return {
        ...base,
        messageResponse: { case: "allExtensionNumbersResponse", value: { baseTypeName: message.typeName, extensionNumber: numbers } },
      };
    }
    default:
      return error(base, Code.Unimplemented, "unsupported reflection request");
  }
}

/** The file defining a message, enum, service, method, field, enum value or extension. */
function fileOfSymbol(registry: Registry, symbol: string): DescFile | undefined {
  const desc = registry.get(symbol);
  if (desc) return desc.file;
  // Methods, fields and enum values are not top-level: look up their parent.
  const parent = registry.get(symbol.slice(0, symbol.lastIndexOf(".")));
  return parent?.file;
}

function withDependencies(file: DescFile): Uint8Array[] {
  const seen = new Set<string>();
  const out: Uint8Array[] = [];
  const visit = (f: DescFile) => {
    if (seen.has(f.proto.name)) return;
    seen.add(f.proto.name);
    out.push(toBinary(FileDescriptorProtoSchema, f.proto));
    f.dependencies.forEach(visit);
  };
  visit(file);
  return out;
}

function error(base: object, errorCode: number, errorMessage: string) {
  return { ...base, messageResponse: { case: "errorResponse", value: { errorCode, errorMessage } } };
}
