/**
 * Every `tsk` command group, in the order `tsk --help` lists them. A new
 * group is one import and one entry here.
 *
 * @module
 */
import type { Command } from "./command.ts";
import { applyCommand } from "./apply.ts";
import { getCommand } from "./get.ts";
import { describeCommand } from "./describe.ts";
import { deleteCommand } from "./delete.ts";
import { scaleCommand } from "./scale.ts";
import { patchCommand } from "./patch.ts";

/** The registered top-level commands. */
export const COMMANDS: readonly Command[] = [
  applyCommand,
  getCommand,
  describeCommand,
  deleteCommand,
  scaleCommand,
  patchCommand,
];
