export { EmbeddedLog, openEmbeddedLog, type EmbeddedLogOptions } from './EmbeddedLog.js';
export { ProducerFencedError } from './EmbeddedTransactions.js';
export { CommitFencedError } from './EmbeddedGroup.js';
