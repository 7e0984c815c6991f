/**
 * bearer-auth: checks an `Authorization: Bearer <token>` header against a configured token, in constant time
 * (src/secret.ts).
 */
import { secretsEqual } from '../secret.ts';

/** BearerCheck is the outcome of checking one request's bearer token. */
export type BearerCheck = 'ok' | 'missing' | 'wrong' | 'unconfigured';

/** tokensEqual compares two tokens in constant time. */
export const tokensEqual = secretsEqual;

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
