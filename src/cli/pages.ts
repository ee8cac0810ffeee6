// List calls answer in pages; the CLI prints every item, so it follows next_page_token to the end.

/**
 * Every item of a paginated list (or the first `limit`): `fetch` gets one page by its token and answers its items and
 * the next token.
 */
export async function allPages<T>(
  fetch: (pageToken: string) => Promise<[items: T[], nextPageToken: string]>,
  limit = Infinity,
): Promise<T[]> {
  const all: T[] = [];
  let pageToken = "";
  do {
    const [items, next] = await fetch(pageToken);
    all.push(...items);
    pageToken = next;
  } while (pageToken !== "" && all.length < limit);
  return all.slice(0, limit);
}
