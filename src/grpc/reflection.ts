import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import * as v1 from "../gen/grpc/reflection/v1/reflection.js";
import * as v1alpha from "../gen/grpc/reflection/v1alpha/reflection.js";
import { type DescriptorIndex, indexDescriptorSet, withDependencies } from "./descriptor-index.js";

// v1alpha is the same protocol under another package; its generated types are structurally identical.
type Request = v1.ServerReflectionRequest;
type Response = v1.ServerReflectionResponse;

// Undecodable bytes become a value rather than an exception so the stream can answer them and go on.
type Incoming = { request: Request } | { malformed: string };

type ReflectionMethod =
  | typeof v1.ServerReflectionService.serverReflectionInfo
  | typeof v1alpha.ServerReflectionService.serverReflectionInfo;

/** The buf image written by `npm run gen`; the path resolves from src/ under tsx and from dist/ after the build. */
export function loadImage(): Uint8Array {
  return readFileSync(new URL("../gen/image.binpb", import.meta.url));
}

/**
 * Registers grpc.reflection.v1 and v1alpha ServerReflection, answering from the files of `image` exactly as buf
 * wrote them, so clients get real file names and imports and can resolve the request and response types.
 * `services` are the fully-qualified services the server serves; list_services answers exactly these.
 */
export function addReflection(server: grpc.Server, image: Uint8Array, services: string[]): void {
  const index = indexDescriptorSet(image);
  // A listed service missing from the image could be listed but never described: refuse it at startup.
  const undescribed = services.find((name) => !index.files.has(index.symbols.get(name) ?? ""));
  if (undescribed !== undefined) throw new Error(`service ${undescribed} is not in the descriptor image`);
  const listed = [...new Set(services)].map((name) => ({ name }));

  for (const method of [
    v1.ServerReflectionService.serverReflectionInfo,
    v1alpha.ServerReflectionService.serverReflectionInfo,
  ]) {
    server.addService(tolerantDefinition(method), {
      serverReflectionInfo: (call: grpc.ServerDuplexStream<Incoming, Response>) => serve(call, index, listed),
    });
  }
}

function tolerantDefinition(method: ReflectionMethod): grpc.ServiceDefinition {
  return {
    serverReflectionInfo: {
      ...method,
      requestDeserialize: (bytes: Buffer): Incoming => {
        try {
          return { request: method.requestDeserialize(bytes) };
        } catch (error) {
          return { malformed: error instanceof Error ? error.message : String(error) };
        }
      },
    },
  };
}

function serve(
  call: grpc.ServerDuplexStream<Incoming, Response>,
  index: DescriptorIndex,
  listed: { name: string }[],
): void {
  call.on("data", (incoming: Incoming) => {
    if (call.cancelled) return;
    if (!("request" in incoming)) {
      call.write(errorAnswer(undefined, grpc.status.INVALID_ARGUMENT, `malformed request: ${incoming.malformed}`));
      return;
    }
    let response: Response;
    try {
      response = answer(incoming.request, index, listed);
    } catch (error) {
      // One bad answer must not take the process down with it: a throw in a stream listener is uncaught.
      const message = error instanceof Error ? error.message : String(error);
      response = errorAnswer(incoming.request, grpc.status.INTERNAL, message);
    }
    call.write(response);
  });
  // The protocol is one answer per request; the server closes only once the client has said it is done.
  call.on("end", () => call.end());
}

function answer(request: Request, index: DescriptorIndex, listed: { name: string }[]): Response {
  const files = (fileName: string): Response => ({
    validHost: request.host,
    originalRequest: request,
    fileDescriptorResponse: { fileDescriptorProto: withDependencies(index, fileName) },
  });
  const notFound = (what: string) => errorAnswer(request, grpc.status.NOT_FOUND, `${what} not found`);

  if (request.fileByFilename !== undefined) {
    const name = request.fileByFilename;
    return index.files.has(name) ? files(name) : notFound(`file "${name}"`);
  }
  if (request.fileContainingSymbol !== undefined) {
    const symbol = request.fileContainingSymbol;
    const file = index.symbols.get(symbol);
    return file === undefined ? notFound(`symbol "${symbol}"`) : files(file);
  }
  if (request.fileContainingExtension !== undefined) {
    const { containingType, extensionNumber } = request.fileContainingExtension;
    const file = index.extensions.get(containingType)?.get(extensionNumber);
    return file === undefined ? notFound(`extension ${extensionNumber} of "${containingType}"`) : files(file);
  }
  if (request.allExtensionNumbersOfType !== undefined) {
    const type = request.allExtensionNumbersOfType;
    if (!index.messages.has(type)) return notFound(`message type "${type}"`);
    const numbers = [...(index.extensions.get(type)?.keys() ?? [])].sort((a, b) => a - b);
    return {
      validHost: request.host,
      originalRequest: request,
      allExtensionNumbersResponse: { baseTypeName: type, extensionNumber: numbers },
    };
  }
  if (request.listServices !== undefined) {
    return { validHost: request.host, originalRequest: request, listServicesResponse: { service: listed } };
  }
  return errorAnswer(request, grpc.status.INVALID_ARGUMENT, "request sets none of the known message_request cases");
}

function errorAnswer(request: Request | undefined, code: grpc.status, message: string): Response {
  return {
    validHost: request?.host ?? "",
    originalRequest: request,
    errorResponse: { errorCode: code, errorMessage: message },
  };
}
