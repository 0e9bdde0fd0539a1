import { createHash, timingSafeEqual } from 'node:crypto';
import { ClickHouseHttpError } from './ClickHouseErrors.js';

/**
 * Who asks, the ways a ClickHouse server accepts it, in its order: HTTP basic auth, the
 * X-ClickHouse-User / X-ClickHouse-Key headers, the user / password URL parameters; none of them
 * means the user `default` without a password.
 */
export interface Credentials {
  user: string;
  password: string;
}

export function credentialsOf(headers: Record<string, string | string[] | undefined>, params: URLSearchParams): Credentials {
  const authorization = header(headers, 'authorization');
  if (authorization && /^basic /i.test(authorization)) {
    const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon < 0 ? { user: decoded, password: '' } : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  const headerUser = header(headers, 'x-clickhouse-user');
  if (headerUser !== undefined) return { user: headerUser, password: header(headers, 'x-clickhouse-key') ?? '' };
  const paramUser = params.get('user');
  if (paramUser !== null) return { user: paramUser, password: params.get('password') ?? '' };
  return { user: 'default', password: header(headers, 'x-clickhouse-key') ?? params.get('password') ?? '' };
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/** Checks the password in constant time; the error is ClickHouse's, naming no reason. */
export function authenticate(credentials: Credentials, users: ReadonlyMap<string, string>): string {
  const expected = users.get(credentials.user);
  // Compare against something even for an unknown user, so the answer's timing says nothing.
  const ok = timingSafeEqual(digest(expected ?? '\u0000unknown'), digest(credentials.password)) && expected !== undefined;
  if (!ok) {
    throw new ClickHouseHttpError(
      516,
      'AUTHENTICATION_FAILED',
      `${credentials.user}: Authentication failed: password is incorrect, or there is no user with such name`,
    );
  }
  return credentials.user;
}
