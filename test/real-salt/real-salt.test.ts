/**
 * real-salt: the shipped setup end to end against the oldest real Salt found (story.ts; CI: 3006.10). The others
 * run in real-salt-newer.test.ts, at the same time. Without a Salt it skips with the reason.
 */
import t from 'tap';
import { findSaltSources } from '../support/real-salt.ts';
import { realSaltStory } from './story.ts';

const found = findSaltSources();
const [oldest] = found.sources;
if (oldest === undefined) t.test('real Salt suite', { skip: `no real Salt: ${found.skip ?? 'none found'}` }, () => undefined);
else realSaltStory(oldest);
