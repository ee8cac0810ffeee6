// The shape of a CLI command: its help, its options, and what it does.
import type { CommandHelp, OptionSpecs } from "../args.js";
import type { Context } from "../context.js";

export interface Command {
  help: CommandHelp;
  /** The command's own options; the global ones are added to them. */
  options: OptionSpecs;
  /** Names of the positional arguments it takes (e.g. `DIR`), read from `values._`; none when unset. */
  arguments?: readonly string[];
  /** Runs the command; returns the exit status (0 when nothing is returned). */
  run(ctx: Context): Promise<number | void>;
}
