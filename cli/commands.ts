/**
 * Every `tsk` command group, in the order `tsk --help` lists them. A new
 * group is one import and one entry here.
 *
 * @module
 */
import type { Command } from "./command.ts";
import { imageCommand } from "./image.ts";

/** The registered top-level commands. */
export const COMMANDS: readonly Command[] = [
  imageCommand,
];
