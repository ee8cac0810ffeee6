// The text of a YAML syntax error for a person: `line 3, column 1: what is wrong`, then the lines the parser quotes
// with its caret under the spot. The yaml package's own message ends "at line 3, column 1:" and puts the excerpt
// after a blank line, which a one-line error loses.
import { YAMLError } from "yaml";

export function yamlErrorText(error: unknown): string {
  if (!(error instanceof YAMLError)) return (error as Error).message.split("\n")[0]!;
  const [first = "", ...excerpt] = error.message.split("\n");
  const at = /^(.*) at line (\d+), column (\d+):?$/.exec(first);
  const head = at ? `line ${at[2]}, column ${at[3]}: ${at[1]}` : first.replace(/:$/, "");
  const context = excerpt.filter((line) => line.trim() !== "").map((line) => `    ${line}`);
  return [head, ...context].join("\n");
}
