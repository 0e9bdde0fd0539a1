import path from 'node:path';
import { openEmbeddedLog } from '../../log/embedded/index.js';
import { crashScenario, poisonCrashScenario } from './crashScenario.js';

crashScenario({
  name: 'embedded',
  topic: 'events.raw',
  groupId: 'crash-sink',
  openLog: (dir) => openEmbeddedLog({ dir: path.join(dir, 'log') }),
  childEnv: {},
});

poisonCrashScenario({
  name: 'embedded',
  topic: 'events.clean',
  groupId: 'crash-sink',
  openLog: (dir) => openEmbeddedLog({ dir: path.join(dir, 'log') }),
  childEnv: {},
});
