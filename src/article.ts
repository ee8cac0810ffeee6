// "an organization", "a cloud": a resource type's name in a sentence, with the article its first sound takes.

/** `name` after "a" or "an" (by its first letter: type names are plain English words). */
export function withArticle(name: string): string {
  return `${/^[aeiou]/i.test(name) ? "an" : "a"} ${name}`;
}
