/**
 * Reading configuration from environment variables with validation. Each component declares its
 * own settings with these readers; a bad value stops the start with one clear line naming the
 * variable, the value and what was expected.
 */
import fs from 'node:fs';
import { NamedError } from '../errors/NamedError.js';

export class ConfigError extends NamedError {}

export type Env = Record<string, string | undefined>;

function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

export function readString(env: Env, name: string, fallback: string): string {
  return raw(env, name) ?? fallback;
}

export function readOptionalString(env: Env, name: string): string | undefined {
  return raw(env, name);
}

/** The contents of the file a variable names (certificates, key lists), or undefined when unset; an unreadable file is a ConfigError naming both. */
export function readFileSetting(env: Env, name: string): Buffer | undefined {
  const file = raw(env, name);
  if (file === undefined) return undefined;
  try {
    return fs.readFileSync(file);
  } catch (error) {
    throw new ConfigError(`${name}=${file} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

export function readInteger(env: Env, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!/^-?\d+$/.test(value)) throw new ConfigError(`${name}="${value}" is not an integer`);
  const parsed = Number(value);
  if (parsed < min || parsed > max) throw new ConfigError(`${name}=${value} is out of range [${min}, ${max}]`);
  return parsed;
}

export function readNumber(env: Env, name: string, fallback: number, min = -Infinity, max = Infinity): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed)) throw new ConfigError(`${name}="${value}" is not a number`);
  if (parsed < min || parsed > max) throw new ConfigError(`${name}=${value} is out of range [${min}, ${max}]`);
  return parsed;
}

export function readBoolean(env: Env, name: string, fallback: boolean): boolean {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new ConfigError(`${name}="${value}" is not a boolean (use true or false)`);
}

export function readEnum<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  const match = allowed.find((option) => option.toLowerCase() === value.toLowerCase());
  if (!match) throw new ConfigError(`${name}="${value}" is not one of ${allowed.join(', ')}`);
  return match;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Durations as Go wrote them in the seeds ("10s", "10ms", "5m") or plain milliseconds. */
export function readDurationMs(env: Env, name: string, fallbackMs: number): number {
  const value = raw(env, name);
  if (value === undefined) return fallbackMs;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(value);
  if (!match) throw new ConfigError(`${name}="${value}" is not a duration (e.g. 500ms, 10s, 5m, or milliseconds)`);
  return Math.round(Number(match[1]) * DURATION_UNITS[match[2] ?? 'ms']!);
}

export function readList(env: Env, name: string, fallback: string[]): string[] {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  return value.split(',').map((item) => item.trim()).filter((item) => item.length > 0);
}
