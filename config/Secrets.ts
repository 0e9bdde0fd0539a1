import { ConfigError } from './EnvReaders.js';

const MIN_SECRET_LENGTH = 16;

/**
 * A secret that travels in an HTTP header (ADMIN_TOKEN, the ingest API keys): visible ASCII, long
 * enough not to be guessed. Here rather than beside the admin listener because the ingress checks
 * its keys the same way.
 */
export function checkSecret(name: string, value: string): string {
  if (!/^[\x21-\x7e]+$/.test(value)) throw new ConfigError(`${name} must be visible ASCII without spaces (it travels in an HTTP header)`);
  if (value.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(`${name} is ${value.length} characters; use at least ${MIN_SECRET_LENGTH} (e.g. openssl rand -hex 24)`);
  }
  return value;
}
