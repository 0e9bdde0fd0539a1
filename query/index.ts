export { readQueryListenerConfig, parseUsers, isLoopback, type QueryListenerConfig } from './QueryListenerConfig.js';
export { startQueryListener, type QueryListener, type QueryListenerOptions } from './startQueryListener.js';
export { ClickHouseHttpError } from './ClickHouseErrors.js';
