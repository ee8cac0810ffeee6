// The gRPC port's request timeout. grpc-js runs a handler only once the request is complete (for a unary call: its
// message and the end of the client's half) and has no timer for one that never completes, so a connection holding
// such a request was held until its maximum age (issue 25: 4,096 of them refused everyone). This interceptor ends a
// call whose request is not complete within the request timeout, as the main port resets its stream.
import * as grpc from "@grpc/grpc-js";
import type { ConnectionObserver } from "./connection-limits.js";

export function requestTimeout(timeoutMs: number, observer: ConnectionObserver): grpc.ServerInterceptor {
  const details = `the server cancelled the call: its request was not complete within ${timeoutMs} ms (--request-timeout-ms)`;
  return (_method, call) => {
    let timer: NodeJS.Timeout | undefined;
    const stop = () => {
      clearTimeout(timer);
      timer = undefined;
    };
    const intercepting: grpc.ServerInterceptingCall = new grpc.ServerInterceptingCall(call, {
      start(next) {
        timer = setTimeout(() => {
          timer = undefined;
          observer.timedOut("request", call.getPeer());
          intercepting.sendStatus({ code: grpc.status.CANCELLED, details, metadata: new grpc.Metadata() });
        }, timeoutMs).unref();
        next({
          onReceiveHalfClose(next) {
            stop();
            next();
          },
          onCancel: stop,
        });
      },
      sendStatus(status, next) {
        stop();
        next(status);
      },
    });
    return intercepting;
  };
}
