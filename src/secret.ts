/**
 * secret: the one constant-time comparison of secrets (bearer tokens, basic-auth credentials).
 *
 * Both sides are hashed (SHA-256) before `timingSafeEqual`, so neither the secret's content nor its length
 * leaks through the comparison time.
 */
import { hash, timingSafeEqual } from 'node:crypto';

/** secretsEqual compares two secrets in time independent of where they differ and of their lengths. */
export function secretsEqual(given: string, expected: string): boolean {
  return secretMatcher(expected)(given);
}

/** secretMatcher is secretsEqual against one expected secret whose digest is computed once (a request hashes only what it brings). */
export function secretMatcher(expected: string): (given: string) => boolean {
  // crypto.hash: the one-shot digest, half the cost of a createHash() object per secret (a webhook request compares one)
  const digest = hash('sha256', expected, 'buffer');
  return (given) => timingSafeEqual(hash('sha256', given, 'buffer'), digest);
}
