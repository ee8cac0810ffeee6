// The framework's own floor: a bare @grpc/grpc-js server answering grpc.health.v1.Health/Check with a canned
// response and nothing else. The benchmark measures it in the same run, so our no-op can be read against it. Plain
// JavaScript, run by node without a loader, as our server is (bench/built-server.ts).
import * as grpc from "@grpc/grpc-js";

const SERVING = Buffer.from([0x08, 0x01]);
const identity = (b) => b;
const server = new grpc.Server();
server.addService(
  {
    check: {
      path: "/grpc.health.v1.Health/Check",
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  },
  { check: (_call, callback) => callback(null, SERVING) },
);
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  console.log(`baseline listening on ${port}`);
});
process.once("SIGTERM", () => server.forceShutdown());
