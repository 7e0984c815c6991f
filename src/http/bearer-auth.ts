/**
 * bearer-auth: checks an `Authorization: Bearer <token>` header against a configured token, in constant time.
 *
 * Both sides are hashed (SHA-256) before `timingSafeEqual`, so neither the token's content nor its length
 * leaks through the comparison time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** BearerCheck is the outcome of checking one request's bearer token. */
export type BearerCheck = 'ok' | 'missing' | 'wrong' | 'unconfigured';

/** tokensEqual compares two secrets in time independent of where they differ and of their lengths. */
export function tokensEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/**
 * checkBearer says whether `authorization` carries `expected` as a bearer token. An unset or empty `expected`
 * is `unconfigured` (the caller refuses: an API without a token is closed, never open).
 */
export function checkBearer(authorization: string | undefined, expected: string | undefined): BearerCheck {
  if (expected === undefined || expected === '') return 'unconfigured';
  if (authorization === undefined) return 'missing';
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  if (match === null || match[1] === undefined) return 'missing';
  return tokensEqual(match[1], expected) ? 'ok' : 'wrong';
}
