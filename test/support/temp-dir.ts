import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fresh directory under the OS temp dir, named `streamline-<prefix>-XXXXXX` so a leftover says whose it is. */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `streamline-${prefix}-`));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Temp dirs made during a test, removed together by removeAll() in afterEach. */
export class TempDirs {
  private readonly dirs: string[] = [];

  make(prefix = 'state'): string {
    const dir = tempDir(prefix);
    this.dirs.push(dir);
    return dir;
  }

  removeAll(): void {
    for (const dir of this.dirs.splice(0)) removeDir(dir);
  }
}
