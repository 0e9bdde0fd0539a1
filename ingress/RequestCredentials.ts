import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** The secrets a request presents, in the forms API clients and browsers send them. */
export interface PresentedCredentials {
  /** Authorization: Bearer <secret> */
  bearer?: string;
  /** Authorization: Basic base64(user:password), as Segment's and RudderStack's SDKs send a write key (the key as user). */
  basic?: { user: string; password: string };
  /** X-API-Key: <secret> */
  apiKey?: string;
}

export function presentedCredentials(headers: IncomingHttpHeaders): PresentedCredentials {
  const out: PresentedCredentials = {};
  const authorization = headers.authorization;
  if (authorization) {
    const space = authorization.indexOf(' ');
    const scheme = space > 0 ? authorization.slice(0, space).toLowerCase() : '';
    const value = space > 0 ? authorization.slice(space + 1).trim() : '';
    if (scheme === 'bearer' && value) out.bearer = value;
    if (scheme === 'basic' && value) {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      out.basic = colon < 0 ? { user: decoded, password: '' } : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
  }
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.length > 0) out.apiKey = apiKey.trim();
  return out;
}

/** SHA-256 of a secret: comparing digests takes the same time whatever the presented value shares with the real one. */
export function secretDigest(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** Constant-time equality of a presented secret and the digest of the expected one. */
export function secretMatches(presented: string, expectedDigest: Buffer): boolean {
  return timingSafeEqual(secretDigest(presented), expectedDigest);
}
