import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openEmbeddedLog } from '../../log/embedded/index.js';
import { describeLogContract } from './log-contract.js';

describeLogContract('EmbeddedLog', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'embedded-log-contract-'));
  const log = await openEmbeddedLog({ dir });
  return {
    log,
    async cleanup() {
      await log.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});
