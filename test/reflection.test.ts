import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { fromBinary } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as v1 from "../src/gen/grpc/reflection/v1/reflection.js";
import * as v1alpha from "../src/gen/grpc/reflection/v1alpha/reflection.js";
import { HttpProtocol } from "../src/gen/webmasterid/crawldiag/v1/fetch.js";
import { addReflection, loadImage } from "../src/grpc/reflection.js";
import { call } from "./support/client.js";
import { startTestServer, type TestServer } from "./support/server.js";

const run = promisify(execFile);
const buf = fileURLToPath(new URL("../node_modules/.bin/buf", import.meta.url));

const DIAGNOSIS = "webmasterid/crawldiag/v1/diagnosis.proto";
const FETCH = "webmasterid/crawldiag/v1/fetch.proto";
const INGEST = "webmasterid/crawldiag/v1/ingest.proto";
const TIMESTAMP = "google/protobuf/timestamp.proto";
// What the real server serves besides reflection itself.
const SERVICES = [
  "webmasterid.crawldiag.v1.IngestService",
  "webmasterid.crawldiag.v1.DiagnosisService",
  "webmasterid.crawldiag.v1.StatusService",
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
];

type Request = v1.ServerReflectionRequest;
type Response = v1.ServerReflectionResponse;

const image = loadImage();
// Sliced here independently of the server's index, so the byte comparison checks its slicing too.
const imageFiles = new Map<string, Uint8Array>();
{
  const reader = new BinaryReader(image);
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    if (fieldNo === 1 && wireType === WireType.LengthDelimited) {
      const raw = reader.bytes();
      imageFiles.set(fromBinary(FileDescriptorProtoSchema, raw).name, raw);
    } else {
      reader.skip(wireType, fieldNo);
    }
  }
}

let server: TestServer;
let address = "";

test.before(async () => {
  server = await startTestServer();
  address = `127.0.0.1:${server.port}`;
  const ingested = await call(server.ingest.recordFetches, server.ingest, {
    requestId: "reflection-test",
    records: [
      {
        fetchId: "f1",
        crawler: "reflection-bot",
        url: "https://api.example.com/page",
        statusCode: 421,
        fetchedAt: new Date(),
        protocol: HttpProtocol.HTTP_PROTOCOL_HTTP2,
        connection: undefined,
        retryOf: "",
        serverSoftware: "",
      },
    ],
  });
  assert.is(ingested.acceptedCount, 1);
});

test.after(async () => {
  await server.close();
});

/** Sends every request on one stream, half-closes it, and collects the answers until the server ends it. */
function exchange(client: v1.ServerReflectionClient, requests: Request[]): Promise<Response[]> {
  return new Promise((resolve, reject) => {
    const call = client.serverReflectionInfo();
    const answers: Response[] = [];
    call.on("data", (answer: Response) => answers.push(answer));
    call.on("error", reject);
    call.on("status", (status: grpc.StatusObject) => {
      if (status.code === grpc.status.OK) resolve(answers);
    });
    for (const request of requests) call.write(request);
    call.end();
  });
}

function fileNames(answer: Response | undefined): string[] {
  const files = answer?.fileDescriptorResponse?.fileDescriptorProto ?? [];
  return files.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);
}

function assertFilesFromImage(answer: Response | undefined): void {
  for (const bytes of answer?.fileDescriptorResponse?.fileDescriptorProto ?? []) {
    const name = fromBinary(FileDescriptorProtoSchema, bytes).name;
    const original = imageFiles.get(name);
    assert.ok(original, `${name} is in the image`);
    assert.ok(Buffer.from(original).equals(bytes), `${name} is served byte for byte as in the image`);
  }
}

const versions = [
  { version: "v1", Client: v1.ServerReflectionClient },
  { version: "v1alpha", Client: v1alpha.ServerReflectionClient },
] as const;

for (const { version, Client } of versions) {
  const withClient = async <T>(use: (client: v1.ServerReflectionClient) => Promise<T>): Promise<T> => {
    const client = new Client(address, grpc.credentials.createInsecure());
    try {
      return await use(client);
    } finally {
      client.close();
    }
  };

  test(`${version} list_services answers exactly the services the server serves`, async () => {
    const [answer] = await withClient((client) => exchange(client, [{ host: "", listServices: "*" }]));
    const names = answer?.listServicesResponse?.service.map((service) => service.name) ?? [];
    assert.equal(names.sort(), [...SERVICES].sort());
  });

  test(`${version} file_containing_symbol returns the defining file first, then its imports, as in the image`, async () => {
    const [answer] = await withClient((client) =>
      exchange(client, [{ host: "", fileContainingSymbol: "webmasterid.crawldiag.v1.DiagnosisService" }]),
    );
    assert.equal(fileNames(answer), [DIAGNOSIS, TIMESTAMP, FETCH]);
    assertFilesFromImage(answer);
  });

  test(`${version} file_by_filename returns the file and its transitive imports, each once`, async () => {
    const [answer] = await withClient((client) => exchange(client, [{ host: "", fileByFilename: INGEST }]));
    assert.equal(fileNames(answer), [INGEST, FETCH, TIMESTAMP]);
    assertFilesFromImage(answer);
  });

  test(`${version} an unknown symbol gets a NOT_FOUND error_response naming it`, async () => {
    const [answer] = await withClient((client) =>
      exchange(client, [{ host: "", fileContainingSymbol: "webmasterid.crawldiag.v1.NoSuchThing" }]),
    );
    assert.is(answer?.errorResponse?.errorCode, grpc.status.NOT_FOUND);
    assert.match(answer?.errorResponse?.errorMessage ?? "", "webmasterid.crawldiag.v1.NoSuchThing");
    assert.is(answer?.fileDescriptorResponse, undefined);
  });

  test(`${version} several requests on one stream are answered in order, echoing host and request`, async () => {
    const requests: Request[] = [
      { host: "crawldiag.test", fileContainingSymbol: "webmasterid.crawldiag.v1.DiagnosisService.GetHostStats" },
      { host: "crawldiag.test", fileContainingSymbol: "grpc.health.v1.HealthCheckResponse.ServingStatus" },
      { host: "crawldiag.test", fileByFilename: "no/such/file.proto" },
      { host: "crawldiag.test", allExtensionNumbersOfType: "webmasterid.crawldiag.v1.FetchRecord" },
      {
        host: "crawldiag.test",
        fileContainingExtension: { containingType: "webmasterid.crawldiag.v1.FetchRecord", extensionNumber: 100 },
      },
      { host: "crawldiag.test", listServices: "" },
    ];
    const answers = await withClient((client) => exchange(client, requests));
    assert.is(answers.length, requests.length);
    for (const answer of answers) assert.is(answer.validHost, "crawldiag.test");
    assert.is(answers[0]?.originalRequest?.fileContainingSymbol, requests[0]?.fileContainingSymbol);
    assert.is(answers[2]?.originalRequest?.fileByFilename, "no/such/file.proto");
    assert.equal(fileNames(answers[0]), [DIAGNOSIS, TIMESTAMP, FETCH]);
    assert.equal(fileNames(answers[1]), ["grpc/health/v1/health.proto"]);
    assert.is(answers[2]?.errorResponse?.errorCode, grpc.status.NOT_FOUND);
    assert.match(answers[2]?.errorResponse?.errorMessage ?? "", "no/such/file.proto");
    assert.equal(answers[3]?.allExtensionNumbersResponse, {
      baseTypeName: "webmasterid.crawldiag.v1.FetchRecord",
      extensionNumber: [],
    });
    assert.is(answers[4]?.errorResponse?.errorCode, grpc.status.NOT_FOUND);
    assert.is(answers[5]?.listServicesResponse?.service.length, SERVICES.length);
  });
}

test("a malformed request gets an INVALID_ARGUMENT error_response and the stream goes on", async () => {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  try {
    const answers = await new Promise<Response[]>((resolve, reject) => {
      const call = client.makeBidiStreamRequest(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        (bytes: Buffer) => bytes,
        (bytes: Buffer) => v1.ServerReflectionResponse.decode(bytes),
      );
      const answers: Response[] = [];
      call.on("data", (answer: Response) => answers.push(answer));
      call.on("error", reject);
      call.on("status", (status: grpc.StatusObject) => {
        if (status.code === grpc.status.OK) resolve(answers);
      });
      // file_by_filename claiming 5 bytes but carrying 1: undecodable.
      call.write(Buffer.from([0x1a, 0x05, 0x61]));
      // Decodable but names no query at all.
      call.write(Buffer.from(v1.ServerReflectionRequest.encode({ host: "h" }).finish()));
      call.write(Buffer.from(v1.ServerReflectionRequest.encode({ host: "", listServices: "*" }).finish()));
      call.end();
    });
    assert.is(answers.length, 3);
    assert.is(answers[0]?.errorResponse?.errorCode, grpc.status.INVALID_ARGUMENT);
    assert.is(answers[1]?.errorResponse?.errorCode, grpc.status.INVALID_ARGUMENT);
    assert.is(answers[1]?.validHost, "h");
    assert.equal(answers[2]?.listServicesResponse?.service.length, SERVICES.length);
  } finally {
    client.close();
  }
});

test("addReflection refuses to list a service the image cannot describe", () => {
  assert.throws(
    () => addReflection(new grpc.Server(), image, ["webmasterid.crawldiag.v1.NoSuchService"]),
    /NoSuchService/,
  );
});

test("buf curl lists the services through reflection", async () => {
  const { stdout } = await run(
    buf,
    ["curl", "--protocol", "grpc", "--http2-prior-knowledge", "--list-services", `http://${address}`],
    { timeout: 60_000 },
  );
  assert.equal(stdout.trim().split("\n").sort(), [...SERVICES].sort());
});

test("buf curl calls GetHostStats knowing the schema only through reflection", async () => {
  const { stdout } = await run(
    buf,
    [
      "curl",
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      `http://${address}/webmasterid.crawldiag.v1.DiagnosisService/GetHostStats`,
      "-d",
      '{"host":"api.example.com"}',
    ],
    { timeout: 60_000 },
  );
  // buf curl prints proto3 JSON, so int64 counts come as strings and enums by name.
  const stats = JSON.parse(stdout) as Record<string, unknown>;
  assert.is(stats.host, "api.example.com");
  assert.is(stats.fetchCount, "1");
  assert.is(stats.misdirectedCount, "1");
  assert.equal(stats.statusCounts, [{ statusCode: 421, count: "1" }]);
  assert.equal(stats.protocolCounts, [{ protocol: "HTTP_PROTOCOL_HTTP2", count: "1" }]);
});

test.run();
