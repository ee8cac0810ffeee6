// AIP-158 page tokens: opaque, URL-safe, bound to the request's filter, signed so a tampered or foreign token is
// refused instead of misused. They carry the last key of the page (keyset pagination, never OFFSET).
import { createHmac, timingSafeEqual } from "node:crypto";
import { invalidArgument } from "../errors.js";

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;
const MAC_BYTES = 16;

interface TokenBody {
  /** The request's filter, so that a token cannot be used with another one. */
  f: string;
  /** The last key of the previous page. */
  a: string;
}

/** The paging fields every List request has (AIP-158). */
export interface PageRequest {
  pageSize: number;
  pageToken: string;
}

export interface Page<T> {
  items: T[];
  nextPageToken: string;
}

export class PageTokens {
  constructor(private readonly key: Uint8Array) {}

  /**
   * One page of a keyset-paginated listing, the one way every List method pages: `read` is asked for one more item
   * than the page holds (after the key the token carries), to know whether another page follows. `filter` is the
   * request's filters: a token only continues a listing with the same ones.
   */
  async page<T>(
    request: PageRequest,
    filter: string,
    read: (afterKey: string | undefined, limit: number) => Promise<T[]>,
    keyOf: (item: T) => string,
  ): Promise<Page<T>> {
    const limit = pageSize(request.pageSize);
    const rows = await read(this.decode(request.pageToken, filter), limit + 1);
    const items = rows.slice(0, limit);
    return { items, nextPageToken: rows.length > limit ? this.encode(filter, keyOf(items.at(-1)!)) : "" };
  }

  encode(filter: string, afterKey: string): string {
    const body = Buffer.from(JSON.stringify({ f: filter, a: afterKey } satisfies TokenBody));
    return Buffer.concat([body, this.mac(body)]).toString("base64url");
  }

  /** The key to continue after, or undefined for the first page; INVALID_ARGUMENT for a bad token or changed filter. */
  decode(token: string, filter: string): string | undefined {
    if (token === "") return undefined;
    const raw = Buffer.from(token, "base64url");
    const body = raw.subarray(0, raw.length - MAC_BYTES);
    const mac = raw.subarray(raw.length - MAC_BYTES);
    if (raw.length <= MAC_BYTES || raw.toString("base64url") !== token || !timingSafeEqual(mac, this.mac(body))) {
      throw invalidArgument([{ field: "page_token", description: "is not a page token this service issued" }]);
    }
    const parsed = JSON.parse(body.toString()) as TokenBody;
    if (parsed.f !== filter) {
      throw invalidArgument([
        { field: "page_token", description: "was issued for a request with other filters; keep them the same across pages" },
      ]);
    }
    return parsed.a;
  }

  private mac(body: Uint8Array): Buffer {
    return createHmac("sha256", this.key).update(body).digest().subarray(0, MAC_BYTES);
  }
}

/** The page size to use; INVALID_ARGUMENT when negative. */
export function pageSize(requested: number): number {
  if (requested < 0) throw invalidArgument([{ field: "page_size", description: "must not be negative" }]);
  return requested === 0 ? DEFAULT_PAGE_SIZE : Math.min(requested, MAX_PAGE_SIZE);
}
