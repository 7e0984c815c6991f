/**
 * json-object: the one check that an `unknown` from the wire (a salt-api answer, an event's data, a webhook body, a
 * parsed YAML document) is an object with keys: not null, not an array. A shared module (.dependency-cruiser.cjs):
 * every adapter and the emulator may import it; it imports nothing.
 */

/** isRecord is true for an object that is neither null nor an array, and narrows it to a string-keyed record. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
