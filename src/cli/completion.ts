// `policy completion bash|zsh|fish [--schema FILE]`: a completion script made from the command table and the resource
// schema (its types, roles and permissions), so it never lags behind either.
import type { ResourceSchema } from "../schema/schema.js";
import { BUILTINS, COMMANDS, GROUPS } from "./commands/index.js";
import { bashScript } from "./completion/bash.js";
import { fishScript } from "./completion/fish.js";
import { completionModel, SHELLS, type Shell } from "./completion/model.js";
import { zshScript } from "./completion/zsh.js";

export { SHELLS, type Shell };

const BUILTIN_SUMMARIES: Record<(typeof BUILTINS)[number], string> = {
  help: "explain a command: policy help COMMAND",
  completion: "print the shell completion script: bash, zsh or fish",
};

export function completionScript(shell: Shell, schema: ResourceSchema): string {
  const builtins = BUILTINS.map((word) => ({ word, summary: BUILTIN_SUMMARIES[word] }));
  const model = completionModel(COMMANDS, GROUPS, builtins, schema);
  switch (shell) {
    case "bash":
      return bashScript(model);
    case "zsh":
      return zshScript(model);
    case "fish":
      return fishScript(model);
  }
}
