export { readQueryListenerConfig, parseUsers, isLoopback, type QueryListenerConfig } from './QueryListenerConfig.js';
export { createQueryLayer, type QueryLayer, type QueryLayerOptions } from './QueryLayer.js';
export { ClickHouseHttpError } from './ClickHouseErrors.js';
