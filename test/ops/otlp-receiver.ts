// An OTLP/HTTP traces receiver for tests: a plain HTTP server on a random loopback port that accepts the JSON export
// (POST /v1/traces, as @opentelemetry/exporter-trace-otlp-http sends it) and keeps every span it decodes.
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedAttribute {
  key: string;
  value: { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
}

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, string | number | boolean>;
  links: { traceId: string; spanId: string; attributes: Record<string, string | number | boolean> }[];
  status?: { code?: number };
  /** The resource's attributes (service.name ...). */
  resource: Record<string, string | number | boolean>;
}

export interface OtlpReceiver {
  /** The base endpoint, as --otlp-endpoint takes it. */
  endpoint: string;
  spans: ReceivedSpan[];
  /** Every request body received, as text. */
  bodies: string[];
  /** Resolves with the spans that satisfy `predicate` once there is at least one (polls what has arrived). */
  until(predicate: (span: ReceivedSpan) => boolean, limitMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

interface ExportRequest {
  resourceSpans?: {
    resource?: { attributes?: ReceivedAttribute[] };
    scopeSpans?: { spans?: (Omit<ReceivedSpan, "attributes" | "links" | "resource"> & {
      attributes?: ReceivedAttribute[];
      links?: { traceId: string; spanId: string; attributes?: ReceivedAttribute[] }[];
    })[] }[];
  }[];
}

function attributesOf(list: ReceivedAttribute[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of list ?? []) {
    out[key] = value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : undefined) ?? value.boolValue ?? value.doubleValue ?? "";
  }
  return out;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const bodies: string[] = [];
  let arrived: () => void = () => undefined;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      if (req.method !== "POST" || req.url !== "/v1/traces" || !String(req.headers["content-type"]).startsWith("application/json")) {
        res.writeHead(404).end();
        return;
      }
      bodies.push(text);
      const body = JSON.parse(text) as ExportRequest;
      for (const rs of body.resourceSpans ?? []) {
        const resource = attributesOf(rs.resource?.attributes);
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            spans.push({
              ...s,
              attributes: attributesOf(s.attributes),
              links: (s.links ?? []).map((l) => ({ traceId: l.traceId, spanId: l.spanId, attributes: attributesOf(l.attributes) })),
              resource,
            });
          }
        }
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
      arrived();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    bodies,
    // Woken by each export as it arrives; one timer only for the deadline, never a poll.
    until(predicate, limitMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = spans.filter(predicate);
          if (found.length === 0) return false;
          clearTimeout(deadline);
          arrived = () => undefined;
          resolve(found);
          return true;
        };
        const deadline = setTimeout(() => {
          arrived = () => undefined;
          reject(new Error(`no such span arrived within ${limitMs} ms (${spans.length} spans received)`));
        }, limitMs);
        arrived = () => void check();
        check();
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
