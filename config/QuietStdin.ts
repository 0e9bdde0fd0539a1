import fs from 'node:fs';
import tty from 'node:tty';

/**
 * Whether the process's stdin (fd 0) can never hold data: a terminal, or /dev/null.
 *
 * Why it matters: chDB probes stdin for external data whenever an INSERT carries its rows after
 * the statement (INSERT ... FORMAT with the rows as a buffer, chdb-core #239). Data waiting there
 * fails the insert with code 48 ("both inlined and external data"), so the sink uses that cheaper
 * insert only when stdin is quiet (sink/ChdbStore.ts). A pipe, a file or a socket may hold data.
 */
export function stdinIsQuiet(): boolean {
  try {
    if (tty.isatty(0)) return true;
    const stdin = fs.fstatSync(0);
    return stdin.isCharacterDevice() && stdin.rdev === fs.statSync('/dev/null').rdev;
  } catch {
    return false;
  }
}

/**
 * Points fd 0 at /dev/null unless stdin is quiet already; true when it is quiet afterwards. The
 * service reads nothing from stdin, and `npm start` launched with a pipe for stdin (a process
 * manager, a test harness) should get the same insert path as one started from a terminal.
 *
 * Only for the process's entry point, before any thread opens a file: Node has no dup2, so fd 0
 * is closed and /dev/null opened, which POSIX gives the lowest free descriptor. Should another
 * thread take fd 0 in between, this gives up (false) and chDB keeps its stdin-proof insert.
 */
export function detachStdin(): boolean {
  if (stdinIsQuiet()) return true;
  try {
    fs.closeSync(0);
  } catch {
    // Already closed: open() below takes its place.
  }
  const fd = fs.openSync('/dev/null', 'r');
  if (fd !== 0) fs.closeSync(fd);
  return stdinIsQuiet();
}
