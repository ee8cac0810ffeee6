// A loopback TCP proxy the edge tests put between a mirror and the server: `cut()` drops every connection (a network
// failure mid-stream), `refuse()` turns new ones away (an outage), `target()` points it at another server (a restart
// on a new port, another replica).
import { createServer, connect, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

export interface TcpProxy {
  url: string;
  target(url: string): void;
  cut(): void;
  refuse(refusing: boolean): void;
  close(): Promise<void>;
}

export async function tcpProxy(targetUrl: string): Promise<TcpProxy> {
  let target = new URL(targetUrl);
  let refusing = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (refusing) return client.destroy();
    const upstream = connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => (client.destroy(), upstream.destroy()));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    target: (url) => (target = new URL(url)),
    cut: () => {
      for (const socket of sockets) socket.destroy();
    },
    refuse: (value) => (refusing = value),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
