import fc from 'fast-check';
import t from 'tap';
import { ParsedTimes } from '../../src/alertmanager/webhook-schema.ts';

// a few dozen texts, so a sequence repeats some (remembered) and holds more than a ParsedTimes keeps (16: forgotten)
const textArb = fc.oneof(
  fc.integer({ min: 0, max: 40 }).map((n) => new Date(Date.UTC(2026, 11, 6, 10, n)).toISOString()),
  fc.integer({ min: 0, max: 5 }).map((n) => `2026-12-06T10:0${n}:00+02:00`),
  fc.constantFrom('0001-01-01T00:00:00Z', 'not a time', '', '2026-13-40T99:00:00Z'),
);

t.test('ParsedTimes answers what Date.parse answers, whatever it was asked before', async (t) => {
  const times = new ParsedTimes();
  let repeats = 0;
  let longRuns = 0;
  fc.assert(fc.property(fc.oneof(fc.array(textArb, { minLength: 1, maxLength: 8 }), fc.array(textArb, { minLength: 20, maxLength: 80 })), (texts) => {
    if (new Set(texts).size < texts.length) repeats += 1;
    if (new Set(texts).size > 16) longRuns += 1;
    return texts.every((text) => Object.is(times.ms(text), Date.parse(text)));
  }), { numRuns: 2_000 });
  t.ok(repeats > 800, `sequences that ask a text again: ${repeats}`);
  t.ok(longRuns > 300, `sequences of more texts than it remembers: ${longRuns}`);
});
