// Text for completion scripts: words that go into a script unquoted must be plain (commands, options, type and role
// names, permissions), and descriptions are single-quoted.

const PLAIN = /^[\w./:@+-]+$/;

/** Words joined with spaces, for a word list; a word that is not plain would change the script's meaning. */
export function shellWords(words: readonly string[]): string {
  for (const word of words) {
    if (!PLAIN.test(word)) throw new Error(`cannot complete "${word}": only letters, digits and _ . / : @ + - are`);
  }
  return words.join(" ");
}

/** `text` in single quotes, for sh, bash, zsh and fish alike ('it'\''s'). */
export function singleQuoted(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** A description on one line, without the detail in parentheses: completion menus show one short line. */
export function shortHelp(help: string): string {
  return help.replace(/\s*\([^)]*\)/g, "").replace(/\s+/g, " ").trim();
}
