export { LogServer } from './LogServer.js';
export { RemoteLog } from './RemoteLog.js';
export { LogServerGoneError } from './RemoteErrors.js';
