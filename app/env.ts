// Temporary: log/kafka/KafkaLog.ts still imports ConfigError from here while helper H7 splits it;
// removed once that import points at config/ (the env readers' home now).
export { ConfigError } from '../config/index.js';
