/**
 * The transport ceiling: a server with the real server's grpc-js settings and decoder (the real one decodes on its
 * write worker) whose handler decodes each batch and acknowledges it without storing anything. Logs the same
 * "listening" line as main.ts.
 */
import { Server, ServerCredentials, type ServerUnaryCall, type sendUnaryData } from "@grpc/grpc-js";
import { readConfig } from "../src/config.js";
import {
  IngestServiceService,
  type RecordFetchesRequest,
  type RecordFetchesResponse,
} from "../src/gen/webmasterid/crawldiag/v1/ingest.js";
import { decodeRecordFetches } from "../src/grpc/ingest-codec.js";
import { serverOptions } from "../src/grpc/server.js";

const config = readConfig();
const server = new Server(serverOptions(config.maxBatch));
const definition = {
  recordFetches: { ...IngestServiceService.recordFetches, requestDeserialize: decodeRecordFetches },
};
server.addService(definition, {
  recordFetches: (
    call: ServerUnaryCall<RecordFetchesRequest, RecordFetchesResponse>,
    callback: sendUnaryData<RecordFetchesResponse>,
  ) => {
    const n = call.request.records.length;
    callback(null, { acceptedCount: n, rejectedCount: 0, rejections: [], replayed: false });
  },
});
server.bindAsync(config.address, ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stderr.write(`${JSON.stringify({ msg: "listening", port })}\n`);
});
process.once("SIGTERM", () => server.forceShutdown());
