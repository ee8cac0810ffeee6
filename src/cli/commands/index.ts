// Every command of `policy`, by the words that name it.
import { auditList, testPermissions } from "./audit.js";
import { addBinding, removeBinding } from "./bindings.js";
import { check } from "./check.js";
import { apply, exportCommand } from "./estate.js";
import { consumersCreate, consumersDelete, consumersGet, consumersList } from "./consumers.js";
import type { Command } from "./command.js";
import { whatCan, whoCan } from "./lookups.js";
import { get, list, lookup, remove, set } from "./policies.js";
import * as resources from "./resources.js";
import { syncStatus, watch } from "./watch.js";
import * as roles from "./roles.js";
import * as shared from "./shared.js";

export const COMMANDS: readonly Command[] = [
  set,
  get,
  list,
  remove,
  lookup,
  check,
  whoCan,
  whatCan,
  testPermissions,
  addBinding,
  removeBinding,
  resources.create,
  resources.get,
  resources.list,
  resources.move,
  resources.remove,
  watch,
  syncStatus,
  consumersList,
  consumersGet,
  consumersCreate,
  consumersDelete,
  roles.list,
  roles.get,
  roles.grantable,
  auditList,
  shared.create,
  shared.get,
  shared.update,
  shared.remove,
  shared.list,
  shared.bind,
  shared.unbind,
  shared.bindings,
  exportCommand,
  apply,
];

/** The commands `policy` answers itself, outside the table: `policy help ...`, `policy completion SHELL`. */
export const BUILTINS = ["help", "completion"] as const;

/** Groups of commands, by their words: `resources` alone shows its subcommands, `sync consumers` its own. */
export const GROUPS: Record<string, string> = {
  resources: "register and manage the resources policies attach to",
  sync: "where policies stand with the consumers that apply them",
  "sync consumers": "the registered consumers: list, show, register and remove them",
  roles: "list roles, show one, and what can be granted on a resource",
  audit: "the audit log: every write, who made it and when",
  shared: "shared policies (AIP-2511): create, edit, and bind them to resources",
};

export function findCommand(words: string[]): Command | undefined {
  const name = words.join(" ");
  return COMMANDS.find((c) => c.help.name === name);
}

/** Whether `words` names a command or a group, or begins one. */
export function isCommandPrefix(words: string[]): boolean {
  const name = words.join(" ");
  return COMMANDS.some((c) => c.help.name === name || c.help.name.startsWith(`${name} `));
}
