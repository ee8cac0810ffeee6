// AIP-158 page tokens: opaque, URL-safe, bound to the request's filter. They carry the last key of the page (keyset
// pagination, never OFFSET), encrypted and authenticated (AES-256-GCM): a tampered or foreign token is refused instead
// of misused, and a caller cannot read the internal ids or paths a token holds.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { invalidArgument } from "../service-error.js";

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;
const IV_BYTES = 12;
const TAG_BYTES = 16;

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

/** Tokens remembered per (filter, position); the memo is emptied when it holds this many. */
const REMEMBERED_TOKENS = 4096;

export class PageTokens {
  private readonly key: Buffer;
  /**
   * The token issued for each (filter, position): sealing one costs a random IV and an AES-GCM pass, and the same
   * page (the first page of a listing above all) is asked for again and again. Reissuing a token tells its holder
   * nothing new: the same filter and position give it, and a different plaintext never meets a reused IV.
   */
  private readonly issued = new Map<string, string>();

  /** `secret` is the page-token key kept in the database; the cipher's key is derived from it. */
  constructor(secret: Uint8Array) {
    this.key = Buffer.from(hkdfSync("sha256", secret, new Uint8Array(0), "policy.v1 page token aes-256-gcm", 32));
  }

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
    const memo = `${filter}\u0000${afterKey}`;
    let token = this.issued.get(memo);
    if (token === undefined) {
      if (this.issued.size >= REMEMBERED_TOKENS) this.issued.clear();
      token = this.seal(filter, afterKey);
      this.issued.set(memo, token);
    }
    return token;
  }

  private seal(filter: string, afterKey: string): string {
    const body = Buffer.from(JSON.stringify({ f: filter, a: afterKey } satisfies TokenBody));
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    const sealed = Buffer.concat([cipher.update(body), cipher.final()]);
    return Buffer.concat([iv, sealed, cipher.getAuthTag()]).toString("base64url");
  }

  /** The key to continue after, or undefined for the first page; INVALID_ARGUMENT for a bad token or changed filter. */
  decode(token: string, filter: string): string | undefined {
    if (token === "") return undefined;
    const parsed = this.open(token);
    if (!parsed) throw invalidArgument([{ field: "page_token", description: "is not a page token this service issued" }]);
    if (parsed.f !== filter) {
      throw invalidArgument([
        { field: "page_token", description: "was issued for a request with other filters; keep them the same across pages" },
      ]);
    }
    return parsed.a;
  }

  /** The token's body, or undefined when it is not one this key sealed (the GCM tag does not verify). */
  private open(token: string): TokenBody | undefined {
    const raw = Buffer.from(token, "base64url");
    if (raw.length <= IV_BYTES + TAG_BYTES || raw.toString("base64url") !== token) return undefined;
    const decipher = createDecipheriv("aes-256-gcm", this.key, raw.subarray(0, IV_BYTES));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    try {
      const body = Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]);
      return JSON.parse(body.toString()) as TokenBody;
    } catch {
      return undefined;
    }
  }
}

/** The page size to use; INVALID_ARGUMENT when negative. */
export function pageSize(requested: number): number {
  if (requested < 0) throw invalidArgument([{ field: "page_size", description: "must not be negative" }]);
  return requested === 0 ? DEFAULT_PAGE_SIZE : Math.min(requested, MAX_PAGE_SIZE);
}
