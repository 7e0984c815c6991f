/**
 * real-salt-newer: the story of story.ts against every real Salt found after the oldest (CI: 3007.0), beside
 * real-salt.test.ts, which runs the oldest. It skips with the reason when there is no second Salt.
 */
import t from 'tap';
import { findSaltSources } from '../support/real-salt.ts';
import { realSaltStory } from './story.ts';

const found = findSaltSources();
const [oldest, ...newer] = found.sources;
if (oldest === undefined) t.test('real Salt suite, the newer Salts', { skip: `no real Salt: ${found.skip ?? 'none found'}` }, () => undefined);
else if (newer.length === 0) t.test('real Salt suite, the newer Salts', { skip: `only one Salt found (${oldest.label}): real-salt.test.ts runs it` }, () => undefined);
for (const source of newer) realSaltStory(source);
