/**
 * A reconcile finds most instances consistent, and each is a lifecycle input the engine ignores: at fleet size
 * 10,000 a pass. Its debug line is built only when the logger logs debug.
 */
import t from 'tap';
import type { EngineLogger } from '../../../src/engine/ports.ts';
import { startWorld } from '../../support/engine-ports.ts';

/** capturing records the messages of each level; `debugOn` answers isLevelEnabled('debug') (undefined: no such method). */
function capturing(debugOn: boolean | undefined): { logger: EngineLogger; debug: string[] } {
  const debug: string[] = [];
  const logger: EngineLogger = {
    info: () => undefined, warn: () => undefined, error: () => undefined,
    debug: (_obj, msg) => { debug.push(msg); },
    child: () => logger,
    ...(debugOn === undefined ? {} : { isLevelEnabled: (level: string) => level !== 'debug' || debugOn }),
  };
  return { logger, debug };
}

for (const [debugOn, lines] of [[false, 'none'], [true, 'some'], [undefined, 'some']] as const) {
  t.test(`a reconcile's consistent instances: debug ${debugOn ?? 'unknown to the logger'} -> ${lines} 'lifecycle input ignored' lines`, async (t) => {
    const { logger, debug } = capturing(debugOn);
    const w = await startWorld({ reserved: 4, engine: { logger } });
    t.teardown(() => w.engine.stop());
    debug.length = 0;
    await w.engine.reconcile('test');
    const ignored = debug.filter((m) => m === 'lifecycle input ignored').length;
    if (lines === 'none') t.equal(ignored, 0);
    else t.ok(ignored >= 4, `${ignored} lines, one for each of the 4 consistent instances at least`);
  });
}
