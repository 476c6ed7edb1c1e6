import { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";
import { type Client, Metadata } from "@grpc/grpc-js";

/** grpc.health.v1 status names, by enum number. */
const STATUS = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"];

/** Calls grpc.health.v1.Health/Check on any client's channel; resolves with the status name. */
export function healthCheck(client: Client, service: string): Promise<string> {
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(
      "/grpc.health.v1.Health/Check",
      (req: string) => Buffer.from(new BinaryWriter().uint32(10).string(req).finish()),
      (buf: Buffer) => {
        const r = new BinaryReader(buf);
        let s = 0;
        while (r.pos < r.len) {
          const [field, wire] = r.tag();
          if (field === 1) s = r.int32();
          else r.skip(wire);
        }
        return STATUS[s] ?? String(s);
      },
      service,
      new Metadata(),
      { deadline: Date.now() + 10_000 },
      (err, res) => (err || res === undefined ? reject(err) : resolve(res)),
    ),
  );
}
