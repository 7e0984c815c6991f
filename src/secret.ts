/**
 * secret: the one constant-time comparison of secrets (bearer tokens, basic-auth credentials).
 *
 * Both sides are hashed (SHA-256) before `timingSafeEqual`, so neither the secret's content nor its length
 * leaks through the comparison time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** secretsEqual compares two secrets in time independent of where they differ and of their lengths. */
export function secretsEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}
