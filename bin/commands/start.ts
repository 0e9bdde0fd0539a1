import type { Command } from './cli-support.js';
import { parseCommand } from './cli-support.js';

/** streamline start: what `npm start` runs (app/main.ts), in this process; Ctrl-C stops it cleanly. */
export const startCommand: Command = async (args, context) => {
  const { env } = parseCommand(args, {}, context, 'streamline start [--data-dir <dir>]');
  if (env.DATA_DIR !== undefined) process.env.DATA_DIR = env.DATA_DIR;
  await import('../../app/main.js');
};
