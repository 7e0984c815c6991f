/**
 * tsx-sources-hooks: a module load hook (see tsx-sources.mjs) that removes the `sourcesContent: [null]` tsx writes
 * into the inline source map of each TypeScript file, so coverage reads the original source from disk.
 */
import { Buffer } from 'node:buffer';
import { URL } from 'node:url';

const MARKER = '//# sourceMappingURL=data:application/json;base64,';

/** load passes every module through, rewriting the inline source map of a transpiled .ts file. */
export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  if (!url.startsWith('file:') || !/\.[cm]?tsx?$/.test(new URL(url).pathname) || result.source == null) return result;
  const source = typeof result.source === 'string' ? result.source : Buffer.from(result.source).toString('utf8');
  const at = source.lastIndexOf(MARKER);
  if (at < 0) return result;
  const encoded = source.slice(at + MARKER.length).trim();
  let map;
  try {
    map = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8'));
  } catch {
    return result;
  }
  if (!Array.isArray(map.sourcesContent) || map.sourcesContent.some((content) => content !== null)) return result;
  delete map.sourcesContent;
  return { ...result, source: `${source.slice(0, at)}${MARKER}${Buffer.from(JSON.stringify(map)).toString('base64')}\n` };
}
