import { describe, expect, test } from "vitest";
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageTokens, pageSize } from "../../src/domain/page-token.js";
import { serviceError } from "../helpers/fixtures.js";

const KEY = new TextEncoder().encode("page-token-test-key-0123456789ab");
const OTHER_KEY = new TextEncoder().encode("another-servers-key-0123456789ab");
const FILTER = JSON.stringify(["organizations/acme", "cloud"]);

const tokens = new PageTokens(KEY);

const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** `token` with the character at `index` replaced by a different base64url character. */
function flip(token: string, index: number): string {
  const replacement = BASE64URL[(BASE64URL.indexOf(token[index]) + 1) % BASE64URL.length];
  return token.slice(0, index) + replacement + token.slice(index + 1);
}

function expectRefused(token: string, filter = FILTER): string {
  const error = serviceError(() => tokens.decode(token, filter), "invalid_argument");
  expect(error.violations.map((v) => v.field)).toEqual(["page_token"]);
  return error.violations[0].description;
}

describe("PageTokens", () => {
  test("a token decodes to the key it was issued for", () => {
    const token = tokens.encode(FILTER, "clouds/cld_abc123");
    expect(tokens.decode(token, FILTER)).toBe("clouds/cld_abc123");
  });

  test("an empty token is the first page", () => {
    expect(tokens.decode("", FILTER)).toBeUndefined();
  });

  test("a token is URL-safe and does not show the key in clear text", () => {
    const token = tokens.encode(FILTER, "clouds/cld_abc123");
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(token).not.toContain("cld_abc123");
  });

  test("a token is encrypted: decoded, it shows neither the key it carries nor the filter", () => {
    const token = tokens.encode(FILTER, "clouds/cld_abc123");
    const raw = Buffer.from(token, "base64url").toString("latin1");
    expect(raw).not.toContain("cld_abc123");
    expect(raw).not.toContain("organizations/acme");
  });

  test("a token from another instance with the same key is accepted (stateless)", () => {
    const token = tokens.encode(FILTER, "projects/p");
    expect(new PageTokens(KEY).decode(token, FILTER)).toBe("projects/p");
  });

  test.each([0, 5, 20, -3, -1])("a token with the character at %i flipped is refused", (at) => {
    const token = tokens.encode(FILTER, "clouds/cld_abc123");
    const index = at < 0 ? token.length + at : at;
    expectRefused(flip(token, index));
  });

  test("a truncated token is refused", () => {
    const token = tokens.encode(FILTER, "clouds/cld_abc123");
    expectRefused(token.slice(0, -4));
  });

  test("a token with an extra character is refused", () => {
    expectRefused(`${tokens.encode(FILTER, "clouds/cld_abc123")}A`);
  });

  test.each(["x", "not a token", "AAAA", "%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%"])("garbage %j is refused", (token) => {
    expectRefused(token);
  });

  test("a token issued with another key is refused", () => {
    const foreign = new PageTokens(OTHER_KEY).encode(FILTER, "clouds/cld_abc123");
    expect(expectRefused(foreign)).toContain("not a page token this service issued");
  });

  test("a token used with a changed filter is refused, saying to keep the filters", () => {
    const token = tokens.encode(FILTER, "clouds/cld_abc123");
    const description = expectRefused(token, JSON.stringify(["organizations/other", "cloud"]));
    expect(description).toContain("other filters");
  });
});

describe("pageSize", () => {
  test("0 means the default of 50", () => {
    expect(pageSize(0)).toBe(DEFAULT_PAGE_SIZE);
    expect(DEFAULT_PAGE_SIZE).toBe(50);
  });

  test.each([1, 50, 999, 1000])("%i is used as given", (size) => {
    expect(pageSize(size)).toBe(size);
  });

  test.each([1001, 5000, 2 ** 31 - 1])("%i is capped at 1000", (size) => {
    expect(pageSize(size)).toBe(MAX_PAGE_SIZE);
    expect(MAX_PAGE_SIZE).toBe(1000);
  });

  test("a negative size is refused on page_size", () => {
    const error = serviceError(() => pageSize(-1), "invalid_argument");
    expect(error.violations).toEqual([{ field: "page_size", description: "must not be negative" }]);
  });
});
